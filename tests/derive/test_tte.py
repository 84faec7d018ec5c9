"""Time-to-event endpoints: events, censoring rules (each a plan setting), HSCT representations."""

from __future__ import annotations

import dataclasses

import pandas as pd
import pytest

from cartalysis.derive import hsct_landmark
from cartalysis.study.plan import Plan

from derive_builders import ass, day, ev, run


def tte(d, param, pid="P1"):
    rows = d.adtte[(d.adtte["param"] == param) & (d.adtte["patient_id"] == pid)]
    assert len(rows) <= 1
    return None if rows.empty else rows.iloc[0]


def replace(plan: Plan, section: str, **changes) -> Plan:
    return dataclasses.replace(plan, **{section: dataclasses.replace(getattr(plan, section), **changes)})


# The worked example: CR on day 28, allo-HSCT in remission on day 70, relapse on day 200.
HSCT_ROWS = [ass(28), ass(60), ass(200, blasts=20)]
HSCT_EVENTS = [ev(70, "hsct", "allo"), ev(200, "relapse", "cd19_pos"), ev(400, "last_contact")]


def test_dor_a_censored_at_hsct_in_remission_dor_b_not(build):
    d = run(build, HSCT_ROWS, HSCT_EVENTS)
    a = tte(d, "DOR")
    assert (a["adt"], a["cnsr"], a["cnsdtdsc"], a["aval"]) == (pd.Timestamp(day(70)), 3, "ALLO-HSCT IN REMISSION", 42)
    b = tte(d, "DOR_NOHSCT")
    assert (b["adt"], b["cnsr"], b["evntdesc"], b["aval"]) == (pd.Timestamp(day(200)), 0, "RELAPSE", 172)
    assert a["startdt"] == pd.Timestamp(day(28))
    s = d.adsl.set_index("patient_id").loc["P1"]
    assert (s["hsct_in_remission"], s["hsct_in_remission_day"]) == (True, 70)


def test_hsct_after_relapse_is_not_in_remission(build):
    d = run(build, [ass(28), ass(60, blasts=30)], [ev(70, "hsct", "allo"), ev(300, "last_contact")])
    assert not d.adsl["hsct_in_remission"].iloc[0]
    assert tte(d, "DOR")["cnsr"] == 0  # relapse on day 60 is the event


def test_os_event_and_censoring(build):
    d = run(build, [ass(28)], [ev(100, "death", "relapse")])
    o = tte(d, "OS")
    assert (o["aval"], o["cnsr"], o["evntdesc"], o["evntcd"]) == (100, 0, "DEATH", 1)
    assert abs(o["aval_months"] - 100 / 30.4375) < 1e-12
    d = run(build, [ass(28)], [ev(70, "hsct", "allo"), ev(300, "last_contact")])
    o = tte(d, "OS")
    assert (o["aval"], o["cnsr"], o["cnsdtdsc"]) == (300, 1, "LAST KNOWN ALIVE")  # not censored at HSCT
    f = tte(d, "FU")
    assert (f["aval"], f["cnsr"]) == (300, 0)  # reverse KM: alive = "event"


def test_time_settings(build):
    d = run(build, [ass(28)], [ev(100, "death")], plan=replace(Plan(), "time", aval_add_one=True, month_days=30.0))
    o = tte(d, "OS")
    assert (o["aval"], o["aval_months"]) == (101, pytest.approx(101 / 30.0))


NR_ROWS = [ass(28, blasts=40)]
NR_EVENTS = [ev(100, "death", "progression")]


@pytest.mark.parametrize(
    "rule, expected",
    [("event_at_day0", (0, 0, "NO RESPONSE")), ("censored_at_day0", (0, 4, None)), ("as_observed", (100, 0, "DEATH")),
     ("excluded", None)],
)
def test_rfs_nonresponder_rules(build, rule, expected):
    d = run(build, NR_ROWS, NR_EVENTS, plan=replace(Plan(), "rfs", nonresponders=rule))
    r = tte(d, "RFS")
    if expected is None:
        assert r is None
    else:
        aval, cnsr, desc = expected
        assert (r["aval"], r["cnsr"]) == (aval, cnsr)
        assert r["evntdesc"] == desc if desc else pd.isna(r["evntdesc"])  # missing text: None (pandas 2), NaN (pandas 3)
    assert tte(d, "DOR") is None  # DOR is for responders only


