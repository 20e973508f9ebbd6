"""LaTeX to PDF with the TeX engine locked in a job folder of its own.

Everything derive writes into LaTeX is escaped (``derive.render.printing.latex_escape``);
this is the wall behind that, for TeX that comes from elsewhere (a template folder
shared by a colleague):

* no shell escape (``-no-shell-escape``, and ``shell_escape=f`` for kpathsea);
* reading and writing confined to the job folder and the TeX installation
  (``openin_any=p``, ``openout_any=p``: no absolute paths outside the installation, no
  ``..``, no dot files), with no ``%&`` first line choosing options;
* kpathsea still expands ``~user`` and ``$VARIABLE`` in file names before that check,
  so every file the engine opened is read back from its recorder file (``-recorder``,
  every pass) and a run that opened anything outside the job folder and the TeX trees
  is refused: no PDF, and no line of its log, leaves the job folder;
* the engine runs in a session of its own, and the whole process group (latexmk,
  ``sh -c``, pdflatex) is killed when it takes too long or derive stops.

``DERIVE_TEX_ENGINE=pdflatex`` (or ``latexmk``) chooses the engine; by default latexmk
when it is installed, else pdflatex.
"""

import functools
import os
import re
import shlex
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from derive.errors import DeriveError
from derive.files import write_whole

ENGINE_VARIABLE = "DERIVE_TEX_ENGINE"
ENGINES = ("latexmk", "pdflatex")
TEX_SECONDS = 120
MAX_PASSES = 4  # pdflatex alone: run again while the log asks for it (page x of y, references)
JOB = "handout"
LOCKDOWN = {
    "openin_any": "p", "openout_any": "p", "shell_escape": "f", "shell_escape_commands": "",
    # whole lines in the log, so an error and the files opened can be read back from it
    "max_print_line": "10000", "error_line": "254", "half_error_line": "238",
}
PDFLATEX_OPTIONS = ["-no-shell-escape", "-no-parse-first-line", "-recorder", "-interaction=nonstopmode",
                    "-halt-on-error"]
_RERUN = re.compile(r"Rerun to get|Label\(s\) may have changed|rerunfilecheck Warning: File .* has changed")


def engine():
    """The engine that turns .tex into .pdf: ``latexmk`` or ``pdflatex`` (see the module)."""
    wanted = os.environ.get(ENGINE_VARIABLE, "").strip()
    if wanted:
        if wanted not in ENGINES:
            raise DeriveError(f"{ENGINE_VARIABLE} is '{wanted}'; use latexmk or pdflatex, or leave it unset")
        if not shutil.which(wanted) or not shutil.which("pdflatex"):
            raise DeriveError(f"{ENGINE_VARIABLE} asks for {wanted}, which is not installed; on Debian or "
                              f"Ubuntu: apt-get install {'latexmk' if wanted == 'latexmk' else 'texlive-latex-base'}")
        return wanted
    if shutil.which("latexmk") and shutil.which("pdflatex"):
        return "latexmk"
    if shutil.which("pdflatex"):
        return "pdflatex"
    raise DeriveError("no TeX engine found (latexmk or pdflatex) to make a PDF; on Debian or Ubuntu "
                      "install it with: apt-get install texlive-latex-base (and latexmk), "
                      "or write .tex and compile it elsewhere")


def _command(name, record):
    """The engine's command line; ``record`` is where latexmk's passes each add what they opened."""
    if name == "pdflatex":
        return ["pdflatex", *PDFLATEX_OPTIONS, f"{JOB}.tex"]
    # latexmk: no rc files (a latexmkrc in the job folder included), no BibTeX (it would
    # read .bib files the document names), the same options for every pdflatex pass, and
    # each pass's recorder file kept, outside the job folder where TeX cannot write.
    one_pass = f"pdflatex %O %S; status=$?; cat {JOB}.fls >> {shlex.quote(str(record))} 2>/dev/null; exit $status"
    return ["latexmk", "-pdf", "-norc", "-bibtex-", "-recorder", "-interaction=nonstopmode", "-halt-on-error",
            "-silent", "-latexoption=-no-shell-escape", "-latexoption=-no-parse-first-line",
            f"-pdflatex={one_pass}", f"{JOB}.tex"]


