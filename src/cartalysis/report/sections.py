"""The report's eight sections, laid out from the derived datasets and ``cartalysis.stats`` results.

Each ``section_*`` function takes the build context and returns a ``Section``. The functions select
patients and columns (data handling) and call ``cartalysis.stats`` for every statistic; each number
becomes a ``Record`` (``records.py``) and every table cell is built from records (``model.py``), so
every number shown is in ``results.json``.
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd

from cartalysis import stats
from cartalysis.derive import POST_INFUSION_GROUPS
from cartalysis.report import figures as F
from cartalysis.report import fmt
from cartalysis.report import records as R
from cartalysis.report.model import (
    Cell,
    Figure,
    Note,
    Row,
    Section,
    Table,
    c_count,
    c_est_ci,
    c_header_N,
    c_median_range,
    c_n_of_N_pct,
    c_n_pct,
    c_p,
    empty,
    label,
)
from cartalysis.report.results import Record, Registry
from cartalysis.stats.describe import describe
from cartalysis.study.errors import Problem, StudyError
from cartalysis.study.spec import TABLES_BY_NAME

DASH_CELL = Cell("\u2014")  # not applicable / not estimable

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


def _flag(s: pd.Series) -> pd.Series:
    """A yes/no column as plain bool (missing = no)."""
    return s.astype("boolean").fillna(False).astype(bool)


def _months_label(m: float) -> str:
    return f"{m:g}"


@dataclass
class Ctx:
    """Everything a section needs; ``figures`` collects rendered figures in order."""

    study: object
    plan: object
    d: object
    reg: Registry
    figures: list[Figure] = field(default_factory=list)

    @cached_property
    def adsl(self) -> pd.DataFrame:
        return self.d.adsl

    @cached_property
    def infused(self) -> pd.DataFrame:
        return self.adsl[_flag(self.adsl["saffl"])]

    @cached_property
    def response_pop(self) -> pd.DataFrame:
        """Denominator of response rates (plan ``response.denominator``): all infused patients, or those with at
        least one post-infusion response assessment (``adsl.response_evaluable``)."""
        if self.plan.response.denominator == "evaluable":
            return self.infused[_flag(self.infused["response_evaluable"])]
        return self.infused

    @property
    def response_pop_text(self) -> str:
        return ("evaluable patients (infused, with at least one post-infusion response assessment)"
                if self.plan.response.denominator == "evaluable" else "infused patients")

    @cached_property
    def enrolled(self) -> pd.DataFrame:
        return self.adsl[_flag(self.adsl["ittfl"])]

    @cached_property
    def group_by(self) -> str | None:
        return self.plan.groups.by

    @cached_property
    def groups(self) -> list[str]:
        """Levels of the plan's group column among infused patients (R order), or [] when ungrouped."""
        if not self.group_by:
            return []
        g = self.infused["group"].dropna()
        return stats_levels(g)

    def group_title(self, g: str) -> str:
        """Column/row title of a group, e.g. ``Prior inotuzumab ozogamicin: Yes``."""
        return f"{_var_label(self.group_by)}: {_show(g)}"

    def group_of(self, df: pd.DataFrame) -> pd.Series:
        return labels(df["group"])

    @property
    def conf(self) -> float:
        return self.plan.efficacy.conf_level

    def prop(self, x: int, n: int):
        return stats.proportion(int(x), int(n), conf_level=self.conf) if n > 0 else None

    def figure(self, key: str, title: str, fig, caption: str = "") -> Figure:
        png, svg = F.render(fig)
        f = Figure(key, title, png, svg, caption)
        self.figures.append(f)
        return f

    @cached_property
    def n_infused(self) -> Record:
        return R.count(self.reg, "population.infused", "Infused patients (safety and mITT population)",
                       len(self.infused))

    @cached_property
    def n_enrolled(self) -> Record:
        return R.count(self.reg, "population.enrolled", "Enrolled patients (ITT population)", len(self.enrolled))

    def n_group(self, g: str) -> Record:
        n = int((self.group_of(self.infused) == g).sum())
        return R.count(self.reg, f"population.infused.{R.slug(g)}", f"Infused patients, {self.group_by} = {g}", n)


def _lab(v) -> str:
    if isinstance(v, (bool, np.bool_)):
        return "yes" if v else "no"
    if isinstance(v, (float, np.floating)) and float(v).is_integer():
        return str(int(v))
    return str(v)


def labels(values: pd.Series) -> pd.Series:
    """``_lab`` of every value (missing stays missing), mapping each distinct value once (large registries)."""
    uniq = values.dropna().unique()
    return values.map({v: _lab(v) for v in uniq})


def stats_levels(values: pd.Series) -> list[str]:
    """Distinct labels in R's factor order (numeric when all numeric, else lexical)."""
    levels = sorted({_lab(v) for v in pd.Series(values).dropna().unique()})
    try:
        return sorted(levels, key=float)
    except ValueError:
        return levels


def _safe(note_list: list, fn, *args, **kw):
    """Run a statistic; input it cannot use becomes a note in the section instead of a crash."""
    try:
        return fn(*args, **kw)
    except stats.StatsInputError as e:
        note_list.append(Note(f"Not estimable: {e}"))
        return None


# -- 1. disposition ----------------------------------------------------------------------------------


def section_disposition(ctx: Ctx) -> Section:
    a = ctx.adsl
    reg = ctx.reg
    enrolled = _flag(a["ittfl"])
    manufactured = enrolled & a["release_date"].notna()
    infused = _flag(a["saffl"])
    lymphodepleted = manufactured & (a["ld_start_date"].notna() | infused)
    has_ld = bool(a["ld_start_date"].notna().any())
    stages = [
        ("screened", "Screened", pd.Series(True, index=a.index), "not_enrolled", "Not enrolled"),
        ("enrolled", "Enrolled (ITT)", enrolled, "not_manufactured", "Enrolled, product not manufactured"),
        ("manufactured", "Manufactured", manufactured,
         "not_lymphodepleted" if has_ld else "not_infused",
         "Stopped before lymphodepletion" if has_ld else "Manufactured, not infused"),
    ]
    if has_ld:
        stages.append(("lymphodepleted", "Lymphodepleted", lymphodepleted, "not_infused", "Lymphodepleted, not infused"))
    stages.append(("infused", "Infused (safety, mITT)", infused, "", ""))
    rows: list[Row] = []
    steps: list[F.FlowStep] = []
    reason = a["discontinuation_reason"].fillna("reason not recorded").astype(str)
    for i, (key, text, mask, lost_key, lost_text) in enumerate(stages):
        rec = R.count(reg, f"disposition.{key}", text, int(mask.sum()))
        rows.append(Row((label(text), c_count(rec))))
        exclusion = ""
        if lost_key:
            lost = mask & ~stages[i + 1][2]
            lrec = R.count(reg, f"disposition.{lost_key}", lost_text, int(lost.sum()))
            if lrec.value:
                rows.append(Row((label(lost_text), c_count(lrec)), indent=1))
                lines = [f"{lost_text} (n = {fmt.integer(lrec.value)})"]
                for k, (r, n) in enumerate(sorted(reason[lost].value_counts().items(), key=lambda kv: (-kv[1], kv[0]))):
                    rr = R.count(reg, f"disposition.{lost_key}.{R.slug(r)}", f"{lost_text}: {r}", int(n))
                    rows.append(Row((label(r), c_count(rr)), indent=2))
                    if k < 8:  # the figure keeps the 8 commonest reasons readable; the table lists them all
                        lines.append(textwrap.fill(f"{r}: {fmt.integer(rr.value)}", 52, initial_indent="  ",
                                                   subsequent_indent="    "))
                    elif k == 8:
                        lines.append("  other reasons: see Table 1")
                exclusion = "\n".join(lines)
        steps.append(F.FlowStep(f"{text}\nn = {fmt.integer(rec.value)}", exclusion))
    table = Table("t01_disposition", "Table 1. Patient disposition", (label("Stage"), label("Patients, n")),
                  tuple(rows), ("Counts of patients; reasons as recorded in subjects.discontinuation_reason.",))
    caption = ""
    if not any(st.exclusion for st in steps):
        # nobody lost before infusion (a registry of infused patients, no screening data): one box, not a column
        # of identical counts that reads as a trial flow
        steps = [F.FlowStep(f"{stages[-1][1]}\nn = {fmt.integer(int(infused.sum()))}")]
        caption = "No patient was lost between screening and infusion (no screening or enrollment losses recorded)."
    fig = ctx.figure("f01_consort", "Figure 1. CONSORT flow diagram", F.consort_figure(steps), caption)
    return Section("disposition", "1. Disposition", (fig, table))


# -- 2. baseline -------------------------------------------------------------------------------------

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


def _show(level: str) -> str:
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


def _var_label(var: str) -> str:
    for name, text in CATEGORICAL + FLAGS:
        if name == var:
            return text
    return DERIVED_LABELS.get(var, var)


DERIVED_LEVELS = {"inotuzumab_group": ("naive", "responsive", "refractory")}  # display order of derived levels


