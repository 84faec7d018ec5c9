"""Tables 12–13 and Figure 6: cellular kinetics — Cmax, Tmax, AUC0–28d and persistence (non-compartmental, from
ADPP), Cmax and AUC by response and by CRS grade, and the individual transgene profiles.

Needs: samples in pk.csv, infused patients, and parameters in the plan's matrix (``pk.matrix``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cartalysis import stats
from cartalysis.report import figures as F
from cartalysis.report import fmt
from cartalysis.report import records as R
from cartalysis.report.model import Cell, Row, Table, c_count, c_median_range, c_p, empty, label
from cartalysis.report.units.base import Ctx, Unit, infused, rows_in, safe
from cartalysis.stats.describe import describe


PK_PARAMS = (
    # (adpp param, id, label, unit, geometric mean shown, decimals)
    ("CMAX", "cmax", "Cmax", "copies/µg gDNA", True, 0),
    ("TMAX", "tmax", "Tmax", "days", False, 1),
    ("AUCINT", "auc0_28", "AUC0–28d", "copies/µg gDNA × day", True, 0),
    ("TLST", "persistence", "Persistence (last day ≥ LLOQ)", "days", True, 1),
)


def parameters(ctx: Ctx) -> pd.DataFrame:
    """ADPP rows of infused patients in the plan's matrix (``pk.matrix``)."""
    adpp = ctx.d.adpp
    return adpp[(adpp["matrix"] == ctx.plan.pk.matrix) & adpp["patient_id"].isin(ctx.infused["patient_id"])]


def _matrix(ctx: Ctx) -> str | None:
    return None if len(parameters(ctx)) else f"no samples in the {ctx.plan.pk.matrix} matrix (plan pk.matrix) in pk.csv"


NEEDS = (rows_in("pk", "cellular-kinetics samples"), infused(), _matrix)


def run(ctx: Ctx) -> list:
    matrix = ctx.plan.pk.matrix
    pp = parameters(ctx)
    reg = ctx.reg
    rows = []
    for param, pid, text, unit, geo, digits in PK_PARAMS:
        vals = pp.loc[pp["param"] == param, "aval"]
        s = describe(vals)
        if s.n == 0:
            continue
        which = ("n", "median", "min", "max") + (("geo_mean", "geo_cv") if geo else ())
        r = R.summary(reg, f"pk.{pid}", text, s, unit, which)
        rows.append(Row((label(f"{text}, {unit}"), c_count(r["n"]), c_median_range(r["median"], r["min"], r["max"],
                                                                                     digits),
                         Cell(f"{fmt.num(r['geo_mean'].value, digits)} ({fmt.num(r['geo_cv'].value, 1)})",
                              (r["geo_mean"].id, r["geo_cv"].id)) if geo and r["geo_mean"].value is not None
                         else empty())))
    return [Table("t12_pk", f"Table 12. Cellular kinetics ({matrix}, transgene by qPCR)",
                          (label("Parameter"), label("n"), label("Median (range)"), label("Geometric mean (CV%)")),
                          tuple(rows),
                          (f"Non-compartmental analysis (plan [pk]: AUC {ctx.plan.pk.auc_method}, BLQ rule "
                           f"{ctx.plan.pk.blq}); geometric CV% = 100·sqrt(exp(s²) − 1), s = SD of log values.",))]