def _environment():
    """The engine's environment: the caller's, with the lockdown on top."""
    env = dict(os.environ)
    for name in ("TEXMFOUTPUT", "TEXMF_OUTPUT_DIRECTORY"):  # would widen what openin_any=p allows
        env.pop(name, None)
    env.update(LOCKDOWN)
    return env


@functools.lru_cache(maxsize=1)
def tex_trees():
    """The folders the TeX installation reads from (its trees, configuration, TEXINPUTS)."""
    try:
        shown = subprocess.run(["kpsewhich", "-expand-braces=$TEXMF", "-show-path=cnf", "-show-path=tex",
                                "-show-path=tfm", "-show-path=type1 fonts", "-show-path=map"],
                               capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL).stdout
    except (OSError, subprocess.SubprocessError):
        shown = ""
    trees = set()
    for line in shown.splitlines():
        for entry in line.split(os.pathsep):
            entry = entry.strip().lstrip("!").rstrip("/")
            if entry.startswith("/") and entry not in ("", "/"):
                trees.add(os.path.normpath(entry))
    return tuple(sorted(trees))


def outside_files(record, folder):
    """Every file a recorder file (``.fls``) lists outside ``folder`` and the TeX trees
    (None when there is no such file)."""
    try:
        text = Path(record).read_bytes()
    except OSError:
        return None
    if b"\0" in text:
        return ["a file over its own record of the files it opened"]
    homes = {os.path.normpath(str(folder)), os.path.normpath(os.path.realpath(folder))}
    allowed = tuple(homes) + tex_trees()
    outside, pwd = [], str(folder)
    for line in text.decode("utf-8", "replace").splitlines():
        kind, _, name = line.partition(" ")
        if kind == "PWD":
            pwd = name
            continue
        if kind not in ("INPUT", "OUTPUT") or not name:
            continue
        path = os.path.normpath(name if os.path.isabs(name) else os.path.join(pwd, name))
        if not any(path == root or path.startswith(root + os.sep) for root in allowed):
            outside.append(path)
    return list(dict.fromkeys(outside))


def compile_pdfs(jobs, *, seconds=TEX_SECONDS):
    """Compile each ``(tex, target)`` into its PDF, the engines running side by side (the
    answer key and the student version of ``--both`` take the time of one).

    All or nothing: the PDFs are written only when every one compiled, so a LaTeX error
    in one version never leaves the other behind, mismatched."""
    pdfs = compile_to_bytes([tex for tex, _ in jobs], seconds=seconds)
    for (_, target), pdf in zip(jobs, pdfs):
        write_whole(target, pdf)


def compile_to_bytes(sources, *, seconds=TEX_SECONDS, logs=None):
    """Each LaTeX source compiled, locked down (see the module): the PDFs' bytes, in order.

    ``logs``, a list, receives each job's TeX log (of its last pass), for a caller who
    wants to read what the engine did."""
    name = engine()
    deadline = time.monotonic() + seconds
    with tempfile.TemporaryDirectory(prefix="derive-tex-") as work:
        jobs = []
        for k, tex in enumerate(sources):
            folder = Path(work) / str(k)
            folder.mkdir()
            (folder / f"{JOB}.tex").write_text(tex, encoding="utf-8")
            record = folder / f"{JOB}.fls" if name == "pdflatex" else Path(work) / f"reads-{k}.fls"
            jobs.append(_Job(folder, tex, _command(name, record), record))
        try:
            pending = list(jobs)
            for _ in range(MAX_PASSES if name == "pdflatex" else 1):
                for job in pending:
                    job.start()
                for job in pending:
                    job.finish(deadline, seconds)
                pending = [job for job in pending if job.wants_another_pass()]
                if not pending:
                    break
            pdfs = [job.pdf() for job in jobs]
            if logs is not None:
                logs.extend(job.tex_log() for job in jobs)
            return pdfs
        finally:
            for job in jobs:
                job.stop()


