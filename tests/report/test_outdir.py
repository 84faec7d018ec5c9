"""``--out`` safety: no symbolic links, never inside the study, temporary folder moved into place, manifest,
``--force``, stale files removed. Each case checks that the inputs and any previous report are intact."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cartalysis.cli import app
from cartalysis.report import render
from cartalysis.report.build import build_report
from cartalysis.report.outdir import MANIFEST
from cartalysis.study.errors import UsageError

runner = CliRunner()


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _report(study, out, **kw):
    return build_report(study, out, formats=("html", "rtf"), **kw)


@pytest.fixture
def first(small_study, tmp_path):
    """A first report in OUT, and snapshots of the study and that report."""
    out = tmp_path / "out"
    _report(small_study, out)
    return out, _snapshot(small_study), _snapshot(out)


def test_manifest_lists_every_file_with_its_checksum(first):
    out, _, files = first
    manifest = json.loads((out / MANIFEST).read_text("utf-8"))
    listed = {f["path"] for f in manifest["files"]}
    assert listed == set(files) - {MANIFEST}
    assert {"report.html", "results.json"} <= listed and any(p.startswith("derived/") for p in listed)
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".out.")]  # no temporary folder left


def test_rerun_replaces_and_removes_stale_files(first, small_study):
    out, study, _ = first
    (out / "tables" / "t99_stale.csv").write_text("old,run\n", encoding="utf-8")
    (out / "figures" / "old.png").write_bytes(b"png")
    mine = out / "notes.txt"  # not the report's: kept
    mine.write_text("my notes", encoding="utf-8")
    _report(small_study, out)
    assert not (out / "tables" / "t99_stale.csv").exists() and not (out / "figures" / "old.png").exists()
    assert mine.read_text("utf-8") == "my notes"
    assert _snapshot(small_study) == study


def test_crash_midway_leaves_previous_report_intact(first, small_study, monkeypatch):
    out, study, previous = first
    calls = []

    def boom(table, path):
        calls.append(path)
        if len(calls) == 3:
            raise RuntimeError("disk full (injected)")
        return real(table, path)

    real = render.write_rtf
    monkeypatch.setattr(render, "write_rtf", boom)
    with pytest.raises(RuntimeError, match="injected"):
        _report(small_study, out)
    assert len(calls) == 3
    assert _snapshot(out) == previous and _snapshot(small_study) == study
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".out.")]


def test_symlinked_out_is_refused(small_study, tmp_path):
    study = _snapshot(small_study)
    link = tmp_path / "out"
    link.symlink_to(small_study, target_is_directory=True)
    with pytest.raises(UsageError, match="symbolic link"):
        _report(small_study, link)
    assert _snapshot(small_study) == study
    result = runner.invoke(app, ["report", str(small_study), "--out", str(link)])
    assert result.exit_code == 2 and "symbolic link" in result.output


def test_symlink_planted_in_a_previous_report_is_not_followed(first, small_study):
    out, study, _ = first
    (out / "report.html").unlink()
    (out / "report.html").symlink_to(small_study / "subjects.csv")
    (out / "tables").rename(out / "tables-moved")
    (out / "tables").symlink_to(small_study, target_is_directory=True)
    _report(small_study, out)
    assert _snapshot(small_study) == study
    assert not (out / "report.html").is_symlink() and not (out / "tables").is_symlink()
    assert (out / "report.html").read_text("utf-8").startswith("<!DOCTYPE html>")


@pytest.mark.parametrize("where", [".", "reports/today"])
def test_out_inside_the_study_is_refused(small_study, where):
    study = _snapshot(small_study)
    with pytest.raises(UsageError, match="inside the study folder"):
        _report(small_study, small_study / where)
    assert _snapshot(small_study) == study and not (small_study / "reports").exists()


def test_non_empty_foreign_folder_needs_force(small_study, tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "thesis.docx").write_bytes(b"precious")
    (out / "results.json").write_text("{\"mine\": true}", encoding="utf-8")
    with pytest.raises(UsageError, match="--force"):
        _report(small_study, out)
    assert _snapshot(out) == {"results.json": b"{\"mine\": true}", "thesis.docx": b"precious"}
    result = runner.invoke(app, ["report", str(small_study), "--out", str(out), "--format", "html"])
    assert result.exit_code == 2 and "--force" in result.output
    _report(small_study, out, force=True)
    assert (out / "thesis.docx").read_bytes() == b"precious"  # not the report's: untouched
    assert json.loads((out / "results.json").read_text("utf-8")) != {"mine": True}
    assert (out / MANIFEST).exists()


def test_empty_existing_folder_is_used(small_study, tmp_path):
    out = tmp_path / "empty"
    out.mkdir()
    _report(small_study, out)
    assert (out / "report.html").exists()


def test_study_errors_leave_no_trace(small_study, tmp_path):
    (small_study / "sap.toml").write_text("[time]\nmonth_days = 7\n", encoding="utf-8")
    result = runner.invoke(app, ["report", str(small_study), "--out", str(tmp_path / "out")])
    assert result.exit_code == 1
    assert sorted(os.listdir(tmp_path)) == ["small"]
