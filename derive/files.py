"""Outputs are written whole or not at all: a reader sees the old file or the new one."""

import os
import tempfile

from derive.errors import DeriveError


def write_whole(path, content):
    """Write ``content`` (text, bytes, or a function given a binary file) to ``path`` atomically."""
    directory = os.path.dirname(os.path.abspath(path))
    try:
        fd, temporary = tempfile.mkstemp(dir=directory, prefix=".derive-", suffix=".tmp")
    except OSError as error:
        raise DeriveError(f"cannot write {path}: {error.strerror}") from None
    try:
        with os.fdopen(fd, "wb") as handle:
            if callable(content):
                content(handle)
            else:
                handle.write(content.encode("utf-8") if isinstance(content, str) else content)
        os.replace(temporary, path)
    except OSError as error:
        _remove(temporary)
        raise DeriveError(f"cannot write {path}: {error.strerror}") from None
    except BaseException:
        _remove(temporary)
        raise


def _remove(path):
    if os.path.exists(path):
        os.unlink(path)
