"""Table 6b: regression for relapse and non-relapse mortality among responders — for each of the plan's Cox
covariates, the Fine–Gray subdistribution HR (effect on the cumulative incidence) and the cause-specific HR
(effect on the rate among those still at risk), one covariate at a time.

Needs: the plan's ``CIR`` end point with at least one relapse and one death without relapse.
"""

from __future__ import annotations

import pandas as pd

from cartalysis import stats
from cartalysis.derive import POST_INFUSION_GROUPS
from cartalysis.report import records as R
from cartalysis.report.model import Note, Row, Table, c_est_ci, c_p, empty, label
from cartalysis.report.results import Record
from cartalysis.report.units.base import Ctx, Unit, lab, labels, safe, stats_levels
from cartalysis.report.units.cif import cir_rows
from cartalysis.report.units.labels import term_label
from cartalysis.report.units.regression import most_frequent

CAUSES = (("1", "cir", "Relapse"), ("2", "nrm", "Non-relapse mortality"))


def _both_causes(ctx: Ctx) -> str | None:
    codes = set(cir_rows(ctx)["evntcd"].dropna().astype(int))
    return None if {1, 2} <= codes else "relapse and death without relapse are not both observed among responders"


def _hr_record(reg, rid: str, text: str, terms: pd.DataFrame, term: str, n: int, method: str) -> Record:
    t = terms.set_index("term").loc[term]
    problem = t.get("problem") if "problem" in t.index else None
    if problem is not None and not pd.isna(problem):
        return reg.add(Record(rid, f"{text} (not estimable: {problem})", None, unit="HR", N=n, method=method))
    return reg.add(Record(rid, text, t["hr"], unit="HR", N=n, ci=(t["hr_lower"], t["hr_upper"]), p_value=t["p"],
                          method=method))


def run(ctx: Ctx) -> list:
    reg = ctx.reg
    cp = ctx.plan.cox
    df = cir_rows(ctx)[["patient_id", "aval_months", "evntcd"]]
    data = df.merge(ctx.adsl, on="patient_id", how="left", suffixes=("", "_adsl"))
    data = data.assign(time=data["aval_months"].astype(float), status=data["evntcd"].astype(int))
    notes: list = []
    covariates, categorical, flags = [], {}, set()
    post = [v for v in dict.fromkeys(cp.candidates + cp.forced) if v in POST_INFUSION_GROUPS]
    for var in dict.fromkeys(cp.candidates + cp.forced):
        if var in POST_INFUSION_GROUPS or var not in data or labels(data[var].dropna()).nunique() < 2:
            continue
        col = data[var]
        if str(col.dtype) == "boolean" or col.dtype == bool:
            data[var] = col.astype("Float64").astype(float)
            flags.add(var)
        elif col.dtype == object or isinstance(col.dtype, pd.StringDtype):
            data[var] = col.map(lambda v: None if pd.isna(v) else lab(v))
            ref = dict(cp.reference).get(var) or most_frequent(data[var].dropna())
            if ref not in stats_levels(data[var].dropna()):
                continue
            categorical[var] = ref
        covariates.append(var)
    if not covariates:
        return [Note("Relapse and non-relapse mortality: no Cox covariate with variation among responders.")]
    conf = f"{ctx.conf:.0%}"
    rows: list[Row] = []
    for var in covariates:
        cat = {var: categorical[var]} if var in categorical else None
        cs = safe(notes, stats.cause_specific_cox, data, "time", "status", [var], categorical=cat, conf_level=ctx.conf)
        fits = {pid: (safe(notes, stats.fine_gray, data, "time", "status", code, [var], categorical=cat,
                           conf_level=ctx.conf), None if cs is None else cs.get(code)) for code, pid, _ in CAUSES}
        terms = next((f.terms.term for pair in fits.values() for f in pair if f is not None), None)
        if terms is None:
            continue
        for term in terms:
            var_, _, level = str(term).partition("=")
            cells = [label(term_label(var_, level, categorical.get(var_), var_ in flags))]
            for code, pid, name in CAUSES:
                fg, cs = fits[pid]
                for kind, fit in (("finegray", fg), ("cause_specific", cs)):
                    if fit is None or (kind == "finegray" and not fit.converged):
                        cells += [label("not estimable"), empty()] if kind == "finegray" else [label("not estimable")]
                        continue
                    rec = _hr_record(reg, f"cox.{kind}.{pid}.{R.slug(term)}",
                                     f"{name} among responders, {'subdistribution' if kind == 'finegray' else 'cause-specific'}"
                                     f" HR: {term}", fit.terms, term, fit.n, fit.method)
                    est = c_est_ci(rec, 2) if rec.value is not None else label("not estimable")
                    cells += [est, c_p(rec)] if kind == "finegray" else [est]
            rows.append(Row(tuple(cells)))
    header = (label("Covariate"),) + tuple(
        c for _, _, name in CAUSES for c in (label(f"{name}: subdistribution HR ({conf} CI)"), label("P value"),
                                             label(f"{name}: cause-specific HR ({conf} CI)")))
    foot = (f"Responders, time from first CR/CRi; relapse and death without relapse compete. One covariate at a time "
            "(complete cases). Subdistribution HR: Fine–Gray model (R cmprsk::crr; effect on the cumulative incidence, "
            f"Wald {conf} CI and P with the sandwich variance). Cause-specific HR: Cox model of that cause with the other "
            "censored (effect on its rate among patients still at risk; Efron ties)." +
            (f" Not modelled: {', '.join(post)} (defined after response: immortal-time bias)." if post else ""),)
    return notes + [Table("t06b_cir_regression", "Table 6b. Relapse and non-relapse mortality: Fine–Gray and "
                          "cause-specific models", header, tuple(rows), foot)]


UNITS = (Unit("tte.cir_regression", "Fine–Gray and cause-specific models for relapse and NRM", run,
              needs=(_both_causes,), when=lambda ctx: "CIR" in ctx.plan.endpoints.params),)
