"""Whether handout PDFs can be made here: a TeX engine and the LaTeX files the handout
frame loads (the exam class and needspace, in Debian's texlive-latex-extra)."""

import shutil
import subprocess

import pytest


def handout_latex_installed():
    if not (shutil.which("pdflatex") and shutil.which("kpsewhich")):
        return False
    found = subprocess.run(["kpsewhich", "exam.cls", "needspace.sty"], capture_output=True, text=True, timeout=60)
    return len(found.stdout.split()) == 2


HANDOUT_PDF = handout_latex_installed()
needs_handout_pdf = pytest.mark.skipif(
    not HANDOUT_PDF, reason="a handout PDF needs pdflatex and the exam class (Debian: texlive-latex-base "
                            "texlive-latex-extra; .ci/run installs them)")