def run_by_group(ctx: Ctx) -> list:
    pp = parameters(ctx)
    notes: list = []
    reg = ctx.reg
    inf = ctx.infused.set_index("patient_id")
    resp = inf["bor"].astype(object).isin(["CR", "CRi"]).map({True: "responder", False: "non-responder"})
    crs_g = inf["crs_grade"].astype(float)
    crs_lab = pd.Series(np.where(crs_g.isna(), None, np.where(crs_g >= 3, "grade ≥ 3", np.where(
        crs_g >= 1, "grade 1–2", "none"))), index=inf.index)
    rows = []
    methods = set()
    bys = [("by_response", "Best response", resp), ("by_crs", "CRS", crs_lab)]
    if ctx.plan.efficacy.orr == "none":  # infused in remission: response is not an endpoint to compare kinetics by
        bys = bys[1:]
    for by, by_text, grouping in bys:
        for param, pid, text, unit, _, _ in PK_PARAMS:
            if param not in ("CMAX", "AUCINT"):
                continue
            v = pp[pp["param"] == param].set_index("patient_id")["aval"]
            g = grouping.reindex(v.index)
            ok = v.notna() & g.notna()
            if ok.sum() == 0:
                continue
            levels = [lv for lv in ("responder", "non-responder", "none", "grade 1–2", "grade ≥ 3")
                      if lv in set(g[ok])]
            rows.append(Row((label(f"{text} by {by_text.lower()}"), empty(), empty(), empty()), heading=True))
            for lv in levels:
                s = describe(v[ok & (g == lv)])
                r = R.summary(reg, f"pk.{pid}.{by}.{R.slug(lv)}", f"{text}, {by_text.lower()} {lv}", s, unit,
                              ("n", "median", "min", "max"))
                rows.append(Row((label(lv), c_count(r["n"]), c_median_range(r["median"], r["min"], r["max"], 0),
                                 empty()), indent=1))
            if len(levels) >= 2:
                t = safe(notes, stats.compare_continuous, v[ok].astype(float), g[ok])
                if t is not None:
                    methods.add(t.method)
                    rec = R.test(reg, f"pk.{pid}.{by}.test", f"{text} by {by_text.lower()}: test", t)
                    cells = list(rows[-len(levels) - 1].cells)
                    cells[3] = c_p(rec)
                    rows[-len(levels) - 1] = Row(tuple(cells), heading=True)
    if not rows:
        return notes
    title = "Table 13. Cmax and AUC0–28d by " + ("response and by " if len(bys) == 2 else "") + "CRS grade"
    return notes + [Table("t13_pk_by_group", title,
                  (label("Parameter / group"), label("n"), label("Median (range)"), label("P value")), tuple(rows),
                  ("P values: " + ("; ".join(sorted(methods)) if methods else "not computed") +
                   " (Wilcoxon rank-sum for two groups, Kruskal–Wallis for more).",))]


def run_profiles(ctx: Ctx) -> list:
    matrix = ctx.plan.pk.matrix
    pk = ctx.study.tables["pk"]
    pk = pk[(pk["matrix"] == matrix) & pk["patient_id"].isin(ctx.infused["patient_id"]) & (pk["day"] >= 0)]
    if pk.empty:
        return []
    quant = pk[pk["value"].notna() & ~(pk["value"] < pk["lloq"].fillna(-np.inf))]
    if quant.empty:
        return []
    profiles = [(g["day"].to_numpy(float), g["value"].to_numpy(float))
                for _, g in quant.sort_values(["patient_id", "day"]).groupby("patient_id", sort=True)]
    if len(profiles) > 300:  # a readable plot: every k-th patient (deterministic); the median uses all
        step = int(np.ceil(len(profiles) / 300))
        profiles = profiles[::step]
    days = np.round(quant["day"].to_numpy(float))
    med_x, med_y = [], []
    for day in np.unique(days):
        s = describe(quant["value"].to_numpy(float)[days == day])
        if s.n >= 3:
            med_x.append(day)
            med_y.append(s.median)
    lloq = quant["lloq"].dropna()
    fig = F.spaghetti_figure(profiles, (np.array(med_x), np.array(med_y)), xlabel="Days since infusion",
                             ylabel="Transgene, copies/µg gDNA (log scale)",
                             lloq=float(lloq.iloc[0]) if len(lloq) and lloq.nunique() == 1 else None)
    return [ctx.figure("f06_pk_spaghetti", "Figure 6. CAR-T expansion and persistence", fig,
                      "Individual profiles (grey; quantifiable samples) and the median at each nominal day with ≥ 3 "
                      "samples (red).")]


UNITS = (Unit("pk", "cellular kinetics", run, needs=NEEDS),
         Unit("pk.by_group", "kinetics by response and CRS", run_by_group, needs=NEEDS),
         Unit("pk.profiles", "transgene profiles", run_profiles, needs=NEEDS))
