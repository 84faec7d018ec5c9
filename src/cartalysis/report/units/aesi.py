"""Table 10: any TEAE, grade ≥ 3 TEAE and the adverse events of special interest — CRS and ICANS (ASTCT grade,
onset, duration), HLH/MAS, hypogammaglobulinemia, infection — with tocilizumab and corticosteroid use.

Needs: at least one infused patient.
"""

from __future__ import annotations

from cartalysis.report import records as R
from cartalysis.report.model import Note, Row, Table, c_header_N, c_median_range, empty, label
from cartalysis.report.units.base import DASH_CELL, Ctx, Unit, flag, infused, pct_cell
from cartalysis.stats.describe import describe

AESI = (
    ("crs", "crs_g3", "Cytokine release syndrome (ASTCT)"),
    ("icans", "icans_g3", "ICANS (ASTCT)"),
    ("hlh", None, "HLH/MAS"),
    ("hypogamma", None, "Hypogammaglobulinemia"),
    ("infection", "infection_g3", "Infection"),
)


def run(ctx: Ctx) -> list:
    cols = ctx.columns()
    header_cols = [c_header_N(name, nrec) for name, _, _, nrec in cols]
    notes: list = []
    rows = []
    hdr = [label("Adverse event of special interest")] + header_cols
    for flag_col, rid, text in (("teae", "safety.teae.any", "Any TEAE"),
                                ("teae_g3", "safety.teae.grade3plus", "Any grade ≥ 3 TEAE")):
        cells = [label(text)]
        for _, sfx, df, _ in cols:
            cells.append(pct_cell(ctx, rid + sfx, text, int(flag(df[flag_col]).sum()), len(df)))
        rows.append(Row(tuple(cells)))
    for flag_col, g3_col, text in AESI:
        if flag_col not in ctx.adsl or ctx.infused[flag_col].notna().sum() == 0:
            continue
        rows.append(Row((label(text),) + tuple(empty() for _ in cols), heading=True))
        cells = [label("Any grade")]
        for _, sfx, df, _ in cols:
            cells.append(pct_cell(ctx, f"safety.{flag_col}.any{sfx}", f"{text}, any grade",
                                   int(flag(df[flag_col]).sum()), len(df)))
        rows.append(Row(tuple(cells), indent=1))
        grade_col = f"{flag_col}_grade"
        if g3_col or grade_col in ctx.adsl:
            cells = [label("Grade ≥ 3")]
            for _, sfx, df, _ in cols:
                x = int(flag(df[g3_col]).sum()) if g3_col else int((df[grade_col].astype(float) >= 3).sum())
                cells.append(pct_cell(ctx, f"safety.{flag_col}.grade3plus{sfx}", f"{text}, grade ≥ 3", x, len(df)))
            rows.append(Row(tuple(cells), indent=1))
        if flag_col in ("crs", "icans"):
            for k in (1, 2, 3, 4, 5):
                cells = [label(f"Grade {k}")]
                for _, sfx, df, _ in cols:
                    x = int((df[f"{flag_col}_grade"].astype(float) == k).sum())
                    cells.append(pct_cell(ctx, f"safety.{flag_col}.grade{k}{sfx}", f"{text}, maximum grade {k}",
                                           x, len(df)))
                rows.append(Row(tuple(cells), indent=1))
            for what, col, unit in (("onset", f"{flag_col}_onset_day", "day"),
                                    ("duration", f"{flag_col}_duration_days", "days")):
                cells = [label(f"{'Onset, day' if what == 'onset' else 'Duration, days'}: median (range)")]
                for _, sfx, df, _ in cols:
                    s = describe(df.loc[flag(df[flag_col]), col])
                    if s.n == 0:
                        cells.append(DASH_CELL)
                        continue
                    r = R.summary(ctx.reg, f"safety.{flag_col}.{what}", f"{text} {what}" +
                                  (f" ({sfx[1:]})" if sfx else ""), s, unit, ("median", "min", "max"), sep="_",
                                  suffix=sfx)
                    cells.append(c_median_range(r["median"], r["min"], r["max"], 1))
                rows.append(Row(tuple(cells), indent=1))
    for col, text in (("tocilizumab", "Tocilizumab"), ("steroids", "Corticosteroids")):
        if col in ctx.adsl and ctx.infused[col].notna().any():
            cells = [label(f"{text}, n (%)")]
            for _, sfx, df, _ in cols:
                cells.append(pct_cell(ctx, f"safety.{col}{sfx}", f"{text} given", int(flag(df[col]).sum()), len(df)))
            rows.append(Row(tuple(cells)))
    if not ("tocilizumab" in ctx.adsl and ctx.infused["tocilizumab"].notna().any()):
        notes.append(Note("No daily toxicity data (toxicity_daily not supplied): CRS and ICANS come from the adverse-"
                          "event grades; tocilizumab and corticosteroid use are not available."))
    return notes + [Table("t10_aesi", "Table 10. Adverse events of special interest, CRS and ICANS", tuple(hdr),
                        tuple(rows),
                        ("n (%) of infused patients. CRS and ICANS graded by ASTCT 2019 consensus; onset in days "
                         "after infusion and duration (inclusive) of the first episode, median (range) among "
                         "patients with the event.",))]


UNITS = (Unit("safety.aesi", "adverse events of special interest", run, needs=(infused(),)),)
