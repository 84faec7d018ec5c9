"""Display text shared by units: end-point names, variable and level labels, Cox term labels.

Ids keep the codes; only what the reader sees is translated here.
"""

from __future__ import annotations

import re

import pandas as pd

from cartalysis.report.units.base import lab, stats_levels
from cartalysis.study.spec import TABLES_BY_NAME

ENDPOINT_LABELS = {
    "DOR": ("dor", "Duration of response (censored at allo-HSCT in remission)"),
    "DOR_NOHSCT": ("dor_no_hsct_censor", "Duration of response (not censored at allo-HSCT)"),
    "RFS": ("rfs", "Relapse-free survival"),
    "OS": ("os", "Overall survival"),
    "EFS": ("efs", "Event-free survival"),
    "PFS": ("pfs", "Progression-free survival"),
    "DFS": ("dfs", "Disease-free survival"),
}


ENDPOINT_DEFINITIONS = {  # the Table-5 footnote names only the plan's endpoints
    "DOR": "DOR from first CR/CRi to relapse or death",
    "RFS": "RFS from infusion to relapse or death (non-responders: rfs.nonresponders rule)",
    "EFS": "EFS from infusion to no CR/CRi (day 0), relapse or death",
    "PFS": "PFS from infusion to relapse/progression or death",
    "DFS": "DFS from infusion to marrow relapse or death, among patients infused in first remission",
    "OS": "OS from infusion to death",
}



def months_label(m: float) -> str:
    """A landmark in months as printed (``12.0`` → ``12``)."""
    return f"{m:g}"



CONTINUOUS = (  # (column, label, product attribute, decimals shown as the publications print them)
    ("age", "Age, years", False, 0),
    ("prior_lines", "Prior lines of therapy", False, 0),
    ("bm_blasts_pct", "Bone-marrow blasts at screening, %", False, 1),
    ("dose_car_cells", "Dose, ×10^8 CAR+ viable T cells", True, 2),
    ("viability_pct", "Product viability, %", True, 1),
    ("transduction_pct", "Transduction efficiency, %", True, 1),
    ("cd4_pct", "CD4+ T cells in product, %", True, 1),
    ("cd8_pct", "CD8+ T cells in product, %", True, 1),
)
CATEGORICAL = (
    ("age_group", "Age group, years"),
    ("sex", "Sex"),
    ("race", "Race/ethnicity"),
    ("ecog", "ECOG performance status"),
    ("disease_status", "Disease status"),
    ("prior_hsct", "Prior HSCT"),
    ("inotuzumab_response", "Response to prior inotuzumab"),
    ("ph_status", "Philadelphia chromosome"),
    ("bm_blasts_group", "Bone-marrow blasts group, %"),
    ("cns", "CNS status"),
)
FLAGS = (
    ("prior_blinatumomab", "Prior blinatumomab"),
    ("prior_inotuzumab", "Prior inotuzumab ozogamicin"),
    ("ikzf1", "IKZF1 alteration"),
    ("mll_r", "KMT2A (MLL) rearrangement"),
    ("tp53", "TP53 deletion/mutation"),
    ("e2a_pbx1", "TCF3::PBX1 (E2A::PBX1)"),
    ("emd", "Extramedullary disease"),
    ("cd19_positive", "CD19-positive"),
    ("bridging", "Bridging therapy"),
)


LEVEL_LABELS = {  # display text of coded values (ids keep the codes)
    "early_relapse": "Early first relapse (first remission < 12 months)", "primary_refractory": "Primary refractory",
    "relapse_2plus": "Relapse after ≥ 2 remissions", "refractory_relapse": "First relapse refractory to salvage",
    "post_hsct_relapse": "Relapsed/refractory after HSCT", "active_disease": "Active disease (> 5% blasts)",
    "cr_mrd_pos": "CR, MRD positive", "cr_mrd_unknown": "CR, MRD unknown", "cr_mrd_neg": "CR, MRD negative",
    "cr1": "First complete remission", "ph_pos": "Ph+", "ph_like": "Ph-like", "ph_neg": "Ph−", "none": "None",
    "auto": "Autologous", "allo": "Allogeneic", "responsive": "Responsive", "refractory": "Refractory",
    "not_assessed": "Not assessed", "naive": "Naive", "female": "Female", "male": "Male", "yes": "Yes", "no": "No",
}