def _levels_of(var: str, values: pd.Series) -> list[str]:
    if var in DERIVED_LEVELS:
        present = {_lab(v) for v in values.dropna().unique()}
        return [v for v in DERIVED_LEVELS[var] if v in present]
    spec = TABLES_BY_NAME["subjects"]
    if var in spec.names and spec.column(var).allowed:
        present = {_lab(v) for v in values.dropna().unique()}
        return [v for v in spec.column(var).allowed if v in present]
    return stats_levels(values.dropna())


def section_baseline(ctx: Ctx) -> Section:
    reg = ctx.reg
    grouped = bool(ctx.groups)
    if grouped:
        pop = ctx.infused
        cols = [(ctx.group_title(g), f".{R.slug(g)}", pop[ctx.group_of(pop) == g], ctx.n_group(g))
                for g in ctx.groups]
        cols.append(("Total", "", pop, ctx.n_infused))
    else:
        cols = [("Enrolled (ITT)", ".enrolled", ctx.enrolled, ctx.n_enrolled),
                ("Treated", "", ctx.infused, ctx.n_infused)]
    header = [label("Characteristic")] + [c_header_N(name, nrec) for name, _, _, nrec in cols]
    if grouped:
        header.append(label("P value"))
    rows: list[Row] = []
    methods: set[str] = set()
    notes: list = []
    gvals = ctx.group_of(ctx.infused) if grouped else None

    def test_cell(var: str, text: str, values: pd.Series, continuous: bool) -> Cell:
        """The between-group P value of one variable (grouped reports only)."""
        ok = values.notna()
        if ok.sum() < 2 or gvals[ok].nunique() < 2 or (not continuous and labels(values[ok]).nunique() < 2):
            return empty()
        fn = stats.compare_continuous if continuous else stats.compare_categorical
        t = _safe(notes, fn, labels(values[ok]) if not continuous else values[ok].astype(float), gvals[ok])
        if t is None:
            return empty()
        methods.add(t.method)
        return c_p(R.test(reg, f"baseline.{var}.test", f"{text}: between-group test", t))

    for var, text, product, digits in CONTINUOUS:
        if var not in ctx.adsl or var == ctx.group_by or ctx.infused[var].notna().sum() == 0:
            continue
        cells = [label(f"{text}, median (range)")]
        for _, suffix, df, _ in cols:
            if product and suffix == ".enrolled":
                cells.append(empty())
                continue
            s = describe(df[var])
            if s.n == 0:
                cells.append(DASH_CELL)
                continue
            recs = {}
            for st in ("median", "min", "max"):
                recs[st] = reg.add(Record(f"baseline.{var}.{st}{suffix}", f"{text}: {st}", getattr(s, st),
                                          N=s.n, method=s.method))
            cells.append(c_median_range(recs["median"], recs["min"], recs["max"], digits))
        if grouped:
            cells.append(test_cell(var, text, ctx.infused[var], True))
        rows.append(Row(tuple(cells)))

    def n_pct_cell(var: str, level: str, text: str, suffix: str, df: pd.DataFrame, x: int, N: int) -> Cell:
        p = ctx.prop(x, N)
        if p is None:
            return DASH_CELL
        return c_n_pct(R.proportion(reg, f"baseline.{var}.{R.slug(level)}{suffix}", text, p, with_ci=False))

    for var, text in CATEGORICAL:
        if var not in ctx.adsl or var == ctx.group_by or ctx.infused[var].notna().sum() == 0:
            continue
        levels = _levels_of(var, ctx.adsl[var])
        head = [label(text)] + [empty() for _ in cols]
        if grouped:
            head.append(test_cell(var, text, ctx.infused[var], False))
        rows.append(Row(tuple(head), heading=True))
        has_missing = any(df[var].isna().any() for _, _, df, _ in cols)
        for level in levels + (["Missing"] if has_missing else []):
            cells = [label(_show(level))]
            for _, suffix, df, _ in cols:
                x = int(df[var].isna().sum()) if level == "Missing" else int((labels(df[var]) == level).sum())
                cells.append(n_pct_cell(var, level, f"{text}: {level}", suffix, df, x, len(df)))
            if grouped:
                cells.append(empty())
            rows.append(Row(tuple(cells), indent=1))

    for var, text in FLAGS:
        if var not in ctx.adsl or var == ctx.group_by or ctx.infused[var].notna().sum() == 0:
            continue
        cells = [label(f"{text}, n (%)")]
        for _, suffix, df, _ in cols:
            cells.append(n_pct_cell(var, "yes", text, suffix, df, int(_flag(df[var]).sum()), len(df)))
        if grouped:
            cells.append(test_cell(var, text, ctx.infused[var].astype("boolean"), False))
        rows.append(Row(tuple(cells)))

    foot = ["Continuous variables: median (range); categorical: n (%) of the column total, missing values shown as "
            "their own level. Product attributes are given for treated patients."]
    if grouped:
        foot.append("P values: " + "; ".join(sorted(methods)) + " (Wilcoxon rank-sum/Kruskal–Wallis for continuous "
                    "variables; chi-square without continuity correction, or Fisher's exact test when an expected "
                    "count is < 5, for categorical ones).")
    by = _short_var_label(ctx.group_by) if grouped else ""
    title = "Table 2. Baseline characteristics" + (f" by {by[:1].lower() + by[1:]}" if grouped else "")
    table = Table("t02_baseline", title, tuple(header), tuple(rows), tuple(foot))
    return Section("baseline", "2. Baseline characteristics", tuple(notes) + (table,))


# -- 3. response --------------------------------------------------------------------------------------


def _response_records(ctx: Ctx, df: pd.DataFrame, suffix: str, label_suffix: str) -> dict[str, Record | None]:
    """ORR/CR/CRi at best response and month 3, MRD negativity among responders, for one set of patients."""
    reg = ctx.reg
    n = len(df)
    out: dict[str, Record | None] = {}
    eff = ctx.plan.efficacy
    for when, resp_col in (("best", "bor"), ("m3", "m3_resp")):
        resp = df[resp_col].astype(object)
        orr = resp.isin(["CR", "CRi"])
        for key, mask, text in ((f"orr_{when}", orr, "ORR (CR + CRi)"), (f"cr_{when}", resp == "CR", "CR"),
                                (f"cri_{when}", resp == "CRi", "CRi")):
            lab = f"{text}, {'best response' if when == 'best' else 'month 3'}{label_suffix}"
            if n == 0:
                out[key] = None
                continue
            if key == "orr_m3" and not suffix and eff.orr == "test":
                alt = "greater" if eff.sided == "one" else "two-sided"
                bt = stats.binom_test(int(mask.sum()), n, eff.null_rate, alternative=alt, conf_level=ctx.conf)
                out[key] = R.proportion(reg, f"response.{key}{suffix}", lab, bt)
            else:
                out[key] = R.proportion(reg, f"response.{key}{suffix}", lab, ctx.prop(int(mask.sum()), n))
        mrd_col = "mrd_best" if when == "best" else "mrd_m3"
        nresp = int(orr.sum())
        neg = int((df.loc[orr, mrd_col].astype(object) == "negative").sum())
        out[f"mrd_neg_{when}"] = (
            R.proportion(reg, f"response.mrd_neg_{when}{suffix}",
                         f"MRD negative among responders, {'best response' if when == 'best' else 'month 3'}"
                         f"{label_suffix}", ctx.prop(neg, nresp)) if nresp else None
        )
    return out


def section_response(ctx: Ctx) -> Section:
    """ORR (plan ``efficacy.orr``: tested, estimated or not an endpoint), MRD by visit and assay, HSCT."""
    notes: list = []
    blocks: list = []
    if ctx.plan.efficacy.orr != "none":
        blocks.append(_orr_table(ctx, notes))
    blocks += _mrd_visits(ctx)
    blocks += _hsct(ctx)
    if ctx.plan.efficacy.orr != "none":
        blocks += _subgroups(ctx)
    title = "3. Response" if ctx.plan.efficacy.orr != "none" else "3. MRD and transplantation"
    return Section("response", title, tuple(notes) + tuple(blocks))


