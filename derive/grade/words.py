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


def explanation(code):
    """One sentence saying what a mistake code means."""
    return _one_line(_module().explanation(code))


def policy(name):
    """What a decimals policy means, in one line."""
    return _one_line(_module().policy(name))


def message(result):
    """The one-line message of a verdict (what ``--format json`` and the batch show)."""
    return _one_line(_module().message(result))


def report(result):
    """The few lines ``derive check`` prints on a terminal."""
    text = str(_module().report(result))
    return "\n".join(line.rstrip() for line in text.strip("\n").splitlines() if line.strip()) + "\n"


def working_message(result, reason=""):
    """The one-line message on a student's working."""
    return _one_line(_module().working_message(result, reason))


def working_report(result):
    """The lines ``derive check --working`` prints."""
    text = str(_module().working_report(result))
    return "\n".join(line.rstrip() for line in text.strip("\n").splitlines() if line.strip()) + "\n"