def test_efs_nonresponder_rule(build):
    assert tte(run(build, NR_ROWS, NR_EVENTS), "EFS")["aval"] == 0
    assert tte(run(build, NR_ROWS, NR_EVENTS, plan=replace(Plan(), "efs", nonresponders="as_observed")), "EFS")["aval"] == 100


def test_pfs_registry_definition(build):
    events = [ev(50, "relapse", "cd19_pos"), ev(100, "death")]
    p = tte(run(build, NR_ROWS, events), "PFS")
    assert (p["aval"], p["cnsr"], p["evntdesc"]) == (50, 0, "RELAPSE")  # progression of a non-responder
    p = tte(run(build, NR_ROWS, events, plan=replace(Plan(), "pfs", nonresponders="event_at_day0")), "PFS")
    assert p["aval"] == 0


NT_ROWS = [ass(28), ass(90), ass(150, blasts=30)]


@pytest.mark.parametrize(
    "therapy, changes, expected",
    [
        ("chemotherapy", {}, (100, 2, "NEW ANTICANCER THERAPY")),
        ("tki", {}, (150, 0, "RELAPSE")),
        ("tki", {"exempt_therapies": ()}, (100, 2, "NEW ANTICANCER THERAPY")),
        ("chemotherapy", {"censor_at_new_therapy": False}, (150, 0, "RELAPSE")),
    ],
)
def test_rfs_new_therapy_censoring(build, therapy, changes, expected):
    d = run(build, NT_ROWS, [ev(100, "new_therapy", therapy)], plan=replace(Plan(), "rfs", **changes))
    r = tte(d, "RFS")
    assert (r["aval"], r["cnsr"], r["evntdesc"] if r["cnsr"] == 0 else r["cnsdtdsc"]) == expected


def test_event_on_the_day_of_new_therapy_counts(build):
    d = run(build, NT_ROWS, [ev(150, "new_therapy", "chemotherapy")])
    assert tte(d, "RFS")["cnsr"] == 0


SECTIONS = {"OS": "os", "RFS": "rfs", "DOR": "dor", "EFS": "efs", "PFS": "pfs", "DFS": "dfs", "CIR": "cir"}
CR1 = {"disease_status": "cr1"}


@pytest.mark.parametrize("param", list(SECTIONS))
def test_censor_at_new_therapy_setting_for_every_endpoint(build, param):
    rows, events = [ass(28), ass(90), ass(140)], [ev(100, "new_therapy", "chemotherapy"), ev(150, "death")]
    origin = 28 if param in ("DOR", "CIR") else 0
    on = replace(Plan(), SECTIONS[param], censor_at_new_therapy=True)
    off = replace(Plan(), SECTIONS[param], censor_at_new_therapy=False)
    t_on, t_off = tte(run(build, rows, events, on, CR1), param), tte(run(build, rows, events, off, CR1), param)
    assert (t_on["aval"], t_on["cnsr"]) == (100 - origin, 2)
    assert (t_off["aval"], t_off["cnsr"]) == (150 - origin, 0)


@pytest.mark.parametrize("param", list(SECTIONS))
def test_censor_at_allo_hsct_setting_for_every_endpoint(build, param):
    rows, events = [ass(28), ass(90), ass(140)], [ev(100, "hsct", "allo"), ev(150, "death")]
    origin = 28 if param in ("DOR", "CIR") else 0
    on = replace(Plan(), SECTIONS[param], censor_at_allo_hsct_in_remission=True)
    off = replace(Plan(), SECTIONS[param], censor_at_allo_hsct_in_remission=False)
    t_on, t_off = tte(run(build, rows, events, on, CR1), param), tte(run(build, rows, events, off, CR1), param)
    assert (t_on["aval"], t_on["cnsr"]) == (100 - origin, 3)
    assert (t_off["aval"], t_off["cnsr"]) == (150 - origin, 0)


@pytest.mark.parametrize("param", list(SECTIONS))
def test_censor_last_setting_for_every_endpoint(build, param):
    rows, events = [ass(28), ass(90)], [ev(300, "last_contact")]
    origin = 28 if param in ("DOR", "CIR") else 0
    a = tte(run(build, rows, events, replace(Plan(), SECTIONS[param], censor_last="last_assessment"), CR1), param)
    b = tte(run(build, rows, events, replace(Plan(), SECTIONS[param], censor_last="last_known_alive"), CR1), param)
    assert (a["aval"], a["cnsr"], a["cnsdtdsc"]) == (90 - origin, 1, "LAST DISEASE ASSESSMENT")
    assert (b["aval"], b["cnsr"], b["cnsdtdsc"]) == (300 - origin, 1, "LAST KNOWN ALIVE")


