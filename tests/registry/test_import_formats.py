"""Imports through the study importers (SDTM here) and the command line's exit codes."""

from __future__ import annotations

from registry_builders import populate
from typer.testing import CliRunner

from cartalysis.registry import access as a
from cartalysis.registry import ingest
from cartalysis.registry.demo import split_by_site
from cartalysis.study.load import load_study


def test_sdtm_import_holds_the_same_rows_as_the_study_import(db, small_study, tmp_path):
    from cartalysis.study.importers.sdtm_export import export_sdtm

    admin = a.bootstrap_admin("root")
    a.create_site(admin, "S1")
    dm = a.create_user(admin, "dm1", "site_data_manager", "S1")
    folder = split_by_site(small_study, tmp_path / "sites")["S1"]
    export_sdtm(load_study(folder), tmp_path / "sdtm")
    first = ingest.import_study(dm, "S1", [tmp_path / "sdtm" / "xpt"], fmt="sdtm")
    assert first.patients == 3 and first.inserted > 0
    again = ingest.import_study(dm, "S1", [folder])
    assert (again.inserted, again.deleted) == (0, 0), again


def test_cli(db, small_study, tmp_path, monkeypatch):
    from cartalysis.cli import app, _register_stats

    _register_stats()
    folders = populate(small_study, tmp_path)
    runner = CliRunner()
    monkeypatch.setenv("CARTALYSIS_USER", "dm1")
    r = runner.invoke(app, ["registry", "import", "--site", "S1", str(folders["S1"])])
    assert r.exit_code == 0 and "inserted 0, updated 0, deleted 0" in r.output, r.output
    (folders["S1"] / "subjects.csv").write_text((folders["S1"] / "subjects.csv").read_text().replace(",34,", ",x,"))
    r = runner.invoke(app, ["registry", "import", "--site", "S1", str(folders["S1"])])
    assert r.exit_code == 1 and "subjects.csv:2:age:" in r.output and "Traceback" not in r.output
    r = runner.invoke(app, ["registry", "import", "--site", "S2", str(folders["S2"])])
    assert r.exit_code == 2 and "permission denied" in r.output
    r = runner.invoke(app, ["registry", "--user", "aud", "audit", "--patient", "P01", "--since", "2000-01-01"])
    assert r.exit_code == 0 and "\tinsert\tsubjects:P01:[]" in r.output and "P03" not in r.output
    r = runner.invoke(app, ["registry", "--user", "aud", "audit", "--since", "not-a-date"])
    assert r.exit_code == 2
    r = runner.invoke(app, ["registry", "--user", "coord", "lock", "--name", "v1"])
    assert r.exit_code == 0 and "SHA-256" in r.output
    r = runner.invoke(app, ["registry", "--user", "coord", "query", "raise", "--patient", "P03", "--text", "sex?"])
    assert r.exit_code == 0
    r = runner.invoke(app, ["registry", "--user", "view1", "query", "list"])
    assert r.exit_code == 0 and "P03" not in r.output
    r = runner.invoke(app, ["registry", "--user", "nobody", "patients"])
    assert r.exit_code == 2
