"""Response rules (CR, CRi, relapse, BOR, month-3 response, MRD, assessors) with hand-built patients."""

from __future__ import annotations

import dataclasses

import pandas as pd
import pytest

from cartalysis.study.plan import Plan

from derive_builders import ass, day, ev, run


def sl(d):
    return d.adsl.set_index("patient_id").loc["P1"]


def with_resp(**changes) -> Plan:
    return dataclasses.replace(Plan(), response=dataclasses.replace(Plan().response, **changes))


def ovr(d) -> list[str]:
    return d.adrs[(d.adrs["param"] == "OVR")]["avalc"].tolist()


@pytest.mark.parametrize(
    "row, expected",
    [
        (ass(28, blasts=2, anc=1.5, plt=150), "CR"),
        (ass(28, blasts=4.9, anc=1.0, plt=100), "CR"),  # thresholds are inclusive (>= 1.0, >= 100)
        (ass(28, blasts=2, anc=0.8, plt=150), "CRi"),
        (ass(28, blasts=2, anc=1.5, plt=90), "CRi"),
        (ass(28, blasts=2, anc=None, plt=150), "CRi"),  # missing count = recovery not shown
        (ass(28, blasts=5, anc=1.5, plt=150), "NR"),  # 5% is not < 5%
        (ass(28, blasts=2, pb_blasts=True), "NR"),
        (ass(28, blasts=2, emd=True), "NR"),
        (ass(28, blasts=None), "NE"),
        (ass(28, blasts=30, response="CR"), "CR"),  # explicit response overrides the derivation
    ],
)
def test_overall_response(build, row, expected):
    d = run(build, [row])
    assert ovr(d) == [expected]
    assert sl(d)["bor"] == expected


def test_relapse_after_cr_and_bor_before_it(build):
    d = run(build, [ass(28, anc=0.5), ass(60), ass(120, blasts=12), ass(150, blasts=1)],
            [ev(125, "relapse", "cd19_neg")])
    assert ovr(d) == ["CRi", "CR", "relapse", "CR"]
    a = sl(d)
    assert (a["bor"], a["rem_day"], a["relapse_day"], a["relapse_cd19"]) == ("CR", 28, 120, "cd19_neg")
    assert a["bor_dt"] == pd.Timestamp(day(60))


def test_pre_infusion_assessments_are_baseline(build):
    d = run(build, [ass(-10, blasts=60), ass(28)])
    assert ovr(d) == ["CR"]


def test_bor_stops_at_hsct_and_new_therapy_but_not_tki(build):
    rows = [ass(28, anc=0.5), ass(90)]
    assert sl(run(build, rows, [ev(60, "hsct", "allo")]))["bor"] == "CRi"
    assert sl(run(build, rows, [ev(60, "new_therapy", "chemotherapy")]))["bor"] == "CRi"
    assert sl(run(build, rows, [ev(60, "new_therapy", "tki")]))["bor"] == "CR"
    # plan: no exemption -> TKI stops the best-response window too
    assert sl(run(build, rows, [ev(60, "new_therapy", "tki")], with_resp(exempt_therapies=())))["bor"] == "CRi"


def test_bor_window_setting(build):
    rows = [ass(28, blasts=30), ass(150)]
    assert sl(run(build, rows))["bor"] == "CR"
    assert sl(run(build, rows, plan=with_resp(bor_window_days=91.0)))["bor"] == "NR"


