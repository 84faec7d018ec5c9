"""The warning severity: listed by ``validate`` (exit 0) and by ``report`` (which still runs)."""

from __future__ import annotations

from typer.testing import CliRunner

from cartalysis.cli import app
from cartalysis.study.errors import Problem, StudyError, errors_of, warning, warnings_of
from cartalysis.study.load import load_study
from cartalysis.study.validate import validate_study

runner = CliRunner()


def test_a_warning_prints_as_located_line_with_prefix():
    w = warning("sap.toml", 3, "response.blasts_threshold_pct", "0.05 % is below 1 %")
    assert str(w) == "sap.toml:3:response.blasts_threshold_pct: warning: 0.05 % is below 1 %"
    assert w.is_warning and not Problem("a.csv", 2, "x", "bad").is_warning
    assert errors_of([w]) == [] and warnings_of([w]) == [w]


def test_study_error_counts_only_errors():
    e = StudyError([warning("a.csv", 2, "x", "odd"), Problem("a.csv", 3, "x", "bad")])
    assert str(e) == "1 problem(s) in the study data" and len(e.problems) == 2


def test_validate_lists_warnings_and_exits_0(small_study):
    (small_study / "sap.toml").write_text("[response]\nblasts_threshold_pct = 0.05\n", encoding="utf-8")
    problems = validate_study(small_study)
    assert [p.is_warning for p in problems] == [True]
    assert "0.05 % is below 1 %" in problems[0].message
    result = runner.invoke(app, ["validate", str(small_study)])
    assert result.exit_code == 0, result.output
    assert "sap.toml:" in result.output and ": warning: 0.05 % is below 1 %" in result.output
    assert "no errors, 1 warning(s)" in result.output


def test_validate_with_an_error_and_a_warning_exits_1_and_lists_both(small_study):
    (small_study / "sap.toml").write_text("[response]\nblasts_threshold_pct = 0.05\n[time]\nmonth_days = -1\n",
                                          encoding="utf-8")
    result = runner.invoke(app, ["validate", str(small_study)])
    assert result.exit_code == 1
    assert "warning: 0.05 %" in result.output and "time.month_days: -1 days is not a plausible month length" in result.output
    assert "1 problem(s) and 1 warning(s) found" in result.output


def test_validate_sap_option_checks_another_plan(small_study, tmp_path):
    plan = tmp_path / "other.toml"
    plan.write_text("[time]\nmonth_days = -1\n", encoding="utf-8")
    result = runner.invoke(app, ["validate", str(small_study), "--sap", str(plan)])
    assert result.exit_code == 1 and "other.toml:" in result.output and "month_days" in result.output


def test_load_study_keeps_warnings_and_does_not_raise(small_study):
    study = load_study(small_study)
    assert study.warnings == ()


def test_report_runs_with_a_plan_warning_and_prints_it(small_study, tmp_path):
    (small_study / "sap.toml").write_text("[response]\nblasts_threshold_pct = 0.5\n", encoding="utf-8")
    result = runner.invoke(app, ["report", str(small_study), "--out", str(tmp_path / "out"), "--format", "html"])
    assert result.exit_code == 0, result.output
    assert "warning: 0.5 % is below 1 %" in result.output
    assert (tmp_path / "out" / "report.html").exists()


def test_report_lists_plan_errors_with_data_errors(small_study, tmp_path):
    (small_study / "sap.toml").write_text("[time]\nmonth_days = -1\n", encoding="utf-8")
    subjects = small_study / "subjects.csv"
    subjects.write_text(subjects.read_text(encoding="utf-8").replace("P01,S1,female,34,", "P01,S1,female,old,"),
                        encoding="utf-8")
    result = runner.invoke(app, ["report", str(small_study), "--out", str(tmp_path / "out"), "--format", "html"])
    assert result.exit_code == 1
    assert "subjects.csv:2:age:" in result.output and "sap.toml:2:time.month_days: -1 days is not a plausible month length" in result.output
