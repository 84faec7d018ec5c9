"""Table 10b: CRS and ICANS course and management — symptoms over the CRS days (fever, hypotension, vasopressors,
hypoxia by oxygen level), tocilizumab (doses, time to the first), corticosteroids and anakinra with two labelled
denominators (patients with the event, and all infused patients), ICU and hospital stay, HLH/IEC-HS, ICANS timing
relative to CRS and seizures; with the plan's between-group tests for a grouped study.

Needs: at least one infused patient with CRS or ICANS.
"""

from __future__ import annotations

import pandas as pd

from cartalysis.report.model import Table
from cartalysis.report.units.base import Ctx, Unit, flag, infused, rows_of
from cartalysis.report.units.safety_rows import binary_row, blank, everyone, header, median_row, test_footnote


def crs(df: pd.DataFrame) -> pd.Series:
    return flag(df["crs"])


def icans(df: pd.DataFrame) -> pd.Series:
    return flag(df["icans"])


def treated(drug: str):
    return lambda df: flag(df[drug])


def oxygen_at_least(levels: tuple[str, ...]):
    return lambda s: s.map(lambda v: None if v is None or pd.isna(v) else v in levels).astype("boolean")


def timing_is(value: str):
    return lambda s: s.map(lambda v: None if v is None or pd.isna(v) else v == value).astype("boolean")


def run(ctx: Ctx) -> list:
    notes: list = []
    methods: set = set()
    k = "safety.crs_course"
    rows = [blank(ctx, "CRS symptoms over the CRS days (% of patients with CRS graded from daily data)")]
    for col, text, truth in (("crs_fever", "Fever", None), ("crs_hypotension", "Hypotension (fluids or vasopressors)", None),
                             ("crs_vasopressors_max", "Vasopressor", lambda s: (s.astype(float) >= 1).astype("boolean")
                              .where(s.notna(), pd.NA)),
                             ("crs_hypoxia", "Hypoxia (any oxygen)", None),
                             ("crs_oxygen_max", "  low-flow oxygen at most", oxygen_at_least(("low_flow",))),
                             ("crs_oxygen_max", "  high-flow oxygen", oxygen_at_least(("high_flow",))),
                             ("crs_oxygen_max", "  positive pressure", oxygen_at_least(("positive_pressure",)))):
        rid = f"{k}.{col}" + ("" if col != "crs_oxygen_max" else "." + text.split()[0].replace("-", "_"))
        rows.append(binary_row(ctx, notes, methods, rid, text.strip(), col, crs, truth=truth))
    rows.append(binary_row(ctx, notes, methods, f"{k}.crs_hypoxia.infused", "Hypoxia, % of all infused", "crs_hypoxia",
                           truth=lambda s: s.astype("boolean").fillna(False)))
    rows.append(binary_row(ctx, notes, methods, f"{k}.crs_hypotension.infused", "Hypotension, % of all infused",
                           "crs_hypotension", truth=lambda s: s.astype("boolean").fillna(False)))
    rows.append(blank(ctx, "CRS management"))
    for drug, text in (("tocilizumab", "Tocilizumab"), ("steroids", "Corticosteroids"), ("anakinra", "Anakinra")):
        rows.append(binary_row(ctx, notes, methods, f"{k}.{drug}.crs", f"{text}, % of patients with CRS", drug, crs))
        rows.append(binary_row(ctx, notes, methods, f"{k}.{drug}.infused", f"{text}, % of all infused", drug))
        rows.append(median_row(ctx, notes, methods, f"{k}.{drug}.doses", f"{text} doses, median (range)",
                               f"{drug}_doses", "doses", treated(drug), digits=0))
    rows.append(median_row(ctx, notes, methods, f"{k}.toci_first_day", "Infusion to first tocilizumab, days",
                           "toci_first_day", "days", treated("tocilizumab")))
    rows.append(blank(ctx, "Intensive care and hospital stay"))
    rows.append(binary_row(ctx, notes, methods, f"{k}.icu.crs", "ICU admission, % of patients with CRS", "icu_admission", crs))
    rows.append(binary_row(ctx, notes, methods, f"{k}.icu.infused", "ICU admission, % of all infused", "icu_admission"))
    rows.append(median_row(ctx, notes, methods, f"{k}.icu_days", "ICU days, median (range)", "icu_days", "days",
                           lambda df: flag(df["icu_admission"])))
    rows.append(median_row(ctx, notes, methods, f"{k}.hospital_days", "Hospital stay, days, median (range)",
                           "hospital_days", "days"))
    rows.append(blank(ctx, "HLH / IEC-HS"))
    rows.append(binary_row(ctx, notes, methods, f"{k}.hlh", "HLH/IEC-HS, % of all infused", "hlh"))
    rows.append(median_row(ctx, notes, methods, f"{k}.hlh_onset", "HLH onset, day", "hlh_onset_day", "day",
                           lambda df: flag(df["hlh"])))
    rows.append(blank(ctx, "ICANS (% of patients with ICANS)"))
    for value, text in (("concurrent", "Concurrent with CRS"), ("after_crs", "After CRS resolved"),
                        ("before_crs", "Before CRS"), ("isolated", "Isolated (no CRS)")):
        rows.append(binary_row(ctx, notes, methods, f"{k}.icans_timing.{value}", text, "icans_timing", icans,
                               truth=timing_is(value)))
    rows.append(median_row(ctx, notes, methods, f"{k}.icans_after_crs", "ICANS onset after CRS onset, days",
                           "icans_after_crs_days", "days", icans))
    rows.append(binary_row(ctx, notes, methods, f"{k}.seizure", "Seizure", "seizure", icans))
    rows = [r for r in rows if r is not None]
    keep = [r for i, r in enumerate(rows) if not (r.heading and (i + 1 == len(rows) or rows[i + 1].heading))]
    foot = ("n/N (%): N = patients of the stated population with the item recorded (symptoms need toxicity_daily; "
            "ICU needs subjects.icu_admission; each drug from concomitant_meds when it has rows of that drug, else from its toxicity_daily flag). "
            "Symptoms are those of the graded CRS days (ASTCT 2019); days from infusion (day 0).",) + test_footnote(ctx, methods)
    return notes + [Table("t10b_crs_course", "Table 10b. CRS and ICANS course and management", header(ctx, "Item"),
                          tuple(keep), foot)]


def _with_event(ctx: Ctx) -> pd.DataFrame:
    return ctx.infused[flag(ctx.infused["crs"]) | flag(ctx.infused["icans"])]


UNITS = (Unit("safety.crs_course", "CRS and ICANS course and management", run,
              needs=(infused(), rows_of(_with_event, "no patient with CRS or ICANS"))),)
