"""The ICH E3 elements of a trial report that are not results: analysis sets (who is in each population and why),
the sample-size justification from the plan, and manufacturing and vein-to-vein times.

Analysis sets need at least one patient in the study; the sample size is shown when the plan tests the ORR
(``efficacy.orr = "test"``) with a ``target_rate``; the times need the dates they are computed from.
"""

from __future__ import annotations

import pandas as pd

from cartalysis import stats
from cartalysis.report import fmt
from cartalysis.report import records as R
from cartalysis.report.model import Cell, Row, Table, c_count, c_median_range, c_n_pct, label
from cartalysis.report.results import Record
from cartalysis.report.units.base import Ctx, Unit, flag, infused, safe
from cartalysis.stats.describe import describe


def _any_patient(ctx: Ctx) -> str | None:
    return None if len(ctx.adsl) else "no patients in subjects.csv"


def analysis_sets(ctx: Ctx) -> list:
    """Table 1a: each analysis set with its definition and size (ICH E3 §9.7.1 / E9 §5.2)."""
    a, reg = ctx.adsl, ctx.reg
    sets = [
        ("itt", "Intention to treat (ITT)", flag(a["ittfl"]),
         "all enrolled patients (subjects.enrolled), whether or not they were infused"),
        ("infused", "Infused / modified ITT and safety set", flag(a["saffl"]),
         "enrolled patients who received the CAR-T infusion (subjects.infusion_date); all efficacy end points "
         "except ITT rates and all safety tables use this set"),
        ("evaluable", "Response-evaluable set", flag(a["saffl"]) & flag(a["response_evaluable"]),
         "infused patients with at least one post-infusion response assessment"),
    ]
    dfs = flag(a["saffl"]) & a["disease_status"].isin(ctx.plan.population.dfs_statuses).to_numpy()
    if "DFS" in ctx.plan.endpoints.params and dfs.any():  # a study infusing patients in remission (CR1 design)
        sets.append(("dfs", "Disease-free survival set", dfs,
                     "infused patients in remission at infusion (the disease statuses of plan population.dfs_statuses)"))
    rows = []
    for key, name, mask, definition in sets:
        n = R.count(reg, f"population.set.{key}", f"{name}: patients", int(mask.sum()))
        rows.append(Row((label(name), c_count(n), label(definition))))
    return [Table("t01a_analysis_sets", "Table 1a. Analysis sets",
                  (label("Analysis set"), label("Patients, n"), label("Definition")), tuple(rows),
                  ("Response rates use the plan's denominator (response.denominator): " + ctx.response_pop_text + ".",))]


def _tested(ctx: Ctx) -> bool:
    return ctx.plan.efficacy.orr == "test" and ctx.plan.efficacy.target_rate is not None


def sample_size(ctx: Ctx) -> list:
    """Table 1c: the exact single-arm design the plan implies (A'Hern 2001) and the number actually infused."""
    e, reg = ctx.plan.efficacy, ctx.reg
    sided = "one-sided" if e.sided == "one" else "two-sided"
    notes: list = []
    d = safe(notes, stats.single_arm_design, e.null_rate, e.target_rate, e.alpha, e.power, sided)
    if d is None:
        return notes
    n_rec = reg.add(Record("design.n", "Smallest sample size reaching the target power (and every larger n)",
                           d.smallest_n_stable, unit="patients",
                           method=f"exact single-stage binomial design (A'Hern 2001), {sided}"))
    row = d.table[d.table["n"] == d.smallest_n_stable].iloc[0] if d.smallest_n_stable is not None else None
    def setting(key: str, text: str, value: float, unit: str) -> Row:
        rec = reg.add(Record(f"design.{key}", text, value, unit=unit, method="analysis plan (sap.toml [efficacy])"))
        return Row((label(text + (", %" if unit == "%" else "")), Cell(fmt.num(value, 3 if unit != "%" else 1)
                                                                    .rstrip("0").rstrip("."), (rec.id,))))

    rows = [setting("null_rate", "Null (historical control) response rate", 100 * e.null_rate, "%"),
            setting("target_rate", "Response rate the trial is powered for", 100 * e.target_rate, "%"),
            setting("alpha", f"Significance level ({sided})", e.alpha, ""),
            setting("target_power", "Target power", 100 * e.power, "%"),
            Row((label("Patients needed"), c_count(n_rec) if n_rec.value is not None else Cell("not reached by n = 200")))]
    if row is not None:
        crit = reg.add(Record("design.critical", "Responders needed to reject the null hypothesis at that n",
                              int(row["critical"]), unit="patients"))
        rows.append(Row((label("Responders needed to reject H0"), c_count(crit))))
        pw = reg.add(Record("design.power", "Exact power at that n", 100 * float(row["power"]), unit="%"))
        rows.append(Row((label("Exact power at that n, %"), Cell(fmt.num(pw.value), (pw.id,)))))
    rows.append(Row((label("Infused patients in this study"), c_count(ctx.n_infused))))
    return notes + [Table("t01c_sample_size", "Table 1c. Sample-size justification",
                          (label("Design element"), label("Value")), tuple(rows),
                          ("From the plan (efficacy.null_rate, target_rate, alpha, sided, power): the smallest n from "
                           "which every larger n reaches the target power with an exact binomial test; exact power "
                           "saw-tooths in n, hence 'every larger n'.",))]