def _orr_table(ctx: Ctx, notes: list) -> Table:
    reg = ctx.reg
    eff = ctx.plan.efficacy
    tested = eff.orr == "test"
    recs = _response_records(ctx, ctx.response_pop, "", "")
    itt = ctx.enrolled
    itt_recs = {}
    # ITT: responders among all enrolled patients (not-infused patients count as non-responders)
    for key, col, text in (("orr_m3_itt", "m3_resp", "ORR at month 3, ITT"), ("orr_best_itt", "bor", "Best ORR, ITT")):
        x = int((_flag(itt["saffl"]) & itt[col].astype(object).isin(["CR", "CRi"])).sum())
        p = ctx.prop(x, len(itt))
        itt_recs[key] = R.proportion(reg, f"response.{key}", text, p) if p else None
    conf = f"{eff.conf_level:.0%}"
    lines = [
        ("Best overall response", None, True),
        ("ORR (CR + CRi)", recs["orr_best"], False), ("CR", recs["cr_best"], False), ("CRi", recs["cri_best"], False),
        ("MRD negative among responders", recs["mrd_neg_best"], False),
        ("Response at month 3" + (" (primary end point)" if tested else ""), None, True),
        ("ORR (CR + CRi)", recs["orr_m3"], False), ("CR", recs["cr_m3"], False), ("CRi", recs["cri_m3"], False),
        ("MRD negative among responders", recs["mrd_neg_m3"], False),
        ("Intention to treat (all enrolled)", None, True),
        ("ORR at month 3", itt_recs["orr_m3_itt"], False), ("Best ORR", itt_recs["orr_best_itt"], False),
    ]
    grouped = bool(ctx.groups)
    grecs = {}
    if grouped:
        for g in ctx.groups:
            df = ctx.response_pop[ctx.group_of(ctx.response_pop) == g]
            grecs[g] = _response_records(ctx, df, f".{R.slug(g)}", f", {ctx.group_by} = {g}")
    header = [label("Response")]
    if grouped:
        header += [c_header_N(ctx.group_title(g), ctx.n_group(g)) for g in ctx.groups]
        header += [c_header_N("Total", ctx.n_infused), label(f"{conf} CI"), label("P value")]
    else:
        header += [label("n/N (%)"), label(f"{conf} CI")]
        if tested:
            header.append(label(f"P value vs {eff.null_rate:.0%}"))
    rows = []
    gvals = ctx.group_of(ctx.response_pop)
    for text, rec, heading in lines:
        if heading:
            rows.append(Row((label(text),) + tuple(empty() for _ in header[1:]), heading=True))
            continue
        cells = [label(text)]
        if grouped:
            key = next((k for k, v in recs.items() if v is rec), None)
            for g in ctx.groups:
                r = grecs[g].get(key) if key else None
                cells.append(c_n_of_N_pct(r) if r else DASH_CELL)
        if rec is None:
            cells += [DASH_CELL, DASH_CELL]
        else:
            cells += [c_n_of_N_pct(rec), Cell(fmt.ci(*rec.ci), (rec.id,))]
        if grouped or tested:
            cells.append(c_p(rec) if rec is not None and rec.p_value is not None else empty())
        if grouped:
            cells[-1] = empty()
            key = next((k for k, v in recs.items() if v is rec), None)
            if key in ("orr_best", "orr_m3"):
                col = "bor" if key == "orr_best" else "m3_resp"
                yes = labels(ctx.response_pop[col].astype(object).isin(["CR", "CRi"]))
                t = _safe(notes, stats.compare_categorical, yes, gvals)
                if t is not None:
                    cells[-1] = c_p(R.test(reg, f"response.{key}.test", f"{text}: between-group test", t))
        rows.append(Row(tuple(cells), indent=1))
    foot = [f"{conf} CI, Clopper–Pearson (exact)."]
    if tested:
        foot.append(f"Month-3 ORR tested against the historical control rate of {eff.null_rate:.0%} with an exact "
                    f"binomial test ({'one-sided' if eff.sided == 'one' else 'two-sided'}; significance level "
                    f"{eff.alpha:g}).")
    foot.append(f"Denominator of the best-response and month-3 rates (plan response.denominator): "
                f"{ctx.response_pop_text}; ITT rates: all enrolled patients.")
    foot += ["Response: CR or CRi by bone-marrow morphology; MRD negative: < 0.01% (flow cytometry) at the "
            "responding assessment; percentages of MRD negativity are among responders."]
    if grouped:
        foot.append("Between-group P values: chi-square or Fisher's exact test (Table-1 rule).")
    who = "evaluable" if ctx.plan.response.denominator == "evaluable" else "infused"
    return Table("t03_response", f"Table 3. Response in {who} patients", tuple(header), tuple(rows), tuple(foot))


MRD_METHODS = {"flow": "Flow cytometry", "ngs": "NGS", "pcr": "PCR"}


def _visit_label(visit: str) -> str:
    """``day28`` → ``Day 28``, ``month6`` → ``Month 6`` (other names as written)."""
    head = visit.rstrip("0123456789")
    return f"{head.capitalize()} {visit[len(head):]}" if head and head != visit else visit


def _mrd_visits(ctx: Ctx) -> list:
    """MRD negativity at each plan visit (``response.mrd_visits``) by assay, from the ``MRDVIS`` rows of ADRS.

    n = infused patients MRD negative at the visit by that assay; N = all infused patients (a patient not tested at
    the visit — relapsed, transplanted, dead or missed — counts as not MRD negative); Clopper–Pearson CI."""
    adrs = ctx.d.adrs
    vis = adrs[(adrs["param"] == "MRDVIS") & adrs["patient_id"].isin(ctx.infused["patient_id"])]
    n_inf = len(ctx.infused)
    if vis.empty or n_inf == 0:
        return []
    reg = ctx.reg
    conf = f"{ctx.conf:.0%}"
    methods = [m for m in MRD_METHODS if m in set(vis["mrd_method"])]
    methods += sorted(set(vis["mrd_method"].dropna()) - set(methods))
    rows = []
    for visit in ctx.plan.response.mrd_visits:
        at = vis[vis["visit"] == visit]
        if at.empty:
            continue
        rows.append(Row((label(_visit_label(visit)), empty(), empty(), empty()), heading=True))
        for m in methods:
            by = at[at["mrd_method"] == m]
            if by.empty:
                continue
            name = MRD_METHODS.get(m, m)
            tested = R.count(reg, f"response.mrd_tested.{visit}.{m}",
                             f"Patients with MRD tested by {name}, {_visit_label(visit)}", by["patient_id"].nunique())
            neg = int(by.loc[by["avalc"] == "negative", "patient_id"].nunique())
            r = R.proportion(reg, f"response.mrd_neg.{visit}.{m}",
                             f"MRD negative by {name}, {_visit_label(visit)} (of infused patients)",
                             ctx.prop(neg, n_inf))
            rows.append(Row((label(name), c_count(tested), c_n_of_N_pct(r), Cell(fmt.ci(*r.ci), (r.id,))), indent=1))
    r = ctx.plan.response
    visits = ", ".join(f"{_visit_label(v)} = day {d:g}" for v, d in zip(r.mrd_visits, r.mrd_visit_days))
    return [Table("t03a_mrd_visits", "Table 3a. MRD negativity by visit and assay",
                  (label("Visit / assay"), label("Tested, n"), label("MRD negative, n/N (%)"), label(f"{conf} CI")),
                  tuple(rows),
                  (f"N = all infused patients: a patient not tested at a visit counts as not MRD negative. {conf} CI, "
                   f"Clopper–Pearson (exact). Visits (plan response.mrd_visits): {visits}, ± "
                   f"{r.mrd_visit_window_days:g} days, the tested marrow closest to the nominal day; MRD negative: "
                   "as recorded in assessments.mrd_negative for that assay (flow cytometry: < 0.01%).",))]


def _hsct(ctx: Ctx) -> list:
    """Infused patients proceeding to HSCT after infusion (any, and allogeneic HSCT in remission), n/N with CI."""
    inf = ctx.infused
    if inf.empty:
        return []
    conf = f"{ctx.conf:.0%}"
    rows = []
    for rid, text, col in (("response.hsct", "Proceeded to HSCT after infusion", "hsct"),
                           ("response.hsct_in_remission", "Allogeneic HSCT in remission (consolidation)",
                            "hsct_in_remission")):
        r = R.proportion(ctx.reg, rid, f"{text} (of infused patients)", ctx.prop(int(_flag(inf[col]).sum()), len(inf)))
        rows.append(Row((label(text), c_n_of_N_pct(r), Cell(fmt.ci(*r.ci), (r.id,)))))
    return [Table("t03b_hsct", "Table 3b. Haematopoietic stem-cell transplantation after infusion",
                  (label("Infused patients"), label("n/N (%)"), label(f"{conf} CI")), tuple(rows),
                  (f"First HSCT after infusion (events table); in remission: an allogeneic HSCT on or after the first "
                   f"CR/CRi and before relapse. {conf} CI, Clopper–Pearson (exact).",))]


def _subgroups(ctx: Ctx) -> list:
    reg = ctx.reg
    tested = ctx.plan.efficacy.orr == "test"
    inf = ctx.response_pop
    orr = inf["bor"].astype(object).isin(["CR", "CRi"])
    all_rec = R.proportion(reg, "response.orr_best.subgroup.all", f"Best ORR, all {ctx.response_pop_text}",
                           ctx.prop(int(orr.sum()), len(inf))) if len(inf) else None
    if all_rec is None:
        return [Note("No infused patients: no subgroup analysis.")]
    rows = [Row((label("All infused patients"), c_n_of_N_pct(all_rec), Cell(fmt.ci(*all_rec.ci), (all_rec.id,))))]
    frows = [F.ForestRow("All infused", all_rec.value, *all_rec.ci, _forest_text(all_rec))]
    for var in ctx.plan.subgroups.variables:
        if var not in inf or inf[var].notna().sum() == 0:
            continue
        levels = _levels_of(var, inf[var])
        if len(levels) < 2:
            continue
        rows.append(Row((label(_var_label(var)), empty(), empty()), heading=True))
        frows.append(F.ForestRow(_var_label(var), None, None, None, "", heading=True))
        labs = labels(inf[var])
        for level in levels:
            m = labs == level
            r = R.proportion(reg, f"response.orr_best.subgroup.{var}.{R.slug(level)}", f"Best ORR, {var} = {level}",
                             ctx.prop(int((orr & m).sum()), int(m.sum())))
            rows.append(Row((label(_show(level)), c_n_of_N_pct(r), Cell(fmt.ci(*r.ci), (r.id,))), indent=1))
            frows.append(F.ForestRow(_show(level), r.value, *r.ci, _forest_text(r), indent=True))
    conf = f"{ctx.conf:.0%}"
    table = Table("t04_response_subgroups", "Table 4. Best overall response rate by subgroup",
                  (label("Subgroup"), label("n/N (%)"), label(f"{conf} CI")), tuple(rows),
                  (f"{conf} CI, Clopper–Pearson (exact). Subgroups: plan [subgroups] variables. Denominator: "
                   f"{ctx.response_pop_text}.",))
    fig = ctx.figure("f02_orr_forest", "Figure 2. Best overall response rate by subgroup",
                     F.forest_figure(frows, xlabel=f"Best ORR, % ({conf} CI)",
                                     reference=100 * ctx.plan.efficacy.null_rate if tested else None,
                                     log=False, right_title=f"n/N   % ({conf} CI)", xlim=(0, 100)),
                     f"Dashed line: historical control rate ({ctx.plan.efficacy.null_rate:.0%})." if tested else "")
    return [fig, table]


