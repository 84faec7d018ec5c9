"""Table 10d: infections by pathogen class, grade and time window (day 0–30, 31–90, > 90), infection deaths,
and the cumulative incidence of the first severe infection (death without one competing; Aalen–Johansen).
Needs: at least one post-infusion infection (``infections`` table, else infection TEAEs).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cartalysis import stats
from cartalysis.derive.infections import window_order
from cartalysis.report import records as R
from cartalysis.report.model import Row, Table, c_rate, label
from cartalysis.report.units.base import DASH_CELL, Ctx, Unit, infused, rows_of, safe
from cartalysis.report.units.safety_rows import binary_row, blank, header, test_footnote


def episodes(ctx: Ctx) -> pd.DataFrame:
    a = ctx.d.adinf
    return a[a["patient_id"].isin(ctx.infused["patient_id"])] if len(a) else a


def run(ctx: Ctx) -> list:
    notes: list = []
    methods: set = set()
    ep = episodes(ctx)
    s = ctx.plan.safety
    inf = ctx.infused.copy()
    rows = [blank(ctx, "Patients with an infection")]

    def add(rid: str, text: str, mask: pd.Series):
        ids = set(ep.loc[mask, "patient_id"])
        inf[rid] = inf["patient_id"].isin(ids)
        rows.append(binary_row(ctx, notes, methods, rid, text, rid))

    original = ctx.infused
    ctx.__dict__["infused"] = inf  # the rows read the per-patient flags added to this copy (restored below)
    add("safety.infections.any", "Any grade", ep["grade"] >= 1)
    add("safety.infections.severe", f"Grade ≥ {s.severe_infection_grade}", ep["grade"] >= s.severe_infection_grade)
    add("safety.infections.grade5", "Grade 5 (infection death)", ep["grade"] == 5)
    rows.append(blank(ctx, "By pathogen class (any grade)"))
    for cls in ("bacterial", "viral", "fungal", "other", "unknown"):
        if (ep["pathogen_class"] == cls).any():
            add(f"safety.infections.class.{cls}", cls.capitalize(), ep["pathogen_class"] == cls)
    rows.append(blank(ctx, "By onset window, days after infusion (any grade / severe)"))
    for w in window_order(s.infection_windows):
        slug = R.slug(w)
        add(f"safety.infections.window.{slug}", f"Day {w}", ep["window"] == w)
        add(f"safety.infections.window.{slug}.severe", f"Day {w}, grade ≥ {s.severe_infection_grade}",
            (ep["window"] == w) & (ep["grade"] >= s.severe_infection_grade))
    cols = ctx.columns()
    rows.append(blank(ctx, "Cumulative incidence of the first severe infection (death competing)"))
    for t in (30.0, 90.0, 180.0, 365.0):
        cells = [label(f"Day {t:g}, % (95% CI)")]
        for _, sfx, df, _ in cols:
            d = df[df["sev_inf_time"].notna()]
            cr = safe(notes, stats.cumulative_incidence, d["sev_inf_time"].astype(float),
                      d["sev_inf_status"].astype(int), conf_level=ctx.conf) if len(d) else None
            curve = next((c for c in cr.curves if c.cause == "1"), None) if cr else None
            at = curve.at([t]).iloc[0] if curve is not None else None
            if at is None or not np.isfinite(at["cif"]):
                cells.append(DASH_CELL)
                continue
            rec = R.rate(ctx.reg, f"safety.infections.cif_severe.d{t:g}{sfx}", f"First severe infection by day {t:g}",
                         at, curve.method)
            cells.append(c_rate(rec))
        if ctx.groups:
            cells.append(DASH_CELL)
        rows.append(Row(tuple(cells), indent=1))
    ctx.__dict__["infused"] = original
    rows = [r for r in rows if r is not None]
    rows = [r for i, r in enumerate(rows) if not (r.heading and (i + 1 == len(rows) or rows[i + 1].heading))]
    src = "infections.csv" if (ep["source"] == "infections").any() else "the infection TEAEs of adverse_events.csv " \
        "(pathogen class not recorded there: unknown)"
    foot = (f"Source: {src}. n/N (%) of infused patients; a patient counts once per row. Cumulative incidence: "
            "Aalen–Johansen, death without a severe infection as competing event, censored at last known alive.",) \
        + test_footnote(ctx, methods)
    return notes + [Table("t10d_infections", "Table 10d. Infections by pathogen class, grade and time window",
                          header(ctx, "Item"), tuple(rows), foot)]


UNITS = (Unit("safety.infections", "infections by pathogen, grade and window", run,
              needs=(infused(), rows_of(episodes, "no post-infusion infection recorded"))),)
