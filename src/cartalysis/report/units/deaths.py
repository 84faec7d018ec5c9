"""Table 11: deaths by timing (early deaths within plan ``toxicity.early_death_days``) and cause (causes grouped
after normalisation, ``text.canonical``).

Needs: at least one infused patient.
"""

from __future__ import annotations

from cartalysis.report.model import Row, Table, c_header_N, empty, label
from cartalysis.report.units import text as T
from cartalysis.report.units.base import Ctx, Unit, flag, infused, pct_cell


def death_row(ctx: Ctx, cols, rid: str, text: str, mask_fn, indent: int = 0) -> Row:
    cells = [label(text)]
    for _, sfx, df, _ in cols:
        cells.append(pct_cell(ctx, rid + sfx, text, int(mask_fn(df).sum()), len(df)))
    return Row(tuple(cells), indent=indent)


def run(ctx: Ctx) -> list:
    cols = ctx.columns()
    header_cols = [c_header_N(name, nrec) for name, _, _, nrec in cols]
    cause_of = T.canonical(ctx.infused["death_cause"]).fillna("unknown").astype(str)
    rows = []
    rows.append(death_row(ctx, cols, "safety.deaths", "Deaths", lambda df: flag(df["death"])))
    early = ctx.plan.toxicity.early_death_days
    rows.append(death_row(ctx, cols, "safety.deaths_30d", f"Within {early:g} days of infusion (early deaths)",
                           lambda df: flag(df["death_early"]), indent=1))
    rows.append(death_row(ctx, cols, "safety.deaths_after_30d", f"More than {early:g} days after infusion",
                           lambda df: flag(df["death"]) & ~flag(df["death_early"]), indent=1))
    causes = cause_of[flag(ctx.infused["death"])]
    if len(causes):
        rows.append(Row((label("Cause of death"),) + tuple(empty() for _ in cols), heading=True))
        shown = sorted(causes.unique(), key=lambda c: (-int((causes == c).sum()), c))
        rid = T.ids(shown)
        for cause in shown:
            rows.append(death_row(ctx, cols, f"safety.deaths.cause.{rid[cause]}", cause,
                                  lambda df, c=cause: flag(df["death"]) & (cause_of.reindex(df.index) == c),
                                  indent=1))
    return [Table("t11_deaths", "Table 11. Deaths by cause and timing", (label("Deaths"),) + tuple(header_cols),
                  tuple(rows), ("n (%) of infused patients; cause as recorded (events.detail of the death).",))]


UNITS = (Unit("safety.deaths", "deaths", run, needs=(infused(),)),)
