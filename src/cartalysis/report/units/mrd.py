"""Table 3a: MRD negativity at each plan visit (``response.mrd_visits``) by assay.

Needs: MRD results in assessments.csv, infused patients, and at least one MRD result within a plan visit window.
"""

from __future__ import annotations

from cartalysis.report import fmt
from cartalysis.report import records as R
from cartalysis.report.model import Cell, Row, Table, c_count, c_n_of_N_pct, empty, label
from cartalysis.report.units.base import Ctx, Unit, infused, rows_of, values_in
from cartalysis.report.units.labels import MRD_METHODS, visit_label


def visit_rows(ctx: Ctx):
    """The ``MRDVIS`` rows of ADRS of infused patients."""
    adrs = ctx.d.adrs
    return adrs[(adrs["param"] == "MRDVIS") & adrs["patient_id"].isin(ctx.infused["patient_id"])]


def run(ctx: Ctx) -> list:
    """MRD negativity at each plan visit (``response.mrd_visits``) by assay, from the ``MRDVIS`` rows of ADRS.

    n = infused patients MRD negative at the visit by that assay; N = all infused patients (a patient not tested at
    the visit — relapsed, transplanted, dead or missed — counts as not MRD negative); Clopper–Pearson CI."""
    vis = visit_rows(ctx)
    n_inf = len(ctx.infused)
    reg = ctx.reg
    conf = f"{ctx.conf:.0%}"
    methods = [m for m in MRD_METHODS if m in set(vis["mrd_method"])]
    methods += sorted(set(vis["mrd_method"].dropna()) - set(methods))
    rows = []
    for visit in ctx.plan.response.mrd_visits:
        at = vis[vis["visit"] == visit]
        if at.empty:
            continue
        rows.append(Row((label(visit_label(visit)), empty(), empty(), empty()), heading=True))
        for m in methods:
            by = at[at["mrd_method"] == m]
            if by.empty:
                continue
            name = MRD_METHODS.get(m, m)
            tested = R.count(reg, f"response.mrd_tested.{visit}.{m}",
                             f"Patients with MRD tested by {name}, {visit_label(visit)}", by["patient_id"].nunique())
            neg = int(by.loc[by["avalc"] == "negative", "patient_id"].nunique())
            r = R.proportion(reg, f"response.mrd_neg.{visit}.{m}",
                             f"MRD negative by {name}, {visit_label(visit)} (of infused patients)",
                             ctx.prop(neg, n_inf))
            rows.append(Row((label(name), c_count(tested), c_n_of_N_pct(r), Cell(fmt.ci(*r.ci), (r.id,))), indent=1))
    r = ctx.plan.response
    visits = ", ".join(f"{visit_label(v)} = day {d:g}" for v, d in zip(r.mrd_visits, r.mrd_visit_days))
    return [Table("t03a_mrd_visits", "Table 3a. MRD negativity by visit and assay",
                  (label("Visit / assay"), label("Tested, n"), label("MRD negative, n/N (%)"), label(f"{conf} CI")),
                  tuple(rows),
                  (f"N = all infused patients: a patient not tested at a visit counts as not MRD negative. {conf} CI, "
                   f"Clopper–Pearson (exact). Visits (plan response.mrd_visits): {visits}, ± "
                   f"{r.mrd_visit_window_days:g} days, the tested marrow closest to the nominal day; MRD negative: "
                   "as recorded in assessments.mrd_negative for that assay (flow cytometry: < 0.01%).",))]



UNITS = (Unit("response.mrd_visits", "MRD negativity by visit", run,
              needs=(values_in("assessments", "mrd_negative", "MRD result"), infused(),
                     rows_of(visit_rows, "no MRD result within the windows of the plan's MRD visits (response.mrd_visits)")),
              when=lambda ctx: bool(ctx.plan.response.mrd_visits)),)
