"""Inputs are read within a size; outputs are written whole or not at all: a reader sees the
old file or the new one.

What a user expects of ``-o FILE``, and nothing more:

* the file is replaced in one step (a private temporary file in the same folder, then a
  rename), so a full disk or an interruption leaves the old file as it was;
* its permissions are those of a new file under the user's umask (``-rw-r--r--`` with
  the usual 022), or those of the file it replaces;
* a symbolic link at that name is replaced by the file, never followed, so a link that
  someone planted in a shared folder cannot aim the write at another file;
* a device, a pipe or a socket is refused (``-o /dev/sda`` run as root would otherwise
  replace the device node), except the terminal or pipe derive is already writing to:
  ``-o /dev/stdout`` writes there;
* a file the command reads is refused as its output (``derive handout set.toml -o
  set.toml``): see :func:`refuse_inputs`.
"""

import os
import stat
import sys
import tempfile

from derive.errors import DeriveError


def read_limited(path, limit, what="file"):
    """The text of a user's file (UTF-8, a byte-order mark allowed), refused in one line when
    it cannot be read, is larger than ``limit`` bytes or is not UTF-8."""
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise DeriveError(f"cannot read {path}: {error.strerror}") from None
    if len(raw) > limit:
        raise DeriveError(f"{path}: the {what} is larger than {limit // 1000} KB")
    try:
        return raw.decode("utf-8-sig")  # a byte-order mark, as some editors write, is fine
    except UnicodeDecodeError:
        raise DeriveError(f"{path}: not UTF-8 text") from None


def read_toml(path, limit):
    """A TOML file's table, read as :func:`read_limited` reads; invalid TOML is one line."""
    import tomllib

    try:
        return tomllib.loads(read_limited(path, limit))
    except tomllib.TOMLDecodeError as error:
        raise DeriveError(f"{path}: not valid TOML ({error})") from None


def write_whole(path, content):
    """Write ``content`` (text, bytes, or a function given a binary file) to ``path`` atomically."""
    path = os.fspath(path)
    existing = _stat(path)
    if existing is not None and not stat.S_ISREG(existing.st_mode):
        if stat.S_ISDIR(existing.st_mode):
            raise DeriveError(f"cannot write {path}: it is a folder")
        stream = _standard_stream(existing)
        if stream is None:
            raise DeriveError(f"cannot write {path}: it is not a regular file but a device, a pipe or a socket; "
                              "write to a file, or leave out -o to print")
        _write(stream, content)
        stream.flush()
        return
    mode = stat.S_IMODE(existing.st_mode) if existing is not None else 0o666 & ~_umask()
    directory = os.path.dirname(os.path.abspath(path))
    try:
        fd, temporary = tempfile.mkstemp(dir=directory, prefix=".derive-", suffix=".tmp")
    except OSError as error:
        raise DeriveError(f"cannot write {path}: {error.strerror}") from None
    try:
        with os.fdopen(fd, "wb") as handle:
            _write(handle, content)
            os.fchmod(handle.fileno(), mode)
        os.replace(temporary, path)
    except OSError as error:
        _remove(temporary)
        raise DeriveError(f"cannot write {path}: {error.strerror}") from None
    except BaseException:
        _remove(temporary)
        raise


def refuse_inputs(outputs, inputs):
    """Refuse an output that is one of the command's inputs.

    ``outputs`` are paths; ``inputs`` are ``(what, path)`` pairs, ``what`` saying in the
    message what the file is ("the problem set")."""
    for output in outputs:
        for what, path in inputs:
            if path is not None and same_file(output, path):
                raise DeriveError(f"the output {output} is {what} itself; write the output to another file")


def same_file(a, b):
    """Whether two paths name one file (through links, hard links and ``..``)."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.realpath(a) == os.path.realpath(b)


def _write(handle, content):
    if callable(content):
        content(handle)
    else:
        handle.write(content.encode("utf-8") if isinstance(content, str) else content)


def _stat(path):
    """The file at ``path``, following links (None if nothing is there)."""
    try:
        return os.stat(path)
    except FileNotFoundError:
        return None
    except OSError as error:
        raise DeriveError(f"cannot write {path}: {error.strerror}") from None


def _standard_stream(target):
    """Standard output or error (binary), if ``target`` is the very file it writes to."""
    for stream in (sys.stdout, sys.stderr):
        try:
            mine = os.fstat(stream.fileno())
        except (AttributeError, OSError, ValueError):
            continue
        if (mine.st_dev, mine.st_ino) == (target.st_dev, target.st_ino):
            stream.flush()
            return getattr(stream, "buffer", None)
    return None


def _umask():
    """The process's umask, read without changing it where Linux says it (else set back at once)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _remove(path):
    if os.path.exists(path):
        os.unlink(path)