@pytest.mark.parametrize(
    "rows, events, expected",
    [
        ([ass(28), ass(91)], [], "CR"),
        ([ass(28), ass(91, anc=0.4)], [], "CRi"),
        ([ass(28), ass(60, blasts=20), ass(91)], [], "NR"),  # relapsed before month 3: not "in remission at month 3"
        ([ass(28), ass(91)], [ev(80, "hsct", "allo")], "NR"),  # HSCT before the assessment
        ([ass(28), ass(91)], [ev(91, "hsct", "allo")], "CR"),  # HSCT the same day: assessment is the pre-HSCT work-up
        ([ass(28), ass(91)], [ev(70, "new_therapy", "tki")], "CR"),  # TKI maintenance is exempt
        ([ass(28)], [], "NE"),  # alive, no month-3 assessment
        ([ass(28)], [ev(50, "death", "infection")], "NR"),
        ([ass(28, blasts=40), ass(91, blasts=40)], [], "NR"),
    ],
)
def test_month3_response(build, rows, events, expected):
    a = sl(run(build, rows, events))
    assert a["m3_resp"] == expected
    assert bool(a["m3_orr"]) is (expected in ("CR", "CRi"))


def test_month3_window_and_target_settings(build):
    assert sl(run(build, [ass(110)]))["m3_resp"] == "NE"
    assert sl(run(build, [ass(110)], plan=with_resp(m3_window_days=(77.0, 120.0))))["m3_resp"] == "CR"
    rows = [ass(80, anc=0.5), ass(100)]
    assert sl(run(build, rows))["m3_resp"] == "CR"  # day 100 is 9 days from 91, day 80 is 11
    assert sl(run(build, rows, plan=with_resp(m3_target_day=85.0)))["m3_resp"] == "CRi"


def test_thresholds_settings(build):
    row = [ass(28, blasts=7, anc=0.9, plt=80)]
    assert sl(run(build, row))["bor"] == "NR"
    assert sl(run(build, row, plan=with_resp(blasts_threshold_pct=10.0)))["bor"] == "CRi"
    assert sl(run(build, row, plan=with_resp(blasts_threshold_pct=10.0, anc_min=0.5, platelets_min=50.0)))["bor"] == "CR"


def test_assessors(build):
    rows = [ass(28, assessor="investigator"), ass(28, anc=0.5, assessor="irc"), ass(91, assessor="investigator")]
    d = run(build, rows)
    a = sl(d)
    assert (a["assessor"], a["bor"], a["bor_investigator"], a["bor_irc"]) == ("irc", "CRi", "CR", "CRi")
    assert (a["m3_resp"], a["m3_resp_investigator"], a["m3_resp_irc"]) == ("NE", "CR", "NE")
    b = sl(run(build, rows, plan=with_resp(primary_assessor="investigator")))
    assert (b["assessor"], b["bor"], b["m3_resp"]) == ("investigator", "CR", "CR")
    bor = d.adrs[d.adrs["param"] == "BOR"].set_index("assessor")
    assert bor.loc["irc", "primary"] and not bor.loc["investigator", "primary"]


def test_only_investigator_falls_back(build):
    a = sl(run(build, [ass(28)]))
    assert (a["assessor"], a["bor"], pd.isna(a["bor_irc"])) == ("investigator", "CR", True)


def test_mrd_at_best_response_and_method_setting(build):
    rows = [ass(28, mrd_method="flow", mrd_negative=False), ass(28, mrd_method="ngs", mrd_negative=True, assessor=None),
            ass(91, mrd_method="flow", mrd_negative=True)]
    # two rows on day 28 with the same assessor are fine for the derivation (keys are the loader's job)
    a = sl(run(build, rows))
    assert (a["mrd_best"], a["mrd_m3"]) == ("negative", "negative")
    only_28 = rows[:2]
    assert sl(run(build, only_28))["mrd_best"] == "negative"
    assert sl(run(build, only_28, plan=with_resp(mrd_method="flow")))["mrd_best"] == "positive"
    assert pd.isna(sl(run(build, [ass(28)]))["mrd_best"])


