"""Every bad ``sap.toml`` gives a located message from ``validate`` and from ``report``: exit 1, no internal error."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from cartalysis.cli import app
from cartalysis.study.plan import check_plan
from cartalysis.study.plan_checks import key_lines

runner = CliRunner()

# (plan bytes, expected located line, severity) — each one root cause, one line
BAD_PLANS = {
    "nan": (b"[toxicity]\nfever_c = nan\n", "sap.toml:2:toxicity.fever_c: nan is not a number a plan can use"),
    "inf in a list": (b"[efficacy]\nlandmarks_months = [6, inf]\n",
                      "sap.toml:2:efficacy.landmarks_months: inf is not a number"),
    "fahrenheit": (b"# fever in F\n[toxicity]\nfever_c = 100.4\n",
                   "sap.toml:3:toxicity.fever_c: 100.4 \u00b0C is not a plausible fever threshold: expected from 37 "
                   "\u00b0C to 42 \u00b0C; 100.4 looks like \u00b0F (100.4 \u00b0F = 38.0 \u00b0C)"),
    "wrong type": (b"[response]\nanc_min = \"one\"\n", "sap.toml:2:response.anc_min: expected a number, got 'one'"),
    "bool as number": (b"[time]\n\naval_add_one = 1\n", "sap.toml:3:time.aval_add_one: expected true or false, got 1"),
    "cp1252": (b"[study]\ntitle = \"\xc9tude\"\n", "sap.toml:2:: not UTF-8 text: byte 0xC9 at column 10"),
    "deep nesting": (b"[response]\nmrd_visits = [[[\"day28\"]]]\n", "sap.toml:2:response.mrd_visits: nested too deeply"),
    "parser recursion": (b"a = " + b"[" * 5000 + b"]" * 5000 + b"\n", "sap.toml::: nested too deeply to read"),
    "unknown key": (b"[response]\nblast_threshold = 5\n", "sap.toml:2:response.blast_threshold: unknown key"),
    "unknown section": (b"[time]\nmonth_days = 30\n[foo]\nx = 1\n", "sap.toml:3:foo: unknown section [foo]"),
    "month length": (b"[time]\nmonth_days = 7\n",
                     "sap.toml:2:time.month_days: 7 days is not a plausible month length: expected from 28 days to 31"),
    "TOML syntax": (b"[time]\nmonth_days = = 3\n", "sap.toml:2:: not valid TOML"),
    "cutoff not a date": (b"[study]\ndata_cutoff = \"30/06/2023\"\n",
                          "sap.toml:2:study.data_cutoff: expected a date such as 2023-06-30"),
    "cells per microlitre": (b"[response]\nanc_min = 1000\n", "1000 looks like cells/\u00b5L: in 10\u2079/L write 1"),
    "section not a table": (b"response = 5\n", "sap.toml:1:response: [response] must be a table"),
}


@pytest.mark.parametrize("data,expected", BAD_PLANS.values(), ids=BAD_PLANS.keys())
def test_bad_plan_is_located_by_validate_and_report(small_study, tmp_path, data, expected):
    (small_study / "sap.toml").write_bytes(data)
    before = (small_study / "sap.toml").read_bytes()
    for args in (["validate", str(small_study)],
                 ["report", str(small_study), "--out", str(tmp_path / "out"), "--format", "html"]):
        result = runner.invoke(app, args)
        assert result.exit_code == 1, (args[0], result.output)
        assert expected in result.output, (args[0], result.output)
        assert "internal error" not in result.output and "Traceback" not in result.output
    assert not (tmp_path / "out" / "report.html").exists()
    assert (small_study / "sap.toml").read_bytes() == before


def test_percent_as_fraction_is_a_warning_not_an_error(tmp_path):
    plan = tmp_path / "sap.toml"
    plan.write_bytes(b"[response]\nblasts_threshold_pct = 0.05\n[subgroups]\nbm_blasts_breaks = [0.25, 50]\n")
    _, problems = check_plan(plan)
    assert [str(p) for p in problems] == [
        "sap.toml:2:response.blasts_threshold_pct: warning: 0.05 % is below 1 %; percentages are written 0-100 here "
        "(0.05 as a fraction would be 5 %)",
        "sap.toml:4:subgroups.bm_blasts_breaks: warning: 0.25 % is below 1 %; percentages are written 0-100 here "
        "(0.25 as a fraction would be 25 %)",
    ]


@pytest.mark.parametrize("data", [b"\xef\xbb\xbf[time]\nmonth_days = 30\n", b"[time]\r\nmonth_days = 30\r\n"],
                         ids=["utf-8 with BOM", "CRLF"])
def test_utf8_with_bom_or_crlf_is_fine(tmp_path, data):
    plan = tmp_path / "sap.toml"
    plan.write_bytes(data)
    p, problems = check_plan(plan)
    assert problems == [] and p.time.month_days == 30


@pytest.mark.parametrize("value", ["2023-06-30", "\"2023-06-30\""])
def test_data_cutoff_as_toml_date_or_text(tmp_path, value):
    plan = tmp_path / "sap.toml"
    plan.write_text(f"[study]\ndata_cutoff = {value}\n", encoding="utf-8")
    p, problems = check_plan(plan)
    assert problems == [] and p.study.data_cutoff == "2023-06-30"


def test_every_range_boundary_is_accepted(tmp_path):
    plan = tmp_path / "sap.toml"
    plan.write_text("[toxicity]\nfever_c = 37\n[time]\nmonth_days = 31\n[response]\nblasts_threshold_pct = 100\n",
                    encoding="utf-8")
    assert check_plan(plan)[1] == []
    plan.write_text("[toxicity]\nfever_c = 42.01\n", encoding="utf-8")
    assert "42.01 \u00b0C is not a plausible" in str(check_plan(plan)[1][0])


def test_key_lines_finds_sections_keys_and_quoted_keys():
    text = "# c\n[study]\nname = 'x'\n\n[ cox ]\n\"threshold\" = 0.1\nreference = { a = \"b\" }\n"
    assert key_lines(text) == {"study": 2, "study.name": 3, "cox": 5, "cox.threshold": 6, "cox.reference": 7}
