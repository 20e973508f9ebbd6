"""Outputs of a long run: written as they go, yet seen whole or not at all, and resumable.

* :class:`StreamedFile`: rows go to a private temporary file beside the target (created
  exclusively, mode 0600), which replaces the target in one rename at the end. A reader sees
  the old file or the new one. The target may not be one of the run's inputs, nor anything
  but a regular file (a device or a FIFO would be replaced).
* :class:`Progress`: ``OUTPUT.partial``, one JSON line per finished row, in the order of the
  rows. It is created exclusively and never through a symbolic link (a planted link cannot
  make it overwrite another file). ``--resume`` reads the one a stopped run left, row by row
  beside the input, and keeps what it finds for rows whose content has not changed.
"""

import hashlib
import json
import os
import stat
import tempfile

from derive.errors import DeriveError


def refuse_bad_target(path, inputs=()):
    """An output that is an input, or not a regular file, is refused before any work."""
    for source in inputs:
        try:
            if os.path.exists(path) and os.path.samefile(path, source):
                raise DeriveError(f"the output {path} is one of the inputs; write it somewhere else")
        except OSError:
            continue
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return
    except OSError as error:
        raise DeriveError(f"cannot write {path}: {error.strerror}") from None
    if stat.S_ISLNK(info.st_mode) or not stat.S_ISREG(info.st_mode):
        raise DeriveError(f"{path} exists and is not a regular file; derive replaces only regular files")


class StreamedFile:
    """A text file written row by row, replacing ``path`` whole when committed."""

    def __init__(self, path, inputs=()):
        refuse_bad_target(path, inputs)
        self.path = path
        directory = os.path.dirname(os.path.abspath(path))
        try:
            fd, self.temporary = tempfile.mkstemp(dir=directory, prefix=".derive-", suffix=".tmp")
        except OSError as error:
            raise DeriveError(f"cannot write {path}: {error.strerror}") from None
        self.handle = os.fdopen(fd, "w", encoding="utf-8", newline="")

    def write(self, text):
        try:
            self.handle.write(text)
        except OSError as error:
            self.abort()
            raise DeriveError(f"cannot write {self.path}: {error.strerror}") from None

    def commit(self):
        try:
            self.handle.close()
            os.replace(self.temporary, self.path)
        except OSError as error:
            self.abort()
            raise DeriveError(f"cannot write {self.path}: {error.strerror}") from None

    def abort(self):
        try:
            self.handle.close()
        except OSError:
            pass
        if os.path.exists(self.temporary):
            os.unlink(self.temporary)


def fingerprint(cells):
    return hashlib.sha1("\x1f".join(cells).encode("utf-8", "replace")).hexdigest()[:16]


def _open_exclusive(path):
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags, 0o600)
    except FileExistsError:
        raise DeriveError(f"{path} appeared while derive was starting (another run?); remove it and try again") \
            from None
    except OSError as error:
        raise DeriveError(f"cannot write {path}: {error.strerror}") from None
    return os.fdopen(fd, "w", encoding="utf-8")


def _remove(path):
    try:
        os.unlink(path)  # never follows a link: a planted link is removed, not its target
    except FileNotFoundError:
        pass
    except OSError as error:
        raise DeriveError(f"cannot remove {path}: {error.strerror}") from None


class Progress:
    """``OUTPUT.partial``: what a run has finished, for ``--resume``."""

    def __init__(self, output, fields, resume=False):
        self.path = output + ".partial"
        self.fields = fields
        self.sources = []  # [(file, pending record)], newest first
        older, newer = self.path + ".resumed", self.path + ".resumed-newer"
        if resume:
            _remove(newer)
            if os.path.lexists(self.path):  # renames the name itself, never what a link points to
                os.rename(self.path, newer if os.path.lexists(older) else older)
            for name in (newer, older):  # a resumed run that was stopped left both: newest first
                if os.path.lexists(name):
                    try:
                        fd = os.open(name, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
                        self.sources.append([os.fdopen(fd, encoding="utf-8", errors="replace"), None])
                    except OSError:
                        continue
        else:
            for name in (self.path, older, newer):
                _remove(name)
        self.handle = _open_exclusive(self.path)
        self.resumed = 0

    def _next(self, source, index):
        """The record of ``source`` for row ``index``, or None (reading forward only)."""
        while True:
            if source[1] is None:
                line = source[0].readline()
                if not line:
                    return None
                try:
                    record = json.loads(line)
                    source[1] = (int(record["row"]), record)
                except (ValueError, KeyError, TypeError):
                    continue  # a line cut short by the interruption
            row, record = source[1]
            if row < index:
                source[1] = None
                continue
            if row > index:
                return None
            source[1] = None
            return record

    def lookup(self, index, key):
        """The result the stopped run left for row ``index`` (same content), or None."""
        found = None
        for source in self.sources:
            record = self._next(source, index)
            if found is None and record is not None and record.get("key") == key:
                try:
                    found = {name: record[name] for name in self.fields}
                except KeyError:
                    continue
        if found is not None:
            self.resumed += 1
        return found

    def write(self, index, key, result):
        # one row's line: a result's JSON is made once however many rows share it (rows that
        # share a result share its message object)
        memo = self.__dict__.setdefault("_bodies", {})
        message = result.get("message")
        found = memo.get(id(message))
        if found is None or found[0] is not message or found[1] != result.get("verdict"):
            body = json.dumps({name: result.get(name, "") for name in self.fields}, ensure_ascii=False)[1:]
            if len(memo) > 4096:
                memo.clear()
            found = memo[id(message)] = (message, result.get("verdict"), body)
        body = found[2]
        line = f'{{"row": {index}, "key": "{key}", {body}' if body != "}" else f'{{"row": {index}, "key": "{key}"}}'
        try:
            self.handle.write(line + "\n")
        except OSError as error:
            raise DeriveError(f"cannot write {self.path}: {error.strerror} (the rows finished so far are kept "
                              "there; run again with --resume when there is room)") from None

    def flush(self):
        try:
            self.handle.flush()
        except OSError as error:
            raise DeriveError(f"cannot write {self.path}: {error.strerror}") from None

    def _close_sources(self):
        for source in self.sources:
            source[0].close()
        self.sources = []

    def finish(self):
        """The run is complete: the progress files go."""
        self.handle.close()
        self._close_sources()
        for name in (self.path, self.path + ".resumed", self.path + ".resumed-newer"):
            _remove(name)

    def stop(self):
        """The run stopped: keep what was written."""
        try:
            self.handle.close()
        except OSError:
            pass
        self._close_sources()
