"""Cellular kinetics NCA against hand calculations; every [pk] setting changes the result as documented."""

from __future__ import annotations

import dataclasses
import math

import pytest

from cartalysis.derive import derive_all
from cartalysis.study.plan import Plan


def run(build, samples, plan=None, infusion="2022-01-01"):
    study = build(subjects=[{"patient_id": "P1", "infusion_date": infusion}],
                  pk=[{"patient_id": "P1", "matrix": "blood", "lloq": 50.0, **s} for s in samples])
    return derive_all(study, plan or Plan())


def pk(**changes) -> Plan:
    return dataclasses.replace(Plan(), pk=dataclasses.replace(Plan().pk, **changes))


def nca(d):
    return d.adsl.set_index("patient_id").loc["P1", ["cmax", "tmax", "auc0_28", "clast", "tlast", "persistence_day"]]


PROFILE = [{"day": 0.0, "value": 0.0}, {"day": 7.0, "value": 1000.0}, {"day": 14.0, "value": 4000.0},
           {"day": 28.0, "value": 500.0}]
LINEAR = (0 + 1000) / 2 * 7 + (1000 + 4000) / 2 * 7 + (4000 + 500) / 2 * 14  # 52,500
LOG_DOWN = (0 + 1000) / 2 * 7 + (1000 + 4000) / 2 * 7 + (4000 - 500) * 14 / math.log(4000 / 500)  # 44,564.1...


def test_nca_parameters(build):
    d = run(build, PROFILE)
    v = nca(d)
    assert (v["cmax"], v["tmax"], v["clast"], v["tlast"], v["persistence_day"]) == (4000, 14, 500, 28, 28)
    assert v["auc0_28"] == pytest.approx(LOG_DOWN, rel=1e-12)
    assert LOG_DOWN == pytest.approx(3500 + 17500 + 49000 / 2.0794415417, rel=1e-9)  # ln 8 = 2.0794415417
    adpp = d.adpp.set_index("param")
    assert adpp.loc["AUCINT", "aval"] == pytest.approx(LOG_DOWN, rel=1e-12)
    assert adpp.loc["AUCINT", "method"].startswith("linear-up/log-down")


def test_auc_method_setting(build):
    assert nca(run(build, PROFILE, pk(auc_method="linear")))["auc0_28"] == pytest.approx(LINEAR, rel=1e-12)


def test_no_day0_sample_imputes_zero(build):
    assert nca(run(build, PROFILE[1:]))["auc0_28"] == pytest.approx(LOG_DOWN, rel=1e-12)


def test_interpolation_at_day28(build):
    samples = [{"day": 14.0, "value": 4000.0}, {"day": 42.0, "value": 1000.0}]
    # linear: level at 28 = 2500; AUC = 0..14 (0+4000)/2*14 + 14..28 (4000+2500)/2*14
    assert nca(run(build, samples, pk(auc_method="linear")))["auc0_28"] == pytest.approx(28000 + 45500, rel=1e-12)
    # log-down: level at 28 = 4000*(1000/4000)^(14/28) = 2000; AUC 14..28 = (4000-2000)*14/ln 2
    expected = 28000 + 2000 * 14 / math.log(2)
    assert nca(run(build, samples))["auc0_28"] == pytest.approx(expected, rel=1e-12)


def test_auc_needs_a_sample_reaching_the_end_day_and_end_day_setting(build):
    samples = PROFILE[:3]
    d = run(build, samples)
    assert math.isnan(nca(d)["auc0_28"])
    assert d.adpp.set_index("param").loc["AUCINT", "comment"] == "no sample on or after day 28"
    v = nca(run(build, samples, pk(auc_end_day=14.0)))["auc0_28"]
    assert v == pytest.approx((0 + 1000) / 2 * 7 + (1000 + 4000) / 2 * 7, rel=1e-12)


BLQ = [{"day": 0.0, "value": 10.0}, {"day": 7.0, "value": 1000.0}, {"day": 14.0, "value": 20.0},
       {"day": 21.0, "value": 500.0}, {"day": 28.0, "value": None}]


def test_blq_rules(build):
    # pknca: day 0 BLQ -> 0 (leading), day 14 dropped (middle), day 28 empty with LLOQ = BLQ -> 0 (trailing)
    pknca = 0.5 * 1000 * 7 + (1000 - 500) * 14 / math.log(2) + 500 / 2 * 7
    v = nca(run(build, BLQ))
    assert v["auc0_28"] == pytest.approx(pknca, rel=1e-12)
    assert (v["clast"], v["tlast"], v["cmax"], v["tmax"]) == (500, 21, 1000, 7)
    # zero: every BLQ -> 0, so day 14 counts as 0 (log-down cannot reach 0: linear there)
    zero = 0.5 * 1000 * 7 + 1000 / 2 * 7 + 500 / 2 * 7 + 500 / 2 * 7
    assert nca(run(build, BLQ, pk(blq="zero")))["auc0_28"] == pytest.approx(zero, rel=1e-12)
    # drop: every BLQ dropped; day 0 imputed as 0, no sample reaches day 28 -> AUC0-28 empty
    assert math.isnan(nca(run(build, BLQ, pk(blq="drop")))["auc0_28"])


def test_matrix_setting_and_csf_detection(build):
    study = build(subjects=[{"patient_id": "P1", "infusion_date": "2022-01-01"}, {"patient_id": "P2", "infusion_date": "2022-01-01"}],
                  pk=[{"patient_id": "P1", "matrix": "blood", "day": 10.0, "value": 900.0, "lloq": 50.0},
                      {"patient_id": "P1", "matrix": "marrow", "day": 10.0, "value": 300.0, "lloq": 50.0},
                      {"patient_id": "P1", "matrix": "csf", "day": 14.0, "value": 60.0, "lloq": 50.0},
                      {"patient_id": "P2", "matrix": "csf", "day": 14.0, "value": 40.0, "lloq": 50.0}])
    a = derive_all(study).adsl.set_index("patient_id")
    assert a.loc["P1", "cmax"] == 900 and a.loc["P1", "csf_detected"] and not a.loc["P2", "csf_detected"]
    assert derive_all(study, pk(matrix="marrow")).adsl.set_index("patient_id").loc["P1", "cmax"] == 300


def test_value_at_lloq_is_quantifiable(build):
    # BLQ means value < LLOQ: a level equal to the LLOQ (50) is the last quantifiable one
    v = nca(run(build, [{"day": 7.0, "value": 1000.0}, {"day": 28.0, "value": 50.0}]))
    assert (v["clast"], v["tlast"]) == (50, 28)


def test_plateau_segment_is_linear(build):
    # equal levels: log trapezoid is 0/0, so the segment is a rectangle: 0..7 (0+1000)/2*7 + 7..28 1000*21
    v = nca(run(build, [{"day": 7.0, "value": 1000.0}, {"day": 28.0, "value": 1000.0}]))
    assert v["auc0_28"] == pytest.approx(3500 + 21000, rel=1e-12)


def test_tmax_is_the_first_day_of_cmax_and_pre_infusion_samples_are_ignored(build):
    samples = [{"day": -3.0, "value": 9000.0}, {"day": 7.0, "value": 2000.0}, {"day": 14.0, "value": 2000.0},
               {"day": 28.0, "value": 100.0}]
    v = nca(run(build, samples))
    assert (v["cmax"], v["tmax"]) == (2000, 7)
