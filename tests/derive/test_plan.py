"""The analysis plan: defaults, validation (all problems at once), documentation of every key."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cartalysis.study.errors import StudyError, UsageError
from cartalysis.study.plan import Plan, load_plan, parse_plan, plan_as_dict

DOC = Path(__file__).resolve().parents[2] / "docs" / "analysis-plan.md"


def test_defaults_are_the_pivotal_plan():
    p = load_plan(None)
    assert p == Plan()
    assert p.time.month_days == 30.4375
    assert (p.efficacy.null_rate, p.efficacy.alpha, p.efficacy.sided) == (0.25, 0.025, "one")
    assert p.efficacy.landmarks_months == (6.0, 12.0, 24.0)
    assert (p.rfs.censor_at_new_therapy, p.rfs.exempt_therapies, p.rfs.censor_at_allo_hsct_in_remission) == (True, ("tki",), True)
    assert p.dor.censor_at_allo_hsct_in_remission and p.pk.auc_method == "linear-up/log-down"
    assert (p.cox.threshold, p.cox.forced) == (0.1, ())


def test_file_overrides_only_given_keys(tmp_path):
    f = tmp_path / "sap.toml"
    f.write_text('[rfs]\nnonresponders = "excluded"\nexempt_therapies = []\n[efficacy]\nnull_rate = 0.2\n'
                 'landmarks_months = [3, 6]\n[groups]\nby = "prior_inotuzumab"\n[response]\nbor_window_days = 91\n')
    p = load_plan(f)
    assert p.rfs.nonresponders == "excluded" and p.rfs.exempt_therapies == () and p.rfs.censor_at_new_therapy
    assert p.efficacy.null_rate == 0.2 and p.efficacy.landmarks_months == (3.0, 6.0)
    assert p.groups.by == "prior_inotuzumab" and p.response.bor_window_days == 91.0
    assert p.os == Plan().os


def test_every_problem_reported_at_once(tmp_path):
    f = tmp_path / "sap.toml"
    f.write_text('[rfs]\nnonresponders = "sometimes"\ncensor_at_new_therapy = "yes"\nfoo = 1\n[bogus]\nx = 1\n'
                 '[efficacy]\nnull_rate = 1.5\n[endpoints]\nparams = ["OS", "TTP"]\n[response]\nm3_window_days = [100, 80]\n'
                 '[dor]\nexempt_therapies = ["tka"]\n')
    with pytest.raises(StudyError) as e:
        load_plan(f)
    got = [str(p) for p in e.value.problems]
    assert got == [  # each with the line of its key
        "sap.toml:2:rfs.nonresponders: 'sometimes' is not one of: event_at_day0, censored_at_day0, excluded, as_observed",
        "sap.toml:3:rfs.censor_at_new_therapy: expected true or false, got 'yes'",
        "sap.toml:4:rfs.foo: unknown key; allowed: censor_at_new_therapy, exempt_therapies, censor_at_allo_hsct_in_remission, "
        "nonresponders, censor_last",
        "sap.toml:5:bogus: unknown section [bogus]; allowed: study, time, population, efficacy, response, endpoints, os, rfs, "
        "dor, efs, pfs, dfs, cir, toxicity, safety, pk, risk, groups, subgroups, cox, tables",
        "sap.toml:8:efficacy.null_rate: 1.5 is not a plausible null response rate (a proportion): expected above 0 to 1",
        "sap.toml:10:endpoints.params: unknown endpoint 'TTP'; allowed: OS, RFS, DOR, DOR_NOHSCT, EFS, PFS, DFS, CIR, FU",
        "sap.toml:12:response.m3_window_days: expected [first_day, last_day] with first <= last",
        "sap.toml:14:dor.exempt_therapies: unknown therapy 'tka'; allowed: tki, chemotherapy, inotuzumab, blinatumomab, car_t, "
        "radiotherapy, other",
    ]


def test_bad_toml_and_missing_file(tmp_path):
    f = tmp_path / "sap.toml"
    f.write_text("[rfs\n")
    with pytest.raises(StudyError) as e:
        load_plan(f)
    assert str(e.value.problems[0]).startswith("sap.toml:1:: not valid TOML")
    with pytest.raises(UsageError):
        load_plan(tmp_path / "missing.toml")


def _documented_keys() -> set[str]:
    keys, section = set(), None
    for line in DOC.read_text(encoding="utf-8").splitlines():
        m = re.match(r"## `\[(\w+)\]`", line)
        if m:
            section = m.group(1)
        elif line.startswith("## "):
            section = None
        m = re.match(r"\| `(\w+)` \|", line)
        if m and section:
            keys.add(f"{section}.{m.group(1)}")
    return keys


def test_every_key_is_documented():
    expected = set()
    for f in dataclasses.fields(Plan):
        for g in dataclasses.fields(getattr(Plan(), f.name)):
            expected.add(f"{f.name}.{g.name}")
    rule_sections = {"os", "rfs", "dor", "efs", "pfs", "dfs", "cir"}
    documented = _documented_keys()
    text = DOC.read_text(encoding="utf-8")
    for key in sorted(expected):
        section, name = key.split(".")
        if section in rule_sections:
            assert f"| `{name}` |" in text and f"`[{section}]`" in text, key
        else:
            assert key in documented, key


def test_plan_as_dict_round_trips():
    d = plan_as_dict(Plan())
    assert d["rfs"]["nonresponders"] == "event_at_day0" and d["time"]["month_days"] == 30.4375


toml_values = st.recursive(
    st.one_of(st.booleans(), st.integers(-5, 500), st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=8)),
    lambda inner: st.lists(inner, max_size=3),
    max_leaves=4,
)
sections = st.sampled_from([f.name for f in dataclasses.fields(Plan)] + ["nope"])
keys = st.sampled_from(sorted({g.name for f in dataclasses.fields(Plan) for g in dataclasses.fields(getattr(Plan(), f.name))}
                              | {"unknown"}))


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(sections, st.dictionaries(keys, toml_values, max_size=4), max_size=4))
def test_parse_plan_never_crashes(data):
    """Any TOML-shaped input either gives a Plan or a StudyError with located problems; never another exception."""
    try:
        plan = parse_plan(data)
    except StudyError as e:
        assert e.problems and all(p.file == "sap.toml" and p.column for p in e.problems)
    else:
        assert isinstance(plan, Plan)


def test_comparison_and_denominator_keys(tmp_path):
    """``[groups] compare`` / ``compare_endpoints`` / ``maintenance_therapies`` and ``[response] denominator``:
    read, defaulted, and every bad value reported with its key."""
    p = Plan()
    assert (p.groups.compare, p.groups.compare_endpoints) == ((), ("OS", "RFS"))
    assert p.groups.maintenance_therapies == ("tki", "chemotherapy", "inotuzumab") and p.response.denominator == "infused"
    f = tmp_path / "sap.toml"
    f.write_text('[groups]\ncompare = ["prior_blinatumomab", "maintenance_in_remission"]\ncompare_endpoints = ["PFS"]\n'
                 'maintenance_therapies = ["tki"]\n[response]\ndenominator = "evaluable"\n')
    p = load_plan(f)
    assert p.groups.compare == ("prior_blinatumomab", "maintenance_in_remission") and p.groups.compare_endpoints == ("PFS",)
    assert p.groups.maintenance_therapies == ("tki",) and p.response.denominator == "evaluable"
    f.write_text('[groups]\ncompare = "sex"\ncompare_endpoints = ["CIR", "OS"]\nmaintenance_therapies = ["hsct"]\n'
                 '[response]\ndenominator = "assessed"\n')
    with pytest.raises(StudyError) as e:
        load_plan(f)
    assert [str(x) for x in e.value.problems] == [
        "sap.toml:2:groups.compare: expected a list, got 'sex'",
        "sap.toml:3:groups.compare_endpoints: unknown endpoint 'CIR'; allowed: OS, RFS, DOR, DOR_NOHSCT, EFS, PFS, DFS",
        "sap.toml:4:groups.maintenance_therapies: unknown therapy 'hsct'; allowed: tki, chemotherapy, inotuzumab, "
        "blinatumomab, car_t, radiotherapy, other",
        "sap.toml:6:response.denominator: 'assessed' is not one of: infused, evaluable",
    ]
