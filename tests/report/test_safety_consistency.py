"""One safety picture on every twin: CRS and ICANS (graded from daily data, or reported when there is none) enter the
TEAE tables once per patient, so that any TEAE ≥ CRS, and the TEAE and AESI tables agree (issue 9)."""

from __future__ import annotations

import pytest

from cartalysis.derive import derive_all
from cartalysis.report import sections
from cartalysis.report.results import Registry
from cartalysis.study.load import load_study
from cartalysis.study.plan import load_plan
from cartalysis.twins.generate import list_twins, write_twin


def _safety(study_dir):
    study = load_study(study_dir)
    plan = load_plan(study.plan_path)
    derived = derive_all(study, plan)
    ctx = sections.Ctx(study, plan, derived, Registry())
    spec = next(s for s in sections.SECTIONS if s.key == "safety")
    return spec.build(ctx), ctx.reg, derived


@pytest.mark.parametrize("twin", [t.name for t in list_twins()])
def test_any_teae_covers_crs_and_tables_agree(twin, tmp_path):
    section, reg, derived = _safety(write_twin(twin, tmp_path / twin))
    adsl = derived.adsl[derived.adsl["saffl"].astype(bool)]
    n = len(adsl)
    crs = int(adsl["crs"].astype("boolean").fillna(False).sum())
    icans = int(adsl["icans"].astype("boolean").fillna(False).sum())
    assert reg["safety.crs.any"].n == crs and reg["safety.icans.any"].n == icans
    assert reg["safety.teae.any"].n >= max(crs, icans)
    # independent count: patients with any analysed TEAE row or a CRS/ICANS episode
    te = derived.adae[derived.adae["trtemfl"] & derived.adae["anl01fl"]]
    assert reg["safety.teae.any"].n == te.loc[te["patient_id"].isin(adsl["patient_id"]), "patient_id"].nunique()
    for tox, term in (("crs", "cytokine_release_syndrome"),
                      ("icans", "immune_effector_cell_associated_neurotoxicity_syndrome")):
        k = reg[f"safety.{tox}.any"].n
        if k:  # Table 9's CRS/ICANS row counts the same patients as Table 10
            assert reg[f"safety.teae.{term}.any"].n == k
            g3 = reg[f"safety.{tox}.grade3plus"].n
            g34, g5 = (reg[f"safety.teae.{term}.{b}"].n for b in ("g34", "g5"))
            assert g34 + g5 == g3
    # a patient graded from daily data is not counted again from the reported rows
    dup = derived.adae[~derived.adae["anl01fl"]]
    assert set(dup["category"]) <= {"crs", "icans"}
    assert n >= reg["safety.teae.any"].n
