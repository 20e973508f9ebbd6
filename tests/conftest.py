"""Fixtures shared by several test files."""

import pytest


@pytest.fixture
def failing_gradient_check(monkeypatch):
    """Make the descent's gradient check report a failure (its first row), as a wrong
    gradient would: what is built on it must refuse to go on."""
    import derive.descend.run as engine  # where descend() looks it up

    original = engine.check_gradient

    def broken(*args, **kwargs):
        check = original(*args, **kwargs)
        check.rows[0]["passed"] = False
        return check

    monkeypatch.setattr(engine, "check_gradient", broken)


# -- which tests compile through derive's TeX engine ---------------------------------------------
# .ci/run runs the suite once with the default engine (latexmk where installed), then runs
# again, with DERIVE_TEX_ENGINE=pdflatex, every test that compiled: it names a file in
# DERIVE_TEX_TESTS, and the tests that called derive.tex are listed there.
_compiled = []


@pytest.fixture(autouse=True)
def _note_tex_compiles(request, monkeypatch):
    import os

    if not os.environ.get("DERIVE_TEX_TESTS"):
        yield
        return
    from derive import tex

    original = tex.compile_to_bytes

    def noted(*args, **kwargs):
        if request.node.nodeid not in _compiled:
            _compiled.append(request.node.nodeid)
        return original(*args, **kwargs)

    monkeypatch.setattr(tex, "compile_to_bytes", noted)
    yield


def pytest_sessionfinish(session, exitstatus):
    import os

    path = os.environ.get("DERIVE_TEX_TESTS")
    if path:
        with open(path, "w", encoding="utf-8") as listing:
            listing.write("".join(f"{nodeid}\n" for nodeid in _compiled))