def _forest_text(r: Record) -> str:
    return f"{fmt.integer(r.n)}/{fmt.integer(r.N)}   {fmt.est_ci(r.value, *r.ci)}"


# -- 4. time to event ------------------------------------------------------------------------------------


def _event(df: pd.DataFrame) -> pd.Series:
    """ADaM CNSR (0 = event, 1, 2, ... = censoring reasons) as the 0/1 event indicator statistics expect."""
    return (df["cnsr"].astype(int) == 0).astype(int)


def _risk_times(tmax: float) -> list[float]:
    step = 3 if tmax <= 24 else 6 if tmax <= 60 else 12
    n = int(np.ceil(tmax / step)) if tmax > 0 else 1
    return [float(step * i) for i in range(n + 1)]


def _km_curve(km, name: str, risk_times: list[float]) -> F.Curve:
    tab = km.table
    ev = tab[tab["n_event"] > 0]
    cen = tab[tab["n_censor"] > 0]
    at = km.at(risk_times) if risk_times else None
    return F.Curve(name, ev["time"].to_numpy(float), ev["surv"].to_numpy(float), ev["lower"].to_numpy(float),
                   ev["upper"].to_numpy(float), cen["time"].to_numpy(float), cen["surv"].to_numpy(float),
                   tuple(int(x) for x in at["n_risk"]) if at is not None else (), end=float(tab["time"].max()))


def section_tte(ctx: Ctx) -> Section:
    reg = ctx.reg
    adtte = ctx.d.adtte
    eff = ctx.plan.efficacy
    conf = f"{eff.conf_level:.0%}"
    landmarks = list(eff.landmarks_months)
    grouped = bool(ctx.groups)
    blocks: list = []
    notes: list = []
    header = [label("End point"), label("N"), label("Events"), label(f"Median, months ({conf} CI)")]
    header += [label(f"{_months_label(m)}-month rate, % ({conf} CI)") for m in landmarks]
    if grouped:
        header.append(label("Log-rank P"))
    rows: list[Row] = []
    fig_i = 0
    for param, (pid, title) in ENDPOINT_LABELS.items():
        if param not in ctx.plan.endpoints.params:
            continue
        df = adtte[adtte["param"] == param]
        if df.empty:
            continue
        subsets = [("", "All", df)]
        if grouped:
            gl = ctx.group_of(df)
            subsets += [(f".{R.slug(g)}", g, df[gl == g]) for g in ctx.groups if (gl == g).any()]
        curves = []
        lr_cell = empty()
        if grouped and len(subsets) > 2:
            lr = _safe(notes, stats.logrank, df["aval_months"], _event(df), ctx.group_of(df))
            if lr is not None:
                lr_cell = c_p(R.test(reg, f"tte.{pid}.logrank", f"{title}: log-rank test by {ctx.group_by}", lr))
        tmax = float(df["aval_months"].max())
        risk_times = _risk_times(tmax)
        annotation = ""
        for suffix, name, sub in subsets:
            km = _safe(notes, stats.kaplan_meier, sub["aval_months"], _event(sub),
                       conf_type="log-log", conf_level=eff.conf_level)
            if km is None:
                continue
            lab_sfx = f", {ctx.group_by} = {name}" if suffix else ""
            n_rec = R.count(reg, f"tte.{pid}.n{suffix}", f"{title}: patients{lab_sfx}", km.n)
            e_rec = R.count(reg, f"tte.{pid}.events{suffix}", f"{title}: events{lab_sfx}", km.events, unit="events")
            med = R.quantile(reg, f"tte.{pid}.median{suffix}", f"{title}: median{lab_sfx}", km.median, "months",
                             n=km.n)
            cells = [label(ctx.group_title(name) if suffix else title), c_count(n_rec), c_count(e_rec),
                     c_est_ci(med)]
            at = km.at(landmarks)
            for m, (_, row) in zip(landmarks, at.iterrows()):
                rr = R.rate(reg, f"tte.{pid}.rate_{_months_label(m)}m{suffix}",
                            f"{title}: {_months_label(m)}-month rate{lab_sfx}", row, km.method, int(row["n_risk"]))
                cells.append(c_est_ci(rr) if rr.value is not None else DASH_CELL)
            if grouped:
                cells.append(lr_cell if not suffix else empty())
            rows.append(Row(tuple(cells), indent=1 if suffix else 0))
            if grouped and not suffix:
                continue  # the by-group figure shows the groups, not the pooled curve
            curves.append(_km_curve(km, _show(name), risk_times))
            if not grouped:
                annotation = (f"Median {fmt.num(med.value)}{' months' if med.value is not None else ''} "
                              f"({conf} CI {fmt.ci(*med.ci)})")
        if grouped and lr_cell.text:
            annotation = f"Log-rank P {'= ' if not lr_cell.text.startswith(('<', '>')) else ''}{lr_cell.text}"
        if curves:
            fig_i += 1
            blocks.append(ctx.figure(
                f"f03_km_{pid}", f"Figure 3.{fig_i}. {title}",
                F.step_figure(curves, xlabel="Months since " + ("first CR/CRi" if param.startswith("DOR") else "infusion"),
                              ylabel=f"{title.split(' (')[0]} (%)", risk_times=risk_times, annotation=annotation,
                              legend_title=_short_var_label(ctx.group_by) if grouped else ""),
                f"Kaplan–Meier estimate with {conf} pointwise CI band (log-log); ticks mark censored patients; "
                "number at risk below the axis."))
    # median follow-up (reverse Kaplan–Meier on OS)
    os_df = adtte[adtte["param"] == "OS"]
    if not os_df.empty:
        q = _safe(notes, stats.median_followup, os_df["aval_months"], _event(os_df))
        if q is not None:
            fu = R.quantile(reg, "followup.median", "Median follow-up (reverse Kaplan–Meier)", q, "months",
                            n=len(os_df))
            rows.append(Row((label("Median follow-up, months (reverse KM)"), Cell(fmt.integer(fu.N), (fu.id,)),
                             empty(), c_est_ci(fu)) + tuple(empty() for _ in header[4:])))
    foot = [f"Kaplan–Meier estimates; {conf} CI of rates: Greenwood variance with log-log transform; CI of the "
            "median: Brookmeyer–Crowley (log-log band). NR, not reached. Months = days / "
            f"{ctx.plan.time.month_days:g}.",
            "; ".join(ENDPOINT_DEFINITIONS[p] for p in ENDPOINT_DEFINITIONS if p in ctx.plan.endpoints.params) +
            ". Censoring rules: analysis plan in force.",
            "Median follow-up: reverse Kaplan–Meier (Schemper & Smith)."]
    if grouped:
        foot.append("Log-rank P: unweighted log-rank test across groups (R survdiff).")
    table = Table("t05_tte", "Table 5. Time-to-event end points", tuple(header), tuple(rows), tuple(foot))
    blocks.insert(0, table)
    blocks += _comparisons(ctx, notes, fig_i)
    blocks += _cif(ctx, notes)
    return Section("tte", "4. Time to event", tuple(notes) + tuple(blocks))


