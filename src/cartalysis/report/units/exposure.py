"""Table 13b and Figure 6b: exposure–response and exposure–safety — Cmax by best response, CRS grade and ICANS
(box/strip figure; the tests are in Table 13 and here for ICANS), cytokine peaks (days 0–28) by CRS grade with a
between-grade test, and CAR-T in cerebrospinal fluid where sampled. Needs: Cmax for at least one infused patient.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cartalysis import stats
from cartalysis.derive.cytokines import PEAK_TESTS
from cartalysis.report import figures as F
from cartalysis.report import records as R
from cartalysis.report.model import Row, Table, c_count, c_median_range, c_n_of_N_pct, c_p, empty, label
from cartalysis.report.units.base import DASH_CELL, Ctx, Unit, flag, infused, safe

TEST_NAMES = {"il6": "IL-6, pg/mL", "il8": "IL-8, pg/mL", "il10": "IL-10, pg/mL", "ifng": "IFN-γ, pg/mL",
              "ferritin": "Ferritin, ng/mL", "crp": "CRP, mg/dL"}


def has_cmax(ctx: Ctx) -> str | None:
    return None if ctx.infused["cmax"].notna().any() else "no Cmax (no quantifiable pk samples)"


def crs_level(a: pd.DataFrame) -> pd.Series:
    g = a["crs_grade"].astype(float)
    return pd.Series(np.where(g.isna(), None, np.where(g >= 3, "CRS grade ≥ 3", np.where(g >= 1, "CRS grade 1–2",
                                                                                       "no CRS"))), index=a.index)


def groupings(a: pd.DataFrame, with_response: bool) -> list[tuple[str, str, pd.Series, list[str]]]:
    out = []
    if with_response:
        resp = a["bor"].astype(object).map(lambda b: None if pd.isna(b) else ("CR/CRi" if b in ("CR", "CRi") else "no CR/CRi"))
        out.append(("by_response", "Best response", resp, ["CR/CRi", "no CR/CRi"]))
    out.append(("by_crs", "CRS grade", crs_level(a), ["no CRS", "CRS grade 1–2", "CRS grade ≥ 3"]))
    icans = a["icans"].astype("boolean").map(lambda v: None if pd.isna(v) else ("ICANS" if v else "no ICANS"))
    out.append(("by_icans", "ICANS", icans, ["no ICANS", "ICANS"]))
    return out


def _block(ctx: Ctx, notes: list, methods: set, rid: str, text: str, v: pd.Series, g: pd.Series, levels: list[str],
           unit: str) -> list[Row]:
    ok = v.notna() & g.notna()
    present = [lv for lv in levels if (g[ok] == lv).any()]
    if not present:
        return []
    head = [label(text), empty(), empty(), DASH_CELL]
    rows = []
    for lv in present:
        s = stats.describe(v[ok & (g == lv)].astype(float))
        r = R.summary(ctx.reg, f"{rid}.{R.slug(lv)}", f"{text}, {lv}", s, unit, ("n", "median", "min", "max"))
        rows.append(Row((label(lv), c_count(r["n"]), c_median_range(r["median"], r["min"], r["max"], 1), empty()),
                        indent=1))
    if len(present) >= 2:
        t = safe(notes, stats.compare_continuous, v[ok].astype(float), g[ok])
        if t is not None:
            methods.add(t.method)
            head[3] = c_p(R.test(ctx.reg, f"{rid}.test", f"{text}: test", t))
    return [Row(tuple(head), heading=True)] + rows


def run(ctx: Ctx) -> list:
    notes: list = []
    methods: set = set()
    a = ctx.infused.set_index("patient_id")
    with_resp = ctx.plan.efficacy.orr != "none"
    rows: list[Row] = []
    for by, by_text, g, levels in groupings(a, with_resp):
        if by != "by_icans":  # Cmax by response and by CRS grade are tested in Table 13
            continue
        for col, name in (("cmax", "Cmax, copies/µg gDNA"), ("auc0_28", "AUC0–28d, copies/µg gDNA × day")):
            rows += _block(ctx, notes, methods, f"pk.exposure.{col}.{by}", f"{name} by {by_text}", a[col], g, levels,
                           "copies/ug gDNA")
    for test in PEAK_TESTS:
        col = f"peak_{test}"
        if a[col].notna().any():
            rows += _block(ctx, notes, methods, f"pk.exposure.{col}.by_crs", f"Peak {TEST_NAMES[test]} by CRS grade",
                           a[col], crs_level(a), ["no CRS", "CRS grade 1–2", "CRS grade ≥ 3"], TEST_NAMES[test])
    csf = a["csf_detected"].dropna()
    if len(csf):
        p = ctx.prop(int(csf.astype(bool).sum()), len(csf))
        rec = R.proportion(ctx.reg, "pk.exposure.csf_detected", "CAR-T detected in CSF (of patients sampled)", p,
                           with_ci=False)
        rows.append(Row((label("CAR-T detected in CSF, n/N sampled"), c_count(R.count(ctx.reg, "pk.exposure.csf_sampled",
                        "Patients with a CSF sample", len(csf))), c_n_of_N_pct(rec), empty())))
    out = list(notes)
    if rows:
        out.append(Table("t13b_exposure", "Table 13b. Exposure–safety: Cmax and AUC by ICANS, cytokine peaks by CRS "
                         "grade, CSF", (label("Parameter / group"), label("n"), label("Median (range)"),
                                        label("P value")), tuple(rows),
                         ("Peaks: highest value on days 0–28. P values: " + ("; ".join(sorted(methods)) or "none") +
                          " (Wilcoxon rank-sum for two groups, Kruskal–Wallis for more).",)))
    panels = []
    for by, by_text, g, levels in groupings(a, with_resp):
        ok = a["cmax"].notna() & g.notna() & (a["cmax"] > 0)
        groups = [(lv, a.loc[ok & (g == lv), "cmax"].to_numpy(float)) for lv in levels if (ok & (g == lv)).any()]
        if groups:
            panels.append((by_text, groups))
    if panels:
        fig = F.box_strip_figure(panels, ylabel="Cmax, copies/µg gDNA (log scale)")
        out.append(ctx.figure("f06b_cmax_box", "Figure 6b. Cmax by best response, CRS grade and ICANS", fig,
                              "Box: median and quartiles, whiskers to 1.5 × IQR; points: patients."))
    return out


UNITS = (Unit("pk.exposure", "exposure–response and exposure–safety", run, needs=(infused(), has_cmax)),)
