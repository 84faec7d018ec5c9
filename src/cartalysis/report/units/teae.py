"""Table 9: treatment-emergent adverse events by preferred term and worst grade (all grades, grade 3/4, grade 5).

Terms are grouped after normalisation (``text.canonical``: Unicode NFC, whitespace, case), each patient counted
once per term at the worst grade. CRS and ICANS are in it as graded from daily data (or as reported when there is no
daily data), once per patient — the same counts as Table 10. Needs: at least one infused patient and at least one treatment-emergent event.
"""

from __future__ import annotations

import pandas as pd

from cartalysis.report.model import Cell, Row, Table, c_header_N, label
from cartalysis.report.units import text as T
from cartalysis.report.units.base import Ctx, Unit, flag, infused, pct_cell, rows_of


def treatment_emergent(ctx: Ctx) -> pd.DataFrame:
    """Analysed treatment-emergent AE rows of infused patients (``adae.anl01fl``: CRS/ICANS once per patient, from
    daily grading or the reported rows), ``term`` replaced by its normalised spelling and CRS/ICANS rows by the
    plan's first CRS/ICANS term, so that Table 9 has one CRS row that agrees with Table 10."""
    adae = ctx.d.adae
    te = adae[flag(adae["trtemfl"]) & flag(adae["anl01fl"]) & adae["patient_id"].isin(ctx.infused["patient_id"])]
    tox = ctx.plan.toxicity
    names = {"crs": tox.crs_terms[0] if tox.crs_terms else None, "icans": tox.icans_terms[0] if tox.icans_terms else None}
    term = T.canonical(te["term"])
    for cat, name in names.items():
        if name:
            term = term.where(te["category"] != cat, name)
    return te.assign(term=term)


def worst(te: pd.DataFrame) -> pd.DataFrame:
    """One row per patient and term: the worst grade."""
    return te.groupby(["patient_id", "term"], as_index=False, sort=True)["grade"].max()


NEEDS = (infused(), rows_of(treatment_emergent, "no treatment-emergent adverse events in adverse_events.csv"))


def run(ctx: Ctx) -> list:
    cols = ctx.columns()
    header_cols = [c_header_N(name, nrec) for name, _, _, nrec in cols]
    te = worst(treatment_emergent(ctx))
    rows: list[Row] = []
    terms = te.groupby("term")["patient_id"].nunique().sort_values(ascending=False)
    terms = terms.reset_index().sort_values(["patient_id", "term"], ascending=[False, True])["term"].tolist()
    limit_note = ""
    if len(terms) > 60:
        n_inf = max(len(ctx.infused), 1)
        counts = te.groupby("term")["patient_id"].nunique()
        terms = [t for t in terms if counts[t] / n_inf >= 0.05]
        limit_note = " Terms reported in ≥ 5% of infused patients."
    rid = T.ids(terms)
    grade = te["grade"].astype(float)
    band_masks = {"any": pd.Series(True, index=te.index), "g34": grade.isin([3.0, 4.0]), "g5": grade == 5}
    # patients per term, band and column, counted once with a groupby (not per cell)
    counts = {}
    for _, sfx, df, _ in cols:
        in_col = te["patient_id"].isin(df["patient_id"])
        for band, bm in band_masks.items():
            counts[band, sfx] = te[in_col & bm].groupby("term")["patient_id"].nunique()
    band_text = {"any": "all grades", "g34": "grade 3/4", "g5": "grade 5"}
    for term in terms:
        cells = [label(term)]
        for band in band_masks:
            for _, sfx, df, _ in cols:
                x = int(counts[band, sfx].get(term, 0))
                cells.append(pct_cell(ctx, f"safety.teae.{rid[term]}.{band}{sfx}", f"{term}, {band_text[band]}",
                                       x, len(df)))
        rows.append(Row(tuple(cells)))
    bands = ["All grades", "Grade 3/4", "Grade 5"]
    hdr = [label("Preferred term")] + [Cell(f"{b}: {h.text}", h.ids) for b in bands for h in header_cols]
    return [Table("t09_teae", "Table 9. Treatment-emergent adverse events by preferred term and worst grade",
                  tuple(hdr), tuple(rows),
                  ("n (%) of infused patients, counted once per term at their worst grade (CTCAE v5.0; "
                   "ASTCT for CRS and ICANS)." + limit_note,))]


UNITS = (Unit("safety.teae", "adverse events by term and grade", run, needs=NEEDS),)