def _comparisons(ctx: Ctx, notes: list, fig_i: int) -> list:
    """Plan ``groups.compare``: for each ADSL column, a Kaplan–Meier figure by level with the log-rank P for each
    of ``groups.compare_endpoints``, and one table of per-level N, events, median and landmark rates.

    Patients with the column missing are left out of that comparison. Record ids:
    ``tte.<endpoint>.<column>.<level>.{n,events,median,rate_<L>m}`` and ``tte.<endpoint>.<column>.logrank``.
    """
    gp = ctx.plan.groups
    reg = ctx.reg
    eff = ctx.plan.efficacy
    conf = f"{eff.conf_level:.0%}"
    landmarks = list(eff.landmarks_months)
    adtte = ctx.d.adtte
    blocks: list = []
    for j, var in enumerate(gp.compare, start=1):
        vs, vlabel = R.slug(var), _var_label(var)
        start = len(blocks)  # the table goes before its figures
        values = labels(ctx.adsl.set_index("patient_id")[var])
        header = [label("End point / group"), label("N"), label("Events"), label(f"Median, months ({conf} CI)")]
        header += [label(f"{_months_label(m)}-month rate, % ({conf} CI)") for m in landmarks]
        header.append(label("Log-rank P"))
        rows: list[Row] = []
        for param in gp.compare_endpoints:
            pid, title = ENDPOINT_LABELS[param]
            if param not in ctx.plan.endpoints.params:
                notes.append(Note(f"{title} by {vlabel}: {param} is not in plan endpoints.params, no comparison."))
                continue
            df = adtte[adtte["param"] == param]
            g = df["patient_id"].map(values)
            df, g = df[g.notna()], g[g.notna()]
            levels = _levels_of(var, g)
            if len(levels) < 2:
                notes.append(Note(f"{title} by {vlabel}: fewer than two groups with data, no comparison."))
                continue
            lr = _safe(notes, stats.logrank, df["aval_months"], _event(df), g)
            p_cell = (c_p(R.test(reg, f"tte.{pid}.{vs}.logrank", f"{title}: log-rank test by {var}", lr))
                      if lr is not None else empty())
            rows.append(Row((label(title),) + tuple(empty() for _ in header[1:-1]) + (p_cell,)))
            risk_times = _risk_times(float(df["aval_months"].max()))
            curves = []
            for level in levels:
                sub = df[g == level]
                km = _safe(notes, stats.kaplan_meier, sub["aval_months"], _event(sub), conf_type="log-log",
                           conf_level=eff.conf_level)
                if km is None:
                    continue
                rid, lab = f"tte.{pid}.{vs}.{R.slug(level)}", f"{title}, {var} = {level}"
                n_rec = R.count(reg, f"{rid}.n", f"{lab}: patients", km.n)
                e_rec = R.count(reg, f"{rid}.events", f"{lab}: events", km.events, unit="events")
                med = R.quantile(reg, f"{rid}.median", f"{lab}: median", km.median, "months", n=km.n)
                cells = [label(_show(level)), c_count(n_rec), c_count(e_rec), c_est_ci(med)]
                for m, (_, row) in zip(landmarks, km.at(landmarks).iterrows()):
                    rr = R.rate(reg, f"{rid}.rate_{_months_label(m)}m", f"{lab}: {_months_label(m)}-month rate", row,
                                km.method, int(row["n_risk"]))
                    cells.append(c_est_ci(rr) if rr.value is not None else DASH_CELL)
                rows.append(Row(tuple(cells) + (empty(),), indent=1))
                curves.append(_km_curve(km, _show(level), risk_times))
            if curves:
                fig_i += 1
                annotation = (f"Log-rank P {'= ' if not p_cell.text.startswith(('<', '>')) else ''}{p_cell.text}"
                              if p_cell.text else "")
                blocks.append(ctx.figure(
                    f"f03_km_{pid}_by_{vs}", f"Figure 3.{fig_i}. {title} by {vlabel[:1].lower() + vlabel[1:]}",
                    F.step_figure(curves, xlabel="Months since " + ("first CR/CRi" if param.startswith("DOR") else
                                                                    "infusion"),
                                  ylabel=f"{title.split(' (')[0]} (%)", risk_times=risk_times, annotation=annotation,
                                  legend_title=_short_var_label(var)),
                    f"Kaplan–Meier estimate by {vlabel} with {conf} pointwise CI band (log-log); number at risk below "
                    "the axis."))
        if not rows:
            continue
        foot = [f"Comparison {j} of plan groups.compare: {var}. Kaplan–Meier estimates ({conf} CI: Greenwood variance "
                "with log-log transform; median: Brookmeyer–Crowley); log-rank P: unweighted log-rank test across the "
                f"groups (R survdiff). Patients with {var} missing are not in this comparison."]
        if var in POST_INFUSION_GROUPS:
            foot.append(f"{vlabel} is defined by events after infusion but compared here as if known at infusion, as "
                        "registry publications do: its patients had to stay alive and in remission until it started, "
                        "which favours the 'yes' group (immortal-time bias). A time-dependent Cox model or a landmark "
                        "analysis avoids it.")
        table_title = f"Table 5.{j}. Time-to-event end points by {vlabel[:1].lower() + vlabel[1:]}"
        blocks.insert(start, Table(f"t05_tte_by_{vs}", table_title, tuple(header), tuple(rows), tuple(foot)))
    return blocks


def _cif(ctx: Ctx, notes: list) -> list:
    reg = ctx.reg
    if "CIR" not in ctx.plan.endpoints.params:
        return []
    df = ctx.d.adtte[ctx.d.adtte["param"] == "CIR"]
    if df.empty:
        return [Note("Cumulative incidence of relapse: no responders (CIR not derived).")]
    eff = ctx.plan.efficacy
    conf = f"{eff.conf_level:.0%}"
    res = _safe(notes, stats.cumulative_incidence, df["aval_months"], df["evntcd"].astype(int),
                conf_type="log-log", conf_level=eff.conf_level)
    if res is None:
        return []
    names = {"1": ("cir", "Relapse"), "2": ("nrm", "Non-relapse mortality")}
    risk_times = _risk_times(float(df["aval_months"].max()))
    grouped = bool(ctx.groups)
    by_group = None
    if grouped:
        by_group = _safe(notes, stats.cumulative_incidence, df["aval_months"], df["evntcd"].astype(int),
                         group=ctx.group_of(df), conf_type="log-log", conf_level=eff.conf_level)
    curves, rows = [], []

    def rate_cells(c, pid: str, name: str, suffix: str, lab_sfx: str) -> list[Cell]:
        cells = []
        for m, (_, row) in zip(eff.landmarks_months, c.at(list(eff.landmarks_months)).iterrows()):
            rr = R.rate(reg, f"tte.{pid}.rate_{_months_label(m)}m{suffix}",
                        f"Cumulative incidence of {name.lower()} at {_months_label(m)} months{lab_sfx}", row, c.method)
            cells.append(c_est_ci(rr) if rr.value is not None else DASH_CELL)
        return cells

    def curve(c, name: str) -> F.Curve:
        tab = c.table
        return F.Curve(name, tab["time"].to_numpy(float), tab["cif"].to_numpy(float), tab["lower"].to_numpy(float),
                       tab["upper"].to_numpy(float), y0=0.0, end=float(c.max_time))

    for c in res.curves:
        if str(c.cause) not in names:
            continue
        pid, name = names[str(c.cause)]
        cells = [label(name)] + rate_cells(c, pid, name, "", "")
        if not grouped:
            rows.append(Row(tuple(cells)))
            curves.append(curve(c, name))
            continue
        gray = next((g for g in (by_group.gray if by_group else ()) if str(g.cause) == str(c.cause)), None)
        cells.append(c_p(R.test(reg, f"tte.{pid}.gray", f"{name}: Gray's test by {ctx.group_by}", gray))
                     if gray is not None else empty())
        rows.append(Row(tuple(cells)))
        for cg in (by_group.curves if by_group else ()):
            if str(cg.cause) != str(c.cause):
                continue
            g = str(cg.group)
            cells = [label(ctx.group_title(g))] + rate_cells(cg, pid, name, f".{R.slug(g)}",
                                                             f", {ctx.group_by} = {g}")
            rows.append(Row(tuple(cells) + (empty(),), indent=1))
            curves.append(curve(cg, f"{name}, {_show(g)}"))
    header = (label("Event"),) + tuple(label(f"{_months_label(m)} months, % ({conf} CI)")
                                        for m in eff.landmarks_months) + ((label("Gray's test P"),) if grouped else ())
    table = Table("t06_cif", "Table 6. Cumulative incidence of relapse and non-relapse mortality among responders",
                  header, tuple(rows),
                  (f"Aalen–Johansen estimator from first CR/CRi; relapse and death without relapse are competing "
                   f"events; {conf} CI with log-log transform (Aalen variance)." +
                   (" Between-group comparison: Gray's test." if grouped else ""),))
    fig = ctx.figure("f04_cif", "Figure 4. Cumulative incidence of relapse and non-relapse mortality",
                     F.step_figure(curves, xlabel="Months since first CR/CRi", ylabel="Cumulative incidence (%)",
                                   risk_times=risk_times, ylim=(0.0, 1.0)),
                     "Aalen–Johansen estimates among responders with pointwise CI bands.")
    return [table, fig]


# -- 5. regression --------------------------------------------------------------------------------------


def _immortal_time_note(covariates) -> tuple[str, ...]:
    """A footnote when a model holds covariates defined by events after infusion (``POST_INFUSION_GROUPS``)."""
    post = [c for c in covariates if c in POST_INFUSION_GROUPS]
    if not post:
        return ()
    return (f"{', '.join(post)}: defined by events after infusion but modelled as known at infusion, as registry "
            "publications do; this favours the 'yes' group (immortal-time bias).",)


def _continuous_label(var: str) -> str:
    """``"Age, years"`` → ``"Age (per year)"``: a continuous covariate's hazard ratio is per unit."""
    for name, text, _, _ in CONTINUOUS:
        if name == var:
            base, _, unit = text.rpartition(", ")
            per = {"years": "year", "%": "1%"}.get(unit, f"1 {unit}")
            return f"{base} (per {per})"
    return var