def test_no_post_infusion_assessment_censors_at_origin(build):
    d = run(build, [], [ev(300, "last_contact")], plan=replace(Plan(), "rfs", nonresponders="as_observed"))
    r = tte(d, "RFS")
    assert (r["aval"], r["cnsr"]) == (0, 1)


def test_dfs_population_and_marrow_relapse(build):
    rows = [ass(28), ass(200, blasts=8)]
    d = run(build, rows, [ev(300, "last_contact")], subject=CR1)
    r = tte(d, "DFS")
    assert (r["aval"], r["cnsr"], r["evntdesc"]) == (200, 0, "MARROW RELAPSE")
    assert tte(run(build, rows, subject={"disease_status": "cr_mrd_neg"}), "DFS") is None
    p = replace(Plan(), "population", dfs_statuses=("cr1", "cr_mrd_neg"))
    assert tte(run(build, rows, plan=p, subject={"disease_status": "cr_mrd_neg"}), "DFS")["aval"] == 200


def test_cir_competing_events(build):
    r = tte(run(build, [ass(28), ass(120, blasts=9)]), "CIR")
    assert (r["aval"], r["evntcd"], r["cnsr"]) == (92, 1, 0)
    r = tte(run(build, [ass(28)], [ev(60, "death", "infection")]), "CIR")
    assert (r["aval"], r["evntcd"], r["cnsr"], r["evntdesc"]) == (32, 2, 0, "DEATH WITHOUT RELAPSE")
    r = tte(run(build, [ass(28), ass(90)]), "CIR")
    assert (r["aval"], r["evntcd"], r["cnsr"]) == (62, 0, 1)


def test_endpoint_params_setting(build):
    d = run(build, HSCT_ROWS, HSCT_EVENTS, plan=replace(Plan(), "endpoints", params=("OS", "DOR")))
    assert d.adtte["param"].tolist() == ["OS", "DOR"]


def test_groups_by_setting(build):
    d = run(build, HSCT_ROWS, HSCT_EVENTS, plan=replace(Plan(), "groups", by="prior_inotuzumab"),
            subject={"prior_inotuzumab": True})
    assert set(d.adtte["group"]) == {True}
    assert d.adsl["group"].tolist() == [True]
    assert run(build, HSCT_ROWS, HSCT_EVENTS).adtte["group"].isna().all()


def test_hsct_time_dependent_rows_and_landmark(build):
    d = run(build, HSCT_ROWS, HSCT_EVENTS)
    td = d.adtte_hsct[d.adtte_hsct["param"] == "OS"]
    assert td[["tstart", "tstop", "hsct", "status"]].values.tolist() == [[0, 70, 0, 0], [70, 400, 1, 0]]
    rfs = d.adtte_hsct[d.adtte_hsct["param"] == "RFS"]
    assert rfs[["tstart", "tstop", "hsct", "status"]].values.tolist() == [[0, 70, 0, 0]]  # censored at the HSCT
    lm = hsct_landmark(d.adtte, d.adsl, "OS", 100)
    assert lm[["hsct_by_landmark", "aval_lm"]].values.tolist() == [[True, 300]]
    assert hsct_landmark(d.adtte, d.adsl, "OS", 50)["hsct_by_landmark"].tolist() == [False]
    assert hsct_landmark(d.adtte, d.adsl, "OS", 400).empty


@pytest.mark.parametrize("param", list(SECTIONS))
def test_exempt_therapies_setting_for_every_endpoint(build, param):
    rows, events = [ass(28), ass(90), ass(140)], [ev(100, "new_therapy", "blinatumomab"), ev(150, "death")]
    origin = 28 if param in ("DOR", "CIR") else 0
    plan = replace(Plan(), SECTIONS[param], censor_at_new_therapy=True)
    t = tte(run(build, rows, events, plan, CR1), param)
    assert (t["aval"], t["cnsr"]) == (100 - origin, 2)
    exempt = replace(plan, SECTIONS[param], exempt_therapies=("blinatumomab",))
    t = tte(run(build, rows, events, exempt, CR1), param)
    assert (t["aval"], t["cnsr"]) == (150 - origin, 0)


