"""Table 3c: relapse after remission and antigen escape — relapses by CD19 status of the relapse, by time from
infusion, and the therapy given after relapse; by group when the plan sets ``groups.by``.

Needs: infused patients, at least one responder (CR/CRi) and at least one relapse among them.

Percentages: relapses of responders; CD19 status of relapses with CD19 tested (the published convention: "of 11
relapses with CD19 data, 4 CD19+ and 7 CD19−"); time windows and therapies of all relapses.
"""

from __future__ import annotations

import pandas as pd

from cartalysis.report import records as R
from cartalysis.report.model import Row, Table, c_header_N, empty, label
from cartalysis.report.units.base import DASH_CELL, Ctx, Unit, flag, infused, pct_cell, rows_of

# relapse day (from infusion) windows: (id, label, first day, last day)
WINDOWS = (("le3m", "≤ 3 months", 0, 91), ("3to6m", "> 3 to 6 months", 92, 183), ("6to12m", "> 6 to 12 months", 184, 365),
           ("gt12m", "> 12 months", 366, float("inf")))
THERAPY_LABELS = {"tki": "Tyrosine kinase inhibitor", "chemotherapy": "Chemotherapy", "inotuzumab": "Inotuzumab ozogamicin",
                  "blinatumomab": "Blinatumomab", "car_t": "CAR T cells", "radiotherapy": "Radiotherapy", "other": "Other"}


def responders(ctx: Ctx) -> pd.DataFrame:
    return ctx.infused[flag(ctx.infused["bor_orr"])]


def relapsed(ctx: Ctx) -> pd.DataFrame:
    r = responders(ctx)
    return r[flag(r["relapse"])]


def run(ctx: Ctx) -> list:
    """Counts of relapsed responders by CD19 status, time window and later therapy (n (%) of the denominators in
    the module docstring), per group column and in total."""
    cols = []
    for title, suffix, df, _ in ctx.columns():
        resp = df[flag(df["bor_orr"])]
        cols.append((title, suffix, resp, resp[flag(resp["relapse"])]))
    reg = ctx.reg
    header = [label("Responders (CR/CRi)")]
    for title, suffix, resp, _ in cols:
        header.append(c_header_N(title, R.count(reg, f"relapse.responders{suffix}", f"Responders, {title}", len(resp))))
    rows: list[Row] = []

    def row(text: str, rid: str, counts, indent: int = 1, heading: bool = False) -> None:
        cells = [label(text)]
        for (title, suffix, *_), (x, n) in zip(cols, counts):
            cells.append(pct_cell(ctx, f"{rid}{suffix}", f"{text} ({title})", x, n) if n else DASH_CELL)
        rows.append(Row(tuple(cells), indent=indent, heading=heading))

    row("Relapse", "relapse.any", [(len(rel), len(resp)) for _, _, resp, rel in cols], indent=0)
    cd19 = [rel["relapse_cd19"].astype(object) for *_, rel in cols]
    tested = [s.isin(["cd19_pos", "cd19_neg", "cd19_mixed"]) for s in cd19]
    rows.append(Row((label("CD19 status of the relapse, n (% of relapses with CD19 tested)"),) + tuple(empty() for _ in cols),
                    heading=True))
    row("CD19 positive", "relapse.cd19_pos", [(int((s == "cd19_pos").sum()), int(t.sum())) for s, t in zip(cd19, tested)])
    row("CD19 negative (antigen escape)", "relapse.cd19_neg",
        [(int(s.isin(["cd19_neg", "cd19_mixed"]).sum()), int(t.sum())) for s, t in zip(cd19, tested)])
    if any((s == "cd19_mixed").any() for s in cd19):
        row("with concomitant CD19-positive blasts", "relapse.cd19_mixed",
            [(int((s == "cd19_mixed").sum()), int(t.sum())) for s, t in zip(cd19, tested)], indent=2)
    row("CD19 not tested", "relapse.cd19_unknown", [(int((~t).sum()), len(t)) for t in tested])
    rows.append(Row((label("Time from infusion to relapse, n (% of relapses)"),) + tuple(empty() for _ in cols), heading=True))
    for wid, text, lo, hi in WINDOWS:
        row(text, f"relapse.window_{wid}",
            [(int(rel["relapse_day"].between(lo, hi).sum()), len(rel)) for *_, rel in cols])
    rows.append(Row((label("Therapy after relapse, n (% of relapses)"),) + tuple(empty() for _ in cols), heading=True))
    given = [rel["post_relapse_therapy"].dropna().astype(str) for *_, rel in cols]
    seen = [t for t in THERAPY_LABELS if any((g == t).any() for g in given)]
    seen += sorted({t for g in given for t in g} - set(seen))
    for t in seen:
        row(THERAPY_LABELS.get(t, t), f"relapse.therapy_{R.slug(t)}", [(int((g == t).sum()), len(rel))
                                                                       for g, (*_, rel) in zip(given, cols)])
    row("None recorded", "relapse.therapy_none", [(int(rel["post_relapse_therapy"].isna().sum()), len(rel))
                                                  for *_, rel in cols])
    row("HSCT after relapse", "relapse.hsct_after", [(int(flag(rel["post_relapse_hsct"]).sum()), len(rel))
                                                     for *_, rel in cols])
    foot = ("Relapse: after CR/CRi, marrow blasts at or above the plan threshold, circulating blasts, extramedullary "
            "disease or a recorded relapse event. CD19 negative includes relapses with CD19-negative and concomitant "
            "CD19-positive blasts (mixed), counted as antigen escape; percentages of CD19 status are of the relapses "
            "with CD19 tested. Therapy after relapse: the first new anticancer therapy recorded on or after the "
            "relapse date (events table); HSCT: any transplant on or after it.",)
    return [Table("t03c_relapse", "Table 3c. Relapse and antigen escape", tuple(header), tuple(rows), foot)]


UNITS = (Unit("relapse", "relapse and antigen escape", run,
              needs=(infused(), rows_of(responders, "no responder (CR/CRi)"),
                     rows_of(relapsed, "no relapse among responders"))),)