def _term_label(var: str, level: str, reference: str | None, flag: bool) -> str:
    """A Cox term as a reader sees it: ``prior_hsct=auto`` → ``"Prior HSCT: Autologous vs None"``, a yes/no column
    ``emd`` → ``"Extramedullary disease: Yes vs No"``, ``age`` → ``"Age (per year)"`` (labels of Table 2)."""
    if level:
        return f"{_short_var_label(var)}: {_show(level)} vs {_show(str(reference))}"
    if flag:
        return f"{_short_var_label(var)}: Yes vs No"
    return _continuous_label(var)


def _short_var_label(var: str) -> str:
    """The variable label without a trailing list of its levels (``"Prior inotuzumab (naive / …)"`` →
    ``"Prior inotuzumab"``): a Cox term names its levels itself."""
    text = _var_label(var)
    return text[:text.rindex(" (")] if text.endswith(")") and " (" in text else text


def section_regression(ctx: Ctx) -> Section:
    reg = ctx.reg
    cp = ctx.plan.cox
    adtte = ctx.d.adtte
    if cp.endpoint not in ctx.plan.endpoints.params:
        return Section("regression", "5. Regression", (Note(
            f"No Cox model: the analysis plan's Cox endpoint ({cp.endpoint}, cox.endpoint) is not one of its "
            "endpoints (endpoints.params)."),))
    df = adtte[adtte["param"] == cp.endpoint][["patient_id", "aval_months", "cnsr"]]
    if df.empty:
        return Section("regression", "5. Regression", (Note(f"No {cp.endpoint} data: no Cox model."),))
    data = df.merge(ctx.adsl, on="patient_id", how="left", suffixes=("", "_adsl"))
    data = data.assign(time=data["aval_months"], event=_event(data))
    candidates, categorical, skipped, flags = [], {}, [], set()
    reference = dict(cp.reference)
    problems = []
    for var in list(dict.fromkeys(cp.candidates + cp.forced)):
        if var not in data or labels(data[var].dropna()).nunique() < 2:
            skipped.append(var)
            continue
        col = data[var]
        if str(col.dtype) == "boolean" or col.dtype == bool:
            data[var] = col.astype("Float64").astype(float)
            flags.add(var)
        elif col.dtype == object or isinstance(col.dtype, pd.StringDtype):  # text: object, or pandas 3's str
            data[var] = col.map(lambda v: None if pd.isna(v) else _lab(v))
            levels = stats_levels(data[var].dropna())
            # the reference is always passed explicitly, so that the reported contrast is the one the plan names
            # even when complete cases lose a level (the model then fails with a note instead of switching it)
            categorical[var] = reference.get(var, levels[0])
            if categorical[var] not in levels:
                problems.append(f"level {categorical[var]!r} of {var} is not in the data; levels: {', '.join(levels)}")
        candidates.append(var)
        if var in reference and var not in categorical:
            problems.append(f"{var} is not categorical (yes/no and numeric covariates have no reference level)")
    if problems:
        file = ctx.study.plan_path.name if getattr(ctx.study, "plan_path", None) else "sap.toml"
        raise StudyError([Problem(file, None, "cox.reference", m) for m in problems])
    notes: list = []
    if skipped:
        notes.append(Note("Not modelled (absent or without variation): " + ", ".join(skipped) + "."))
    if not candidates:
        return Section("regression", "5. Regression", tuple(notes) + (Note("No candidate covariates."),))
    forced = tuple(v for v in cp.forced if v in candidates)
    try:
        mb = stats.cox_model_building(data, "time", "event", [c for c in candidates if c not in forced],
                                      forced=forced, threshold=cp.threshold, categorical=categorical or None)
        univariable, multivariable = mb.univariable, mb
    except stats.StatsInputError as e:
        # no covariate passes the screen (or the model cannot be fitted): still show the univariable models
        notes.append(Note(f"No multivariable model: {e}."))
        univariable = {}
        for var in candidates:
            fit = _safe(notes, stats.cox, data, "time", "event", [var],
                        categorical={var: categorical[var]} if var in categorical else None)
            if fit is not None:
                univariable[var] = fit
        multivariable = None
    conf = f"{ctx.conf:.0%}"

    def term_rows(model: str, res) -> tuple[list[Row], list[F.ForestRow]]:
        rows, frows = [], []
        for _, t in res.terms.iterrows():
            rid = f"cox.{model}.{R.slug(t['term'])}"
            rec = reg.add(Record(rid, f"{cp.endpoint} Cox {model}: {t['term']}", t["hr"], unit="HR", N=res.n,
                                 ci=(t["hr_lower"], t["hr_upper"]), p_value=t["p"], method=res.method))
            var, _, level = str(t["term"]).partition("=")
            rows.append(Row((label(_term_label(var, level, categorical.get(var), var in flags)), c_est_ci(rec, 2),
                             c_p(rec))))
            text = fmt.est_ci(rec.value, *rec.ci, 2)
            if level:  # the forest plot lists a categorical covariate's levels under one heading naming its reference
                head = f"{_short_var_label(var)} (ref. {_show(categorical[var])})"
                if not any(f.heading and f.label == head for f in frows):
                    frows.append(F.ForestRow(head, None, None, None, "", heading=True))
                frows.append(F.ForestRow(_show(level), rec.value, *rec.ci, text, indent=True))
            else:
                frows.append(F.ForestRow(_term_label(var, "", None, var in flags), rec.value, *rec.ci, text))
        return rows, frows

    uni_rows = []
    for var in candidates:
        if var in univariable:
            uni_rows += term_rows("univariable", univariable[var])[0]
    hdr = (label("Term"), label(f"HR ({conf} CI)"), label("P value"))
    ties = next(iter(univariable.values())).ties if univariable else "efron"
    blocks: list = [Table("t07_cox_univariable", f"Table 7. Univariable Cox models for {cp.endpoint}", hdr,
                          tuple(uni_rows),
                          (f"Cox proportional hazards, {ties} ties; Wald {conf} CI and P. One model per covariate "
                           "(complete cases); categorical covariates against their reference level (plan "
                           "cox.reference, else the first level in R's order); continuous covariates per unit.",))]
    frows = []
    if multivariable is not None:
        multi_rows, frows = term_rows("multivariable", multivariable.multivariable)
        selected = ", ".join(multivariable.selected)
        blocks.append(Table("t08_cox_multivariable", f"Table 8. Multivariable Cox model for {cp.endpoint}", hdr,
                            tuple(multi_rows),
                            (f"Covariates with univariable P < {cp.threshold:g} (likelihood-ratio test)" +
                             (f" plus forced {', '.join(forced)}" if forced else "") +
                             f"; selected: {selected}. {multivariable.method}.",) + _immortal_time_note(multivariable.selected)))
    if frows:
        blocks.append(ctx.figure("f05_cox_forest", f"Figure 5. Hazard ratios for {cp.endpoint} (multivariable model)",
                                 F.forest_figure(frows, xlabel=f"Hazard ratio ({conf} CI, log scale)", reference=1.0,
                                                 log=True, right_title=f"HR ({conf} CI)")))
    return Section("regression", "5. Regression", tuple(notes) + tuple(blocks))


# -- 6. safety ----------------------------------------------------------------------------------------------

AESI = (
    ("crs", "crs_g3", "Cytokine release syndrome (ASTCT)"),
    ("icans", "icans_g3", "ICANS (ASTCT)"),
    ("hlh", None, "HLH/MAS"),
    ("hypogamma", None, "Hypogammaglobulinemia"),
    ("infection", "infection_g3", "Infection"),
)


def _columns(ctx: Ctx) -> list[tuple[str, str, pd.DataFrame, Record]]:
    """Safety columns: one per group plus the total, or the infused population."""
    cols = []
    if ctx.groups:
        for g in ctx.groups:
            cols.append((ctx.group_title(g), f".{R.slug(g)}", ctx.infused[ctx.group_of(ctx.infused) == g],
                         ctx.n_group(g)))
        cols.append(("Total", "", ctx.infused, ctx.n_infused))
    else:
        cols.append(("Infused", "", ctx.infused, ctx.n_infused))
    return cols


def _pct_cell(ctx: Ctx, rid: str, text: str, x: int, N: int) -> Cell:
    p = ctx.prop(x, N)
    return c_n_pct(R.proportion(ctx.reg, rid, text, p, with_ci=False)) if p else DASH_CELL


