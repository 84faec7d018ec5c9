"""`cartalysis twin`: list, write, and usage errors with exit status 2 and no traceback."""

from __future__ import annotations

from typer.testing import CliRunner

from cartalysis.cli import app
from cartalysis.study.spec import TABLES

runner = CliRunner()


def test_list_names_every_twin_with_its_title():
    r = runner.invoke(app, ["twin", "--list"])
    assert r.exit_code == 0
    names = [line.split()[0] for line in r.output.splitlines()]
    assert names == ["pivotal", "post_hsct_rwd", "rocca_registry", "cr1_trial"]


def test_writes_every_table_and_the_plan_when_it_differs(tmp_path):
    r = runner.invoke(app, ["twin", "rocca_registry", "--out", str(tmp_path / "s"), "--seed", "3"])
    assert r.exit_code == 0, r.output
    assert {p.name for p in (tmp_path / "s").iterdir()} == {f"{t.name}.csv" for t in TABLES} | {"sap.toml"}
    # rewriting the folder as another twin replaces the plan with that twin's own
    r = runner.invoke(app, ["twin", "pivotal", "--out", str(tmp_path / "s")])
    assert r.exit_code == 0
    assert '[study]\nname = "pivotal"' in (tmp_path / "s" / "sap.toml").read_text()


def test_usage_errors_exit_2(tmp_path):
    (tmp_path / "file").write_text("x")
    for args in (["twin", "nope", "--out", str(tmp_path / "a")],
                 ["twin", "pivotal"],
                 ["twin", "pivotal", "--out", str(tmp_path / "b"), "--seed", "-1"],
                 ["twin", "pivotal", "--out", str(tmp_path / "file")]):
        r = runner.invoke(app, args)
        assert r.exit_code == 2, (args, r.output)
        assert r.exception is None or isinstance(r.exception, SystemExit)