def test_mrd_by_visit_and_window_setting(build):
    rows = [ass(30, mrd_method="flow", mrd_negative=True), ass(30, mrd_method="ngs", mrd_negative=False, assessor="irc"),
            ass(58, mrd_method="flow", mrd_negative=True), ass(190, mrd_method="flow", mrd_negative=False)]
    d = run(build, rows)
    vis = d.adrs[d.adrs["param"] == "MRDVIS"]
    got = sorted(zip(vis["visit"], vis["mrd_method"], vis["avalc"]))
    assert got == [("day28", "flow", "negative"), ("day28", "ngs", "positive"), ("month2", "flow", "negative"),
                   ("month6", "flow", "positive")]
    d2 = run(build, rows, plan=with_resp(mrd_visit_window_days=1.0))
    assert (d2.adrs["param"] == "MRDVIS").sum() == 0
    d3 = run(build, rows, plan=with_resp(mrd_visits=("d30",), mrd_visit_days=(30.0,)))
    assert set(d3.adrs.loc[d3.adrs["param"] == "MRDVIS", "visit"]) == {"d30"}


def test_in_remission_at_infusion(build):
    rows = [ass(28), ass(60, blasts=10)]
    cr1 = {"disease_status": "cr1"}
    assert ovr(run(build, [ass(60, blasts=10)], subject=cr1)) == ["relapse"]
    assert ovr(run(build, [ass(60, blasts=10)])) == ["NR"]
    p = dataclasses.replace(Plan(), population=dataclasses.replace(Plan().population, in_remission_statuses=()))
    assert ovr(run(build, [ass(60, blasts=10)], subject=cr1, plan=p)) == ["NR"]
    assert sl(run(build, rows, subject=cr1))["relapse_day"] == 60


# --- boundaries on both sides, answers worked out from the NCCN/issue rules -------------------------------------

@pytest.mark.parametrize(
    "row, expected",
    [
        (ass(28, blasts=2, anc=0.99, plt=150), "CRi"),  # ANC just under 1.0: no count recovery
        (ass(28, blasts=2, anc=1.5, plt=99.9), "CRi"),  # platelets just under 100
        (ass(28, blasts=4.99, anc=1.5, plt=150), "CR"),
    ],
)
def test_count_recovery_just_below_thresholds(build, row, expected):
    assert ovr(run(build, [row])) == [expected]


@pytest.mark.parametrize("blasts, expected", [(5.0, "relapse"), (4.9, "CR")])
def test_relapse_at_exactly_5_percent_blasts(build, blasts, expected):
    assert ovr(run(build, [ass(28), ass(60, blasts=blasts)])) == ["CR", expected]


@pytest.mark.parametrize("n, expected", [(76, "NE"), (77, "CR"), (105, "CR"), (106, "NE")])
def test_month3_window_edges(build, n, expected):
    # default window: days 77-105 inclusive
    assert sl(run(build, [ass(n)]))["m3_resp"] == expected


def test_month3_equidistant_assessments_take_the_later(build):
    # days 84 and 98 are both 7 days from day 91: the later one (CRi) is the month-3 assessment
    assert sl(run(build, [ass(84), ass(98, anc=0.5)]))["m3_resp"] == "CRi"


def test_month3_new_therapy_without_assessment_is_nr_not_unknown(build):
    # non-exempt therapy on day 60 and no month-3 assessment: a failure before month 3, not "unknown"
    assert sl(run(build, [ass(28)], [ev(60, "new_therapy", "chemotherapy")]))["m3_resp"] == "NR"


def test_relapse_event_on_assessment_day_excludes_it(build):
    # extramedullary relapse recorded on day 91, the day of a marrow CR: not in remission at month 3; the day-91
    # assessment does not count for the best response either (BOR = the earlier CRi)
    a = sl(run(build, [ass(28, anc=0.5), ass(91)], [ev(91, "relapse", "cd19_pos")]))
    assert (a["m3_resp"], a["bor"], a["relapse_day"]) == ("NR", "CRi", 91)


def test_infusion_day_assessment_is_baseline(build):
    # day 0 = infusion day: a marrow then is pre-treatment, not a response
    assert ovr(run(build, [ass(0), ass(28, blasts=30)])) == ["NR"]