def section_safety(ctx: Ctx) -> Section:
    cols = _columns(ctx)
    blocks: list = []
    notes: list = []
    header_cols = [c_header_N(name, nrec) for name, _, _, nrec in cols]
    # 6a TEAE by term and grade
    adae = ctx.d.adae
    ids = set(ctx.infused["patient_id"])
    te = adae[_flag(adae["trtemfl"]) & adae["patient_id"].isin(ids) & _flag(adae["worst_fl"])]
    rows: list[Row] = []
    terms = te.groupby("term")["patient_id"].nunique().sort_values(ascending=False)
    terms = terms.reset_index().sort_values(["patient_id", "term"], ascending=[False, True])["term"].tolist()
    limit_note = ""
    if len(terms) > 60:
        n_inf = max(len(ctx.infused), 1)
        counts = te.groupby("term")["patient_id"].nunique()
        terms = [t for t in terms if counts[t] / n_inf >= 0.05]
        limit_note = " Terms reported in ≥ 5% of infused patients."
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
                cells.append(_pct_cell(ctx, f"safety.teae.{R.slug(term)}.{band}{sfx}", f"{term}, {band_text[band]}",
                                       x, len(df)))
        rows.append(Row(tuple(cells)))
    bands = ["All grades", "Grade 3/4", "Grade 5"]
    hdr = [label("Preferred term")] + [Cell(f"{b}: {h.text}", h.ids) for b in bands for h in header_cols]
    blocks.append(Table("t09_teae", "Table 9. Treatment-emergent adverse events by preferred term and worst grade",
                        tuple(hdr), tuple(rows),
                        ("n (%) of infused patients, counted once per term at their worst grade (CTCAE v5.0; "
                         "ASTCT for CRS and ICANS)." + limit_note,)))
    blocks += _sae_related(ctx, cols, header_cols, adae[_flag(adae["trtemfl"]) & adae["patient_id"].isin(ids)], notes)
    # 6b AESI, CRS and ICANS
    rows = []
    hdr = [label("Adverse event of special interest")] + header_cols
    for flag_col, rid, text in (("teae", "safety.teae.any", "Any TEAE"),
                                ("teae_g3", "safety.teae.grade3plus", "Any grade ≥ 3 TEAE")):
        cells = [label(text)]
        for _, sfx, df, _ in cols:
            cells.append(_pct_cell(ctx, rid + sfx, text, int(_flag(df[flag_col]).sum()), len(df)))
        rows.append(Row(tuple(cells)))
    for flag_col, g3_col, text in AESI:
        if flag_col not in ctx.adsl or ctx.infused[flag_col].notna().sum() == 0:
            continue
        rows.append(Row((label(text),) + tuple(empty() for _ in cols), heading=True))
        cells = [label("Any grade")]
        for _, sfx, df, _ in cols:
            cells.append(_pct_cell(ctx, f"safety.{flag_col}.any{sfx}", f"{text}, any grade",
                                   int(_flag(df[flag_col]).sum()), len(df)))
        rows.append(Row(tuple(cells), indent=1))
        grade_col = f"{flag_col}_grade"
        if g3_col or grade_col in ctx.adsl:
            cells = [label("Grade ≥ 3")]
            for _, sfx, df, _ in cols:
                x = int(_flag(df[g3_col]).sum()) if g3_col else int((df[grade_col].astype(float) >= 3).sum())
                cells.append(_pct_cell(ctx, f"safety.{flag_col}.grade3plus{sfx}", f"{text}, grade ≥ 3", x, len(df)))
            rows.append(Row(tuple(cells), indent=1))
        if flag_col in ("crs", "icans"):
            for k in (1, 2, 3, 4, 5):
                cells = [label(f"Grade {k}")]
                for _, sfx, df, _ in cols:
                    x = int((df[f"{flag_col}_grade"].astype(float) == k).sum())
                    cells.append(_pct_cell(ctx, f"safety.{flag_col}.grade{k}{sfx}", f"{text}, maximum grade {k}",
                                           x, len(df)))
                rows.append(Row(tuple(cells), indent=1))
            for what, col, unit in (("onset", f"{flag_col}_onset_day", "day"),
                                    ("duration", f"{flag_col}_duration_days", "days")):
                cells = [label(f"{'Onset, day' if what == 'onset' else 'Duration, days'}: median (range)")]
                for _, sfx, df, _ in cols:
                    s = describe(df.loc[_flag(df[flag_col]), col])
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
                cells.append(_pct_cell(ctx, f"safety.{col}{sfx}", f"{text} given", int(_flag(df[col]).sum()), len(df)))
            rows.append(Row(tuple(cells)))
    if not ("tocilizumab" in ctx.adsl and ctx.infused["tocilizumab"].notna().any()):
        notes.append(Note("No daily toxicity data (toxicity_daily not supplied): CRS and ICANS come from the adverse-"
                          "event grades; tocilizumab and corticosteroid use are not available."))
    blocks.append(Table("t10_aesi", "Table 10. Adverse events of special interest, CRS and ICANS", tuple(hdr),
                        tuple(rows),
                        ("n (%) of infused patients. CRS and ICANS graded by ASTCT 2019 consensus; onset in days "
                         "after infusion and duration (inclusive) of the first episode, median (range) among "
                         "patients with the event.",)))
    # 6c deaths
    rows = []
    rows.append(_death_row(ctx, cols, "safety.deaths", "Deaths", lambda df: _flag(df["death"])))
    early = ctx.plan.toxicity.early_death_days
    rows.append(_death_row(ctx, cols, "safety.deaths_30d", f"Within {early:g} days of infusion (early deaths)",
                           lambda df: _flag(df["death_early"]), indent=1))
    rows.append(_death_row(ctx, cols, "safety.deaths_after_30d", f"More than {early:g} days after infusion",
                           lambda df: _flag(df["death"]) & ~_flag(df["death_early"]), indent=1))
    causes = ctx.infused.loc[_flag(ctx.infused["death"]), "death_cause"].fillna("unknown").astype(str)
    if len(causes):
        rows.append(Row((label("Cause of death"),) + tuple(empty() for _ in cols), heading=True))
        for cause in sorted(causes.unique(), key=lambda c: (-int((causes == c).sum()), c)):
            rows.append(_death_row(ctx, cols, f"safety.deaths.cause.{R.slug(cause)}", cause,
                                   lambda df, c=cause: _flag(df["death"]) & (df["death_cause"].fillna("unknown")
                                                                             .astype(str) == c), indent=1))
    blocks.append(Table("t11_deaths", "Table 11. Deaths by cause and timing", (label("Deaths"),) + tuple(header_cols),
                        tuple(rows),
                        ("n (%) of infused patients; cause as recorded (events.detail of the death).",)))
    return Section("safety", "6. Safety", tuple(notes) + tuple(blocks))


def _sae_related(ctx: Ctx, cols, header_cols: list[Cell], te: pd.DataFrame, notes: list) -> list:
    """Serious and treatment-related TEAEs (``adverse_events.serious`` / ``related``): patients with any, with any
    serious related, and by preferred term — n (%) of infused patients, each patient counted once per row."""
    if te.empty:
        return []
    rows: list[Row] = []
    kinds = [(col, text) for col, text in (("serious", "Serious"), ("related", "Treatment-related"))
             if te[col].notna().any()]
    missing = [col for col in ("serious", "related") if col not in dict(kinds)]
    if missing:
        notes.append(Note(f"adverse_events.{' and '.join(missing)} not recorded for any treatment-emergent event: "
                          f"{' and '.join(missing)} adverse events are not reported."))
    if not kinds:
        return []
    masks = {col: _flag(te[col]) for col, _ in kinds}
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
            cells.append(_pct_cell(ctx, rid + sfx, text, x, len(df)))
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
        for term in terms:
            cells = [label(term)]
            for _, sfx, df, _ in cols:
                x = sub.loc[(sub["term"] == term) & sub["patient_id"].isin(df["patient_id"]), "patient_id"].nunique()
                cells.append(_pct_cell(ctx, f"safety.{rid}.{R.slug(term)}{sfx}", f"{text} TEAE: {term}", x, len(df)))
            rows.append(Row(tuple(cells), indent=1))
    return [Table("t09a_sae", "Table 9a. Serious and treatment-related adverse events",
                  (label("Treatment-emergent adverse event"),) + tuple(header_cols), tuple(rows),
                  ("n (%) of infused patients with at least one such event (any grade), counted once per row; serious "
                   "and related (to CAR-T) as reported in adverse_events." +
                   (" Terms reported in ≥ 5% of infused patients." if limit else ""),))]


def _death_row(ctx: Ctx, cols, rid: str, text: str, mask_fn, indent: int = 0) -> Row:
    cells = [label(text)]
    for _, sfx, df, _ in cols:
        cells.append(_pct_cell(ctx, rid + sfx, text, int(mask_fn(df).sum()), len(df)))
    return Row(tuple(cells), indent=indent)


# -- 7. cellular kinetics -------------------------------------------------------------------------------------

PK_PARAMS = (
    # (adpp param, id, label, unit, geometric mean shown, decimals)
    ("CMAX", "cmax", "Cmax", "copies/µg gDNA", True, 0),
    ("TMAX", "tmax", "Tmax", "days", False, 1),
    ("AUCINT", "auc0_28", "AUC0–28d", "copies/µg gDNA × day", True, 0),
    ("TLST", "persistence", "Persistence (last day ≥ LLOQ)", "days", True, 1),
)


