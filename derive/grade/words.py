"""The words of ``derive check``, from ``templates/check.j2`` (loaded as derive.render.formats loads
its templates): the one-sentence explanation of each mistake code and the verdict messages."""

import functools
import re

from derive.render.formats import _environment, templates_dir


@functools.lru_cache(maxsize=None)
def _module():
    env = _environment(False, str(templates_dir()))
    return env.get_template("check.j2").module


def _one_line(text):
    return re.sub(r"\s+", " ", str(text)).strip()


def _tolerance_text(tolerance):
    return f"{tolerance:.0e}" if tolerance is not None and tolerance < 1e-3 else f"{(tolerance or 0) * 100:g}%"


def explanation(code):
    """One sentence saying what a mistake code means."""
    return _one_line(_module().explanation(code))


def message(result, tolerance=None):
    """The one-line message of a verdict (what ``--format json`` and the batch show)."""
    return _one_line(_module().message(result, _tolerance_text(tolerance)))


def report(result, tolerance=None):
    """The few lines ``derive check`` prints on a terminal."""
    text = str(_module().report(result, _tolerance_text(tolerance)))
    return "\n".join(line.rstrip() for line in text.strip("\n").splitlines()) + "\n"
