"""A bug must not show the user a traceback: one line, exit status 3 (CARTALYSIS_DEBUG=1 re-raises)."""

from __future__ import annotations

import pytest

from cartalysis import cli


def _boom(*args, **kwargs):
    raise RuntimeError("simulated bug")


def test_internal_error_is_one_line_exit_3(monkeypatch, capsys):
    monkeypatch.setattr(cli, "app", _boom)
    monkeypatch.setattr(cli, "_register_stats", lambda: None)
    monkeypatch.delenv("CARTALYSIS_DEBUG", raising=False)
    with pytest.raises(SystemExit) as exc:
        cli.main()
    assert exc.value.code == 3
    err = capsys.readouterr().err
    assert "internal error (RuntimeError: simulated bug)" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_debug_shows_the_traceback(monkeypatch):
    monkeypatch.setattr(cli, "app", _boom)
    monkeypatch.setattr(cli, "_register_stats", lambda: None)
    monkeypatch.setenv("CARTALYSIS_DEBUG", "1")
    with pytest.raises(RuntimeError, match="simulated bug"):
        cli.main()