class _Job:
    """One document in its own folder, and the engine's process group working on it."""

    def __init__(self, folder, tex, command, record):
        self.folder, self.tex, self.command, self.record = folder, tex, command, record
        self.process = self.log = None

    def start(self):
        if self.log is not None:
            self.log.close()
        # The engine's messages go to a file, so a long log can never fill a pipe and stall it.
        self.log = open(self.folder / "engine.log", "w+", encoding="utf-8", errors="replace")
        self.process = subprocess.Popen(self.command, cwd=self.folder, env=_environment(), stdout=self.log,
                                        stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                        start_new_session=True)

    def finish(self, deadline, seconds):
        try:
            code = self.process.wait(timeout=max(deadline - time.monotonic(), 0.01))
        except subprocess.TimeoutExpired:
            self.stop()
            raise DeriveError(f"the TeX engine took longer than {seconds:g} s; no PDF was written") from None
        # Nothing of a run that opened files outside its folder leaves it, not even its errors.
        outside = outside_files(self.record, self.folder)
        if outside:
            raise DeriveError(f"the TeX engine opened {outside[0]}, outside its job folder (a template asked "
                              "for it?); TeX may only read its own installation and the job; no PDF was written")
        if code != 0:
            raise DeriveError(f"LaTeX failed, no PDF was written: {tex_error(self._messages(), self.tex)}")
        if outside is None:
            raise DeriveError("the TeX engine kept no record of the files it opened (-recorder); no PDF was written")
        if self.command[0] == "pdflatex" and self.record.is_file():
            self.record.rename(self.folder / f"{JOB}-pass.fls")  # each pass checked on its own

    def wants_another_pass(self):
        try:
            log = (self.folder / f"{JOB}.log").read_text(encoding="utf-8", errors="replace")
        except OSError:
            return False
        return bool(_RERUN.search(log))

    def _messages(self):
        """The TeX log (latexmk keeps pdflatex's terminal quiet), else what the engine printed."""
        for path in (self.folder / f"{JOB}.log", self.folder / "engine.log"):
            try:
                text = path.read_text(encoding="utf-8", errors="replace")
            except OSError:
                continue
            if any(line.startswith("!") for line in text.splitlines()):
                return text
        self.log.seek(0)
        return self.log.read()

    def tex_log(self):
        try:
            return (self.folder / f"{JOB}.log").read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""

    def pdf(self):
        pdf = self.folder / f"{JOB}.pdf"
        if not pdf.is_file():
            raise DeriveError("the TeX engine wrote no PDF")
        return pdf.read_bytes()

    def stop(self):
        """End the engine's whole process group (latexmk, its shell, pdflatex), if still there."""
        if self.process is not None and self.process.returncode is None:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)  # the leader is not reaped yet: its group is ours
            except (ProcessLookupError, PermissionError):
                pass
            self.process.wait()
        if self.log is not None:
            self.log.close()
            self.log = None


def tex_error(log, tex):
    """The one line that matters from a TeX log: the error and the offending source line."""
    lines = log.splitlines()
    message, number = "unknown error", None
    for k, line in enumerate(lines):
        if line.startswith("!"):
            message = line[1:].strip()
            for later in lines[k:k + 12]:
                if later.startswith("l.") and later[2:].split(" ", 1)[0].isdigit():
                    number = int(later[2:].split(" ", 1)[0])
                    break
            break
    if number is not None:
        source = tex.splitlines()[number - 1] if number <= len(tex.splitlines()) else ""
        return f"{message} at line {number} of the .tex: {source.strip()[:160]}"
    return message
