"""Table 10c: haematological toxicity — ANC and platelet recovery by day 28/60/90, time to recovery (median
among recovered), grade ≥ 3 cytopenia beyond day 30/90 and the ICAHT grade (EHA/EBMT 2023), from ``labs`` and
``assessments`` counts (``derive/hematology.py``). Needs: post-infusion ANC or platelet counts.
"""

from __future__ import annotations

import pandas as pd

from cartalysis.report.model import Table
from cartalysis.report.units.base import Ctx, Unit, flag, infused
from cartalysis.report.units.safety_rows import binary_row, blank, header, median_row, test_footnote


def has_counts(ctx: Ctx) -> str | None:
    a = ctx.infused
    return None if a["anc_cytopenia"].notna().any() or a["plt_cytopenia"].notna().any() else \
        "no post-infusion ANC or platelet counts in labs.csv or assessments.csv"


def run(ctx: Ctx) -> list:
    notes: list = []
    methods: set = set()
    s = ctx.plan.safety
    rows = []
    for prefix, name, thr in (("anc", "ANC", s.anc_recovery), ("plt", "Platelets", s.platelet_recovery)):
        rows.append(blank(ctx, f"{name} (recovery ≥ {thr:g} × 10^9/L on {s.recovery_confirm} consecutive counts)"))
        rows.append(binary_row(ctx, notes, methods, f"safety.cytopenia.{prefix}.cytopenic", f"Below {thr:g} after infusion",
                               f"{prefix}_cytopenia"))
        for d in s.recovery_days:
            rows.append(binary_row(ctx, notes, methods, f"safety.cytopenia.{prefix}.recovered_d{d:g}",
                                   f"Recovered by day {d:g}", f"{prefix}_recovered_d{d:g}"))
        rows.append(median_row(ctx, notes, methods, f"safety.cytopenia.{prefix}.recovery_day",
                               "Day of recovery, median (range) among recovered", f"{prefix}_recovery_day", "day",
                               lambda df, p=prefix: df[f"{p}_recovery_day"].notna()))
        for d in s.prolonged_cytopenia_days:
            rows.append(binary_row(ctx, notes, methods, f"safety.cytopenia.{prefix}.g3_beyond_d{d:g}",
                                   f"Grade ≥ 3 beyond day {d:g}", f"{prefix}_g3_beyond_d{d:g}"))
    for col, name in (("icaht_early", "Early ICAHT (days 0–30)"), ("icaht_late", f"Late ICAHT (days 31–{s.icaht_late_end_day:g})")):
        rows.append(blank(ctx, name))
        for g in (0, 1, 2, 3, 4):
            rows.append(binary_row(ctx, notes, methods, f"safety.cytopenia.{col}.grade{g}", f"Grade {g}", col,
                                   truth=lambda v, g=g: (v.astype("Float64") == g).astype("boolean")))
        rows.append(binary_row(ctx, notes, methods, f"safety.cytopenia.{col}.grade3plus", "Grade ≥ 3", col,
                               truth=lambda v: (v.astype("Float64") >= 3).astype("boolean")))
    rows = [r for r in rows if r is not None]
    rows = [r for i, r in enumerate(rows) if not (r.heading and (i + 1 == len(rows) or rows[i + 1].heading))]
    foot = ("n/N (%): N = infused patients with counts for the item. Recovery after the last low count (CIBMTR); "
            "not recovered = measured on/after the day or dead before it; patients without counts at that time are "
            "not in N. Grade ≥ 3 beyond day D: first count in [D, D + "
            f"{s.prolonged_window_days:g}] is ANC < 1.0 or platelets < 50 × 10^9/L. ICAHT: Rejeski et al., Blood "
            f"2023 (days between counts: {s.count_fill}).",) + test_footnote(ctx, methods)
    return notes + [Table("t10c_cytopenia", "Table 10c. Haematological toxicity: count recovery, prolonged cytopenia "
                          "and ICAHT", header(ctx, "Item"), tuple(rows), foot)]


UNITS = (Unit("safety.cytopenia", "count recovery and ICAHT", run, needs=(infused(), has_counts)),)