_CUT = re.compile(r"(<=|>=|<|>)(\d+(?:\.\d+)?)")  # a derived group's bound, e.g. ">25" in ">25-<=50"


def show(level: str) -> str:
    """Display text of a coded level; derived cut-point groups as journals print them (``">=40"`` → ``"≥ 40"``,
    ``">25-<=50"`` → ``"> 25 to ≤ 50"``)."""
    if level in LEVEL_LABELS:
        return LEVEL_LABELS[level]
    parts = str(level).split("-")
    if 1 <= len(parts) <= 2 and all(_CUT.fullmatch(x) for x in parts):
        sign = {"<=": "≤", ">=": "≥", "<": "<", ">": ">"}
        return " to ".join(f"{sign[m.group(1)]} {m.group(2)}" for m in map(_CUT.fullmatch, parts))
    return level


DERIVED_LABELS = {  # derived ADSL grouping columns (docs/derived-datasets.md)
    "inotuzumab_group": "Prior inotuzumab (naive / responsive / refractory)",
    "maintenance_in_remission": "Maintenance therapy in remission",
    "hsct_in_remission": "Allogeneic HSCT in remission",
}


def var_label(var: str) -> str:
    for name, text in CATEGORICAL + FLAGS:
        if name == var:
            return text
    return DERIVED_LABELS.get(var, var)


DERIVED_LEVELS = {"inotuzumab_group": ("naive", "responsive", "refractory")}  # display order of derived levels


def levels_of(var: str, values: pd.Series) -> list[str]:
    if var in DERIVED_LEVELS:
        present = {lab(v) for v in values.dropna().unique()}
        return [v for v in DERIVED_LEVELS[var] if v in present]
    spec = TABLES_BY_NAME["subjects"]
    if var in spec.names and spec.column(var).allowed:
        present = {lab(v) for v in values.dropna().unique()}
        return [v for v in spec.column(var).allowed if v in present]
    return stats_levels(values.dropna())



MRD_METHODS = {"flow": "Flow cytometry", "ngs": "NGS", "pcr": "PCR"}


def visit_label(visit: str) -> str:
    """``day28`` → ``Day 28``, ``month6`` → ``Month 6`` (other names as written)."""
    head = visit.rstrip("0123456789")
    return f"{head.capitalize()} {visit[len(head):]}" if head and head != visit else visit



def continuous_label(var: str) -> str:
    """``"Age, years"`` → ``"Age (per year)"``: a continuous covariate's hazard ratio is per unit."""
    for name, text, _, _ in CONTINUOUS:
        if name == var:
            base, _, unit = text.rpartition(", ")
            per = {"years": "year", "%": "1%"}.get(unit, f"1 {unit}")
            return f"{base} (per {per})"
    return var


def term_label(var: str, level: str, reference: str | None, flag: bool) -> str:
    """A Cox term as a reader sees it: ``prior_hsct=auto`` → ``"Prior HSCT: Autologous vs None"``, a yes/no column
    ``emd`` → ``"Extramedullary disease: Yes vs No"``, ``age`` → ``"Age (per year)"`` (labels of Table 2)."""
    if level:
        return f"{short_var_label(var)}: {show(level)} vs {show(str(reference))}"
    if flag:
        return f"{short_var_label(var)}: Yes vs No"
    return continuous_label(var)


def short_var_label(var: str) -> str:
    """The variable label without a trailing list of its levels (``"Prior inotuzumab (naive / …)"`` →
    ``"Prior inotuzumab"``): a Cox term names its levels itself."""
    text = var_label(var)
    return text[:text.rindex(" (")] if text.endswith(")") and " (" in text else text

