"""Table 10e: B-cell aplasia and immunoglobulins — aplasia, Kaplan–Meier duration of aplasia (time to B-cell
recovery), loss of aplasia before a CD19+ relapse, lowest IgG, IgG below the plan's cut-off, IVIG use, and the
hypogammaglobulinaemia adverse event (onset and duration). Needs: CD19+ B-cell or IgG counts in ``labs``, or a
hypogammaglobulinaemia TEAE.
"""

from __future__ import annotations

from cartalysis import stats
from cartalysis.report import records as R
from cartalysis.report.model import Row, Table, c_median, label
from cartalysis.report.units.base import DASH_CELL, Ctx, Unit, flag, infused, safe
from cartalysis.report.units.safety_rows import binary_row, blank, header, median_row, test_footnote


def has_data(ctx: Ctx) -> str | None:
    a = ctx.infused
    if a["bca"].notna().any() or a["igg_min"].notna().any() or flag(a["hypogamma"]).any():
        return None
    return "no CD19+ B-cell or IgG values in labs.csv and no hypogammaglobulinaemia adverse event"


def run(ctx: Ctx) -> list:
    notes: list = []
    methods: set = set()
    s = ctx.plan.safety
    k = "safety.bcells"
    rows = [blank(ctx, f"B-cell aplasia (CD19+ < {s.bcell_recovery_cd19:g} cells/µL)")]
    rows.append(binary_row(ctx, notes, methods, f"{k}.aplasia", "B-cell aplasia after infusion", "bca"))
    cells = [label("Duration of aplasia, median (95% CI), days")]
    for _, sfx, df, _ in ctx.columns():
        d = df[df["bca_time"].notna()]
        km = safe(notes, stats.kaplan_meier, d["bca_time"].astype(float), d["bca_event"].astype(int),
                  conf_level=ctx.conf) if len(d) else None
        if km is None:
            cells.append(DASH_CELL)
            continue
        rec = R.quantile(ctx.reg, f"{k}.duration_km{sfx}", "Duration of B-cell aplasia (Kaplan–Meier median)",
                         km.median, "days", n=len(d))
        cells.append(c_median(rec, int(d["bca_event"].astype(int).sum())))
    if ctx.infused["bca_time"].notna().any():
        rows.append(Row(tuple(cells) + ((DASH_CELL,) if ctx.groups else ()), indent=1))
    rows.append(binary_row(ctx, notes, methods, f"{k}.loss_before_cd19pos_relapse",
                           "Loss of aplasia before CD19+ relapse (of CD19+ relapses with aplasia)",
                           "bca_loss_before_cd19pos_relapse"))
    rows.append(blank(ctx, "Immunoglobulin G"))
    rows.append(median_row(ctx, notes, methods, f"{k}.igg_min", "Lowest IgG after infusion, mg/dL", "igg_min", "mg/dL",
                           digits=0))
    rows.append(binary_row(ctx, notes, methods, f"{k}.igg_low", f"IgG < {s.igg_low_mg_dl:g} mg/dL", "igg_low"))
    rows.append(binary_row(ctx, notes, methods, f"{k}.ivig", "IVIG given", "ivig"))
    rows.append(blank(ctx, "Hypogammaglobulinaemia (adverse event)"))
    rows.append(binary_row(ctx, notes, methods, f"{k}.hypogamma", "Any grade", "hypogamma"))
    hyp = lambda df: flag(df["hypogamma"])  # noqa: E731
    rows.append(median_row(ctx, notes, methods, f"{k}.hypogamma_onset", "Onset, day", "hypogamma_onset_day", "day", hyp))
    rows.append(median_row(ctx, notes, methods, f"{k}.hypogamma_duration", "Duration, days", "hypogamma_duration_days",
                           "days", hyp))
    rows = [r for r in rows if r is not None]
    rows = [r for i, r in enumerate(rows) if not (r.heading and (i + 1 == len(rows) or rows[i + 1].heading))]
    foot = (f"Recovery = {s.bcell_recovery_confirm} consecutive CD19+ counts ≥ {s.bcell_recovery_cd19:g} cells/µL "
            "(plan [safety]); duration of aplasia by Kaplan–Meier, censored at the last count, HSCT or new therapy. "
            "IVIG needs concomitant_meds (unknown, not 'no', without it).",) + test_footnote(ctx, methods)
    return notes + [Table("t10e_bcells", "Table 10e. B-cell aplasia, IgG and IVIG", header(ctx, "Item"), tuple(rows),
                          foot)]


UNITS = (Unit("safety.bcells", "B-cell aplasia and immunoglobulins", run, needs=(infused(), has_data)),)
