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