TIMES = (("apheresis_to_release", "Apheresis to product release (manufacturing), days", "apheresis_date", "release_date"),
         ("apheresis_to_infusion", "Apheresis to infusion (vein-to-vein), days", "apheresis_date", "infusion_date"),
         ("enrolment_to_infusion", "Screening to infusion, days", "screening_date", "infusion_date"),
         ("ld_end_to_infusion", "End of lymphodepletion to infusion, days", "ld_end_date", "infusion_date"))


def _some_time(ctx: Ctx) -> str | None:
    inf = ctx.infused
    ok = any(a in inf and b in inf and (inf[a].notna() & inf[b].notna()).any() for _, _, a, b in TIMES)
    return None if ok else "no apheresis, release or lymphodepletion dates of infused patients in subjects.csv"


def timelines(ctx: Ctx) -> list:
    """Table 1d: manufacturing and vein-to-vein times of infused patients, median (range), and bridging therapy."""
    inf, reg = ctx.infused, ctx.reg
    rows = []
    for key, text, a, b in TIMES:
        if a not in inf or b not in inf:
            continue
        days = ((inf[b] - inf[a]) / pd.Timedelta(days=1)).dropna()
        if days.empty:
            continue
        s = describe(days)
        recs = {st: reg.add(Record(f"product.{key}.{st}", f"{text}: {st}", getattr(s, st), unit="days", N=s.n,
                                   method=s.method)) for st in ("median", "min", "max")}
        n = R.count(reg, f"product.{key}.n", f"{text}: patients with both dates", s.n)
        rows.append(Row((label(text), c_count(n), c_median_range(recs["median"], recs["min"], recs["max"], 0))))
    if "bridging" in inf and inf["bridging"].notna().any():
        known = inf["bridging"].notna()
        rec = R.proportion(reg, "product.bridging", "Bridging therapy between apheresis and lymphodepletion",
                           ctx.prop(int(flag(inf["bridging"]).sum()), int(known.sum())), with_ci=False)
        k = R.count(reg, "product.bridging.n", "Bridging therapy recorded: patients", int(known.sum()))
        rows.append(Row((label("Bridging therapy, n (%)"), c_count(k), c_n_pct(rec))))
    return [Table("t01d_product_times", "Table 1d. Manufacturing, vein-to-vein times and bridging (infused patients)",
                  (label("Interval"), label("Patients, n"), label("Median (range)")), tuple(rows),
                  ("Days between the dates in subjects.csv of each infused patient with both dates; bridging as "
                   "recorded (patients with it unrecorded are left out of its denominator).",))]


UNITS = (Unit("population.sets", "analysis sets", analysis_sets, needs=(_any_patient,)),
         Unit("design", "sample-size justification", sample_size, when=_tested),
         Unit("product.times", "manufacturing and vein-to-vein times", timelines, needs=(infused(), _some_time)))
