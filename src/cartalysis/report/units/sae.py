"""Table 9a: serious and treatment-related TEAEs (``adverse_events.serious`` / ``related``): patients with any, with
any serious related, and by preferred term (normalised as in Table 9).

Needs: as Table 9; the serious and related columns each need a value (a note names the one missing).
"""

from __future__ import annotations

from cartalysis.report.model import Note, Row, Table, c_header_N, empty, label
from cartalysis.report.units import text as T
from cartalysis.report.units.base import Ctx, Unit, flag, pct_cell
from cartalysis.report.units.teae import NEEDS, treatment_emergent


def run(ctx: Ctx) -> list:
    cols = ctx.columns()
    header_cols = [c_header_N(name, nrec) for name, _, _, nrec in cols]
    te = treatment_emergent(ctx)
    notes: list = []
    rows: list[Row] = []
    kinds = [(col, text) for col, text in (("serious", "Serious"), ("related", "Treatment-related"))
             if te[col].notna().any()]
    missing = [col for col in ("serious", "related") if col not in dict(kinds)]
    if missing:
        notes.append(Note(f"adverse_events.{' and '.join(missing)} not recorded for any treatment-emergent event: "
                          f"{' and '.join(missing)} adverse events are not reported."))
    if not kinds:
        return notes
    masks = {col: flag(te[col]) for col, _ in kinds}
    if len(kinds) == 2:
        masks["sae_related"] = masks["serious"] & masks["related"]
    any_rows = [("serious", "safety.sae.any", "Any serious TEAE"),
                ("related", "safety.related.any", "Any treatment-related TEAE"),
                ("sae_related", "safety.sae_related.any", "Any serious treatment-related TEAE")]
    for key, rid, text in any_rows:
        if key not in masks:
            continue
        cells = [label(text)]
        for _, sfx, df, _ in cols:
            x = te.loc[masks[key] & te["patient_id"].isin(df["patient_id"]), "patient_id"].nunique()
            cells.append(pct_cell(ctx, rid + sfx, text, x, len(df)))
        rows.append(Row(tuple(cells)))
    n_inf = max(len(ctx.infused), 1)
    limit = False
    for col, text in kinds:
        sub = te[masks[col]]
        counts = sub.groupby("term")["patient_id"].nunique()
        terms = sorted(counts.index, key=lambda t: (-int(counts[t]), t))
        if len(terms) > 60:  # as Table 9: a long registry list keeps the terms in >= 5% of patients
            terms = [t for t in terms if counts[t] / n_inf >= 0.05]
            limit = True
        if not terms:
            continue
        rows.append(Row((label(f"{text} TEAEs by preferred term"),) + tuple(empty() for _ in cols), heading=True))
        rid = "sae" if col == "serious" else "related"
        tid = T.ids(terms)
        for term in terms:
            cells = [label(term)]
            for _, sfx, df, _ in cols:
                x = sub.loc[(sub["term"] == term) & sub["patient_id"].isin(df["patient_id"]), "patient_id"].nunique()
                cells.append(pct_cell(ctx, f"safety.{rid}.{tid[term]}{sfx}", f"{text} TEAE: {term}", x, len(df)))
            rows.append(Row(tuple(cells), indent=1))
    return notes + [Table("t09a_sae", "Table 9a. Serious and treatment-related adverse events",
                          (label("Treatment-emergent adverse event"),) + tuple(header_cols), tuple(rows),
                          ("n (%) of infused patients with at least one such event (any grade), counted once per row; "
                           "serious and related (to CAR-T) as reported in adverse_events." +
                           (" Terms reported in ≥ 5% of infused patients." if limit else ""),))]


UNITS = (Unit("safety.sae", "serious and related adverse events", run, needs=NEEDS),)