def test_auto_hsct_does_not_censor_dor(build):
    # only allogeneic HSCT in remission is a censoring source
    d = run(build, HSCT_ROWS, [ev(70, "hsct", "auto"), ev(200, "relapse", "cd19_pos"), ev(400, "last_contact")])
    a = tte(d, "DOR")
    assert (a["aval"], a["cnsr"], a["evntdesc"]) == (172, 0, "RELAPSE")
    assert not d.adsl["hsct_in_remission"].iloc[0]


@pytest.mark.parametrize("hsct_day, in_rem", [(28, True), (20, False)])
def test_hsct_on_remission_day_is_in_remission(build, hsct_day, in_rem):
    d = run(build, [ass(28), ass(60)], [ev(hsct_day, "hsct", "allo"), ev(300, "last_contact")])
    assert bool(d.adsl["hsct_in_remission"].iloc[0]) is in_rem


def test_hsct_on_relapse_day_is_not_in_remission(build):
    d = run(build, [ass(28), ass(60)], [ev(90, "relapse", "cd19_pos"), ev(90, "hsct", "allo")])
    assert not d.adsl["hsct_in_remission"].iloc[0]


def test_new_therapy_on_last_assessment_day_is_the_censoring_reason(build):
    d = run(build, [ass(28), ass(90)], [ev(90, "new_therapy", "chemotherapy")])
    r = tte(d, "RFS")
    assert (r["aval"], r["cnsr"], r["cnsdtdsc"]) == (90, 2, "NEW ANTICANCER THERAPY")


def test_dfs_marrow_relapse_at_exactly_5_percent(build):
    assert tte(run(build, [ass(28), ass(200, blasts=5.0)], subject=CR1), "DFS")["cnsr"] == 0
    assert tte(run(build, [ass(28), ass(200, blasts=4.9)], subject=CR1), "DFS")["cnsr"] == 1


def test_dor_b_follows_a_transplanted_responder_to_last_contact_in_remission(build):
    # CR day 28, marrow on day 60, allo-HSCT in remission day 70, no marrow after it, alive in remission at day 400:
    # DOR-A is censored at the last marrow before the transplant (day 60, never later than the transplant);
    # DOR-B at the last contact (day 400), not at the day-60 marrow.
    d = run(build, [ass(28), ass(60)], [ev(70, "hsct", "allo"), ev(400, "last_contact")])
    a, b = tte(d, "DOR"), tte(d, "DOR_NOHSCT")
    assert (a["aval"], a["cnsr"]) == (32, 1)
    assert (b["adt"], b["cnsr"], b["aval"], b["cnsdtdsc"]) == (
        pd.Timestamp(day(400)), 1, 372, "LAST CONTACT IN REMISSION AFTER ALLO-HSCT")


def test_dor_b_censors_untransplanted_responders_at_last_assessment(build):
    # no transplant: the last marrow (day 90) is the censoring date even though the patient was seen on day 400
    d = run(build, [ass(28), ass(90)], [ev(400, "last_contact")])
    b = tte(d, "DOR_NOHSCT")
    assert (b["aval"], b["cnsr"], b["cnsdtdsc"]) == (62, 1, "LAST DISEASE ASSESSMENT")
    # a plan that censors DOR at the last-known-alive date uses it for everybody
    d = run(build, [ass(28), ass(90)], [ev(400, "last_contact")], plan=replace(Plan(), "dor", censor_last="last_known_alive"))
    assert tte(d, "DOR_NOHSCT")["aval"] == 372


def test_therapy_after_relapse(build):
    # relapse day 120; chemotherapy day 100 (before: not after relapse), blinatumomab day 130, allo-HSCT day 200
    d = run(build, [ass(28), ass(120, blasts=40)],
            [ev(100, "new_therapy", "chemotherapy"), ev(130, "new_therapy", "blinatumomab"), ev(200, "hsct", "allo"),
             ev(300, "last_contact")])
    s = d.adsl.set_index("patient_id").loc["P1"]
    assert (s["relapse_day"], s["post_relapse_therapy"], bool(s["post_relapse_hsct"])) == (120, "blinatumomab", True)
    d = run(build, [ass(28)], [ev(300, "last_contact")])
    s = d.adsl.set_index("patient_id").loc["P1"]
    assert pd.isna(s["post_relapse_therapy"]) and pd.isna(s["post_relapse_hsct"])
