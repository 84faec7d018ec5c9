"""Table 9b: TEAEs by MedDRA system organ class and preferred term (SOC rows, PT rows indented, most frequent
first), overall and by onset window (≤ 30 days, 31 days–3 months, later: plan ``safety.teae_windows``); any grade,
grade ≥ 3, serious and related — the last two from their own ``adverse_events`` columns (``derive/teae.py``).
Needs: at least one treatment-emergent adverse event.
"""

from __future__ import annotations

import pandas as pd

from cartalysis.derive.infections import window_order
from cartalysis.derive.teae import teae_by_soc_pt
from cartalysis.report import records as R
from cartalysis.report.model import Row, Table, label
from cartalysis.report.units import text as T
from cartalysis.report.units.base import DASH_CELL, Ctx, Unit, infused, pct_cell, rows_of
from cartalysis.report.units.teae import treatment_emergent

COUNTS = (("n", "any", "any grade"), ("n_g3", "g3", "grade ≥ 3"), ("n_serious", "serious", "serious"),
          ("n_related", "related", "related"))


def _table(ctx: Ctx, key: str, title: str, window: str | None) -> Table | None:
    patients = pd.Index(ctx.infused["patient_id"])
    te = ctx.d.adae.assign(term=T.canonical(ctx.d.adae["term"]))
    t = teae_by_soc_pt(te, patients, window, ctx.plan.safety.teae_windows)
    if t.empty:
        return None
    N = len(patients)
    names = [f"{r.soc}" if r.level == "soc" else f"{r.soc} / {r.term}" for r in t.itertuples()]
    rid = T.ids(names)
    rows = []
    for r, name in zip(t.itertuples(), names):
        cells = [label(r.soc if r.level == "soc" else r.term)]
        for col, band, text in COUNTS:
            x = getattr(r, col)
            if pd.isna(x):
                cells.append(DASH_CELL)
                continue
            cells.append(pct_cell(ctx, f"safety.teae_socpt{key}.{rid[name]}.{band}", f"{name}, {text}", int(x), N))
        rows.append(Row(tuple(cells), indent=0 if r.level == "soc" else 1, heading=False))
    n_rec = ctx.n_infused
    header = (label("System organ class / preferred term"),) + tuple(label(f"{text.capitalize()}, n (%)")
                                                                    for _, _, text in COUNTS)
    foot = (f"n (%) of {n_rec.value} infused patients; a patient counts once per SOC and per PT. Serious and related "
            "from their own columns (— when not recorded). SOC not recorded: AEs without a soc.",)
    return Table(f"t09b_teae_socpt{key.replace('.', '_')}", title, header, tuple(rows), foot)


def run(ctx: Ctx) -> list:
    out = [_table(ctx, "", "Table 9b. TEAEs by system organ class and preferred term", None)]
    for k, w in enumerate(window_order(ctx.plan.safety.teae_windows)):
        out.append(_table(ctx, f".window_{R.slug(w)}", f"Table 9b.{k + 1}. TEAEs by SOC and PT with onset on days {w} "
                                                             "after infusion", w))
    return [t for t in out if t is not None]


UNITS = (Unit("safety.teae_socpt", "TEAEs by SOC and preferred term", run,
              needs=(infused(), rows_of(treatment_emergent, "no treatment-emergent adverse events in adverse_events.csv"))),)