def section_pk(ctx: Ctx) -> Section:
    adpp = ctx.d.adpp
    matrix = ctx.plan.pk.matrix
    pp = adpp[(adpp["matrix"] == matrix) & adpp["patient_id"].isin(ctx.infused["patient_id"])]
    if pp.empty:
        return Section("pk", "7. Cellular kinetics", (Note(
            "No cellular-kinetics data: the study has no pk table (or no samples in the "
            f"{matrix} matrix), so Cmax, Tmax, AUC0–28d and persistence are not reported."),))
    reg = ctx.reg
    rows = []
    for param, pid, text, unit, geo, digits in PK_PARAMS:
        vals = pp.loc[pp["param"] == param, "aval"]
        s = describe(vals)
        if s.n == 0:
            continue
        which = ("n", "median", "min", "max") + (("geo_mean", "geo_cv") if geo else ())
        r = R.summary(reg, f"pk.{pid}", text, s, unit, which)
        rows.append(Row((label(f"{text}, {unit}"), c_count(r["n"]), c_median_range(r["median"], r["min"], r["max"],
                                                                                     digits),
                         Cell(f"{fmt.num(r['geo_mean'].value, digits)} ({fmt.num(r['geo_cv'].value, 1)})",
                              (r["geo_mean"].id, r["geo_cv"].id)) if geo and r["geo_mean"].value is not None
                         else empty())))
    blocks: list = [Table("t12_pk", f"Table 12. Cellular kinetics ({matrix}, transgene by qPCR)",
                          (label("Parameter"), label("n"), label("Median (range)"), label("Geometric mean (CV%)")),
                          tuple(rows),
                          (f"Non-compartmental analysis (plan [pk]: AUC {ctx.plan.pk.auc_method}, BLQ rule "
                           f"{ctx.plan.pk.blq}); geometric CV% = 100·sqrt(exp(s²) − 1), s = SD of log values.",))]
    notes: list = []
    blocks += _pk_comparisons(ctx, pp, notes)
    fig = _spaghetti(ctx, matrix)
    if fig is not None:
        blocks.append(fig)
    return Section("pk", "7. Cellular kinetics", tuple(notes) + tuple(blocks))


def _pk_comparisons(ctx: Ctx, pp: pd.DataFrame, notes: list) -> list:
    reg = ctx.reg
    inf = ctx.infused.set_index("patient_id")
    resp = inf["bor"].astype(object).isin(["CR", "CRi"]).map({True: "responder", False: "non-responder"})
    crs_g = inf["crs_grade"].astype(float)
    crs_lab = pd.Series(np.where(crs_g.isna(), None, np.where(crs_g >= 3, "grade ≥ 3", np.where(
        crs_g >= 1, "grade 1–2", "none"))), index=inf.index)
    rows = []
    methods = set()
    bys = [("by_response", "Best response", resp), ("by_crs", "CRS", crs_lab)]
    if ctx.plan.efficacy.orr == "none":  # infused in remission: response is not an endpoint to compare kinetics by
        bys = bys[1:]
    for by, by_text, grouping in bys:
        for param, pid, text, unit, _, _ in PK_PARAMS:
            if param not in ("CMAX", "AUCINT"):
                continue
            v = pp[pp["param"] == param].set_index("patient_id")["aval"]
            g = grouping.reindex(v.index)
            ok = v.notna() & g.notna()
            if ok.sum() == 0:
                continue
            levels = [lv for lv in ("responder", "non-responder", "none", "grade 1–2", "grade ≥ 3")
                      if lv in set(g[ok])]
            rows.append(Row((label(f"{text} by {by_text.lower()}"), empty(), empty(), empty()), heading=True))
            for lv in levels:
                s = describe(v[ok & (g == lv)])
                r = R.summary(reg, f"pk.{pid}.{by}.{R.slug(lv)}", f"{text}, {by_text.lower()} {lv}", s, unit,
                              ("n", "median", "min", "max"))
                rows.append(Row((label(lv), c_count(r["n"]), c_median_range(r["median"], r["min"], r["max"], 0),
                                 empty()), indent=1))
            if len(levels) >= 2:
                t = _safe(notes, stats.compare_continuous, v[ok].astype(float), g[ok])
                if t is not None:
                    methods.add(t.method)
                    rec = R.test(reg, f"pk.{pid}.{by}.test", f"{text} by {by_text.lower()}: test", t)
                    cells = list(rows[-len(levels) - 1].cells)
                    cells[3] = c_p(rec)
                    rows[-len(levels) - 1] = Row(tuple(cells), heading=True)
    if not rows:
        return []
    title = "Table 13. Cmax and AUC0–28d by " + ("response and by " if len(bys) == 2 else "") + "CRS grade"
    return [Table("t13_pk_by_group", title,
                  (label("Parameter / group"), label("n"), label("Median (range)"), label("P value")), tuple(rows),
                  ("P values: " + ("; ".join(sorted(methods)) if methods else "not computed") +
                   " (Wilcoxon rank-sum for two groups, Kruskal–Wallis for more).",))]


def _spaghetti(ctx: Ctx, matrix: str) -> Figure | None:
    pk = ctx.study.tables["pk"]
    pk = pk[(pk["matrix"] == matrix) & pk["patient_id"].isin(ctx.infused["patient_id"]) & (pk["day"] >= 0)]
    if pk.empty:
        return None
    quant = pk[pk["value"].notna() & ~(pk["value"] < pk["lloq"].fillna(-np.inf))]
    if quant.empty:
        return None
    profiles = [(g["day"].to_numpy(float), g["value"].to_numpy(float))
                for _, g in quant.sort_values(["patient_id", "day"]).groupby("patient_id", sort=True)]
    if len(profiles) > 300:  # a readable plot: every k-th patient (deterministic); the median uses all
        step = int(np.ceil(len(profiles) / 300))
        profiles = profiles[::step]
    days = np.round(quant["day"].to_numpy(float))
    med_x, med_y = [], []
    for day in np.unique(days):
        s = describe(quant["value"].to_numpy(float)[days == day])
        if s.n >= 3:
            med_x.append(day)
            med_y.append(s.median)
    lloq = quant["lloq"].dropna()
    fig = F.spaghetti_figure(profiles, (np.array(med_x), np.array(med_y)), xlabel="Days since infusion",
                             ylabel="Transgene, copies/µg gDNA (log scale)",
                             lloq=float(lloq.iloc[0]) if len(lloq) and lloq.nunique() == 1 else None)
    return ctx.figure("f06_pk_spaghetti", "Figure 6. CAR-T expansion and persistence", fig,
                      "Individual profiles (grey; quantifiable samples) and the median at each nominal day with ≥ 3 "
                      "samples (red).")


# -- 8. swimmer ---------------------------------------------------------------------------------------------------


def section_swimmer(ctx: Ctx) -> Section:
    inf = ctx.infused
    if inf.empty:
        return Section("swimmer", "8. Swimmer plot", (Note("No infused patients."),))
    md = ctx.plan.time.month_days
    adrs = ctx.d.adrs
    mrd = adrs[(adrs["param"] == "MRDBEST") & (adrs["avalc"] == "negative") & _flag(adrs["primary"])]
    mrd_day = mrd.groupby("patient_id")["ady"].min()
    inf = inf.sort_values(["fu_months", "patient_id"], ascending=[False, True])
    limit = 200
    note = []
    if len(inf) > limit:
        # an evenly spaced sample along the follow-up order keeps short and long lanes in proportion; the
        # longest follow-ups alone would show almost only responders
        keep = np.unique(np.linspace(0, len(inf) - 1, limit).round().astype(int))
        note.append(Note(f"{len(inf)} infused patients: the plot shows {len(keep)} of them, evenly spaced in "
                         "the order of follow-up (a systematic sample)."))
        inf = inf.iloc[keep]
    lanes = []
    # infused in remission (efficacy.orr = "none"): no response to mark or colour by, one neutral lane colour
    in_remission = ctx.plan.efficacy.orr == "none"
    for _, p in inf.iterrows():
        marks = []
        orr = str(p["bor"]) in ("CR", "CRi")
        if orr and pd.notna(p["rem_day"]) and not in_remission:
            marks.append(("response", float(p["rem_day"]) / md))
        if p["patient_id"] in mrd_day.index and pd.notna(mrd_day[p["patient_id"]]):
            marks.append(("mrd_negative", float(mrd_day[p["patient_id"]]) / md))
        if pd.notna(p.get("hsct_dt")) and pd.notna(p.get("infusion_date")):
            marks.append(("hsct", (p["hsct_dt"] - p["infusion_date"]).days / md))
        if bool(_flag(pd.Series([p["relapse"]])).iloc[0]) and pd.notna(p["relapse_day"]):
            cd19 = str(p["relapse_cd19"]) if pd.notna(p["relapse_cd19"]) else "unknown"
            kind = {"cd19_pos": "relapse_cd19_pos", "cd19_neg": "relapse_cd19_neg"}.get(cd19, "relapse_unknown")
            marks.append((kind, float(p["relapse_day"]) / md))
        dead = bool(_flag(pd.Series([p["death"]])).iloc[0])
        if dead and pd.notna(p["death_day"]):
            marks.append(("death", float(p["death_day"]) / md))
        lanes.append(F.Lane(str(p["patient_id"]), float(p["fu_months"]) if pd.notna(p["fu_months"]) else 0.0,
                            not dead, "in_remission" if in_remission else "responder" if orr else "non_responder",
                            tuple(marks)))
    lane_text = ("patients infused in remission: response is not an end point" if in_remission
                 else "blue: responder (best response CR/CRi), grey: non-responder")
    fig = ctx.figure("f07_swimmer", "Figure 7. Swimmer plot of infused patients",
                     F.swimmer_figure(lanes, xlabel="Months since infusion"),
                     f"One lane per infused patient from infusion to last contact or death ({lane_text}); "
                     f"markers: {'' if in_remission else 'first CR/CRi, '}first MRD negativity, HSCT, relapse by CD19 "
                     "status, death; arrow: alive at last contact.")
    return Section("swimmer", "8. Swimmer plot", tuple(note) + (fig,))


SECTIONS = (section_disposition, section_baseline, section_response, section_tte, section_regression,
            section_safety, section_pk, section_swimmer)
