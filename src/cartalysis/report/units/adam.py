"""The general report of any ADaM trial (``cartalysis report DIR`` on a folder of ADSL, ADTTE, ADRS, ADAE).

Units, each by the treatment variable (plan ``groups.by``, default ``TRT01A``; without it in ADSL the analyses are
of all subjects, and a note says so):

* disposition: ADSL population flags (every ``..FL`` variable holding ``Y``), end-of-study status and reasons;
* Table 1: age, age group, sex, race, ethnicity, country (population: ITTFL = Y when ADSL has it, else all);
* time to event, for every PARAMCD of ADTTE: Kaplan–Meier N, events, median (CI), landmark rates, the log-rank
  test and the Cox hazard ratio of each arm against the reference arm (a level named like placebo/control, else the
  first arm in sorted order), with a KM figure; ADaM CNSR 0 = event. AVAL is converted to months from AVALU
  (DAYS / 30.4375, WEEKS × 7 / 30.4375, YEARS × 12); without AVALU it is taken as days and a note says so;
* best overall response from ADRS (PARAMCD BOR): each response n (%) and the objective response rate
  (CR, CRi, sCR, VGPR, PR) with a Clopper–Pearson CI;
* TEAEs from ADAE (TRTEMFL = Y): any TEAE, grade >= 3 (ATOXGRN or AETOXGR), serious (AESER), and each
  preferred term (AEDECOD, else AETERM), subjects counted once (population: SAFFL = Y when ADSL has it).

Each analysis without its data is a ``NotAnalysed`` block that says what is missing.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from cartalysis import stats
from cartalysis.report import figures as F
from cartalysis.report import fmt
from cartalysis.report import records as R
from cartalysis.report.model import Cell, Note, Row, Table, c_count, c_est_ci, c_n_pct, c_p, empty, label
from cartalysis.report.results import Record
from cartalysis.report.units import text as T
from cartalysis.report.units.base import DASH_CELL, Ctx, SectionSpec, Unit, safe, stats_levels
from cartalysis.report.units.labels import months_label
from cartalysis.report.units.tte import km_curve, risk_times_for

MONTH_DAYS = 30.4375
RESPONDERS = ("CR", "CRI", "SCR", "VGPR", "PR")
RESPONSE_ORDER = ("SCR", "CR", "CRI", "VGPR", "PR", "MR", "SD", "NON-CR/NON-PD", "PD", "NE")
_REFERENCE = re.compile(r"(?i)placebo|control|standard|\bsoc\b|observation")
TOTAL = "Total"


# -- populations and arms -----------------------------------------------------------------------------------------

def trt(ctx: Ctx) -> str:
    return ctx.plan.groups.by or "TRT01A"


def adsl(ctx: Ctx) -> pd.DataFrame:
    return ctx.study.tables["ADSL"]


def grouped(ctx: Ctx) -> bool:
    return trt(ctx) in adsl(ctx) and adsl(ctx)[trt(ctx)].notna().any()


def population(ctx: Ctx, flag: str) -> pd.DataFrame:
    """ADSL subjects with ``flag`` = Y, or all subjects when ADSL has no such flag."""
    a = adsl(ctx)
    return a[a[flag] == "Y"] if flag in a else a


def arm_of(ctx: Ctx, usubjid: pd.Series) -> pd.Series:
    """Each subject's arm from ADSL (``TOTAL`` when the analyses are not by arm)."""
    if not grouped(ctx):
        return pd.Series(TOTAL, index=usubjid.index, dtype=object)
    return usubjid.map(adsl(ctx).drop_duplicates("USUBJID").set_index("USUBJID")[trt(ctx)])


def arms(ctx: Ctx, frame: pd.DataFrame) -> list[str]:
    return stats_levels(arm_of(ctx, frame["USUBJID"]).dropna()) if grouped(ctx) else []


def columns(ctx: Ctx, pop: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
    """``(arm, subjects)`` per arm then the total (the total alone when not by arm)."""
    arm = arm_of(ctx, pop["USUBJID"])
    return [(a, pop[arm == a]) for a in arms(ctx, pop)] + [(TOTAL, pop)]


def reference_arm(levels: list[str]) -> str:
    return next((g for g in levels if _REFERENCE.search(g)), levels[0])


def header(ctx: Ctx, cols, rid: str) -> list[Cell]:
    out = []
    for arm, df in cols:
        rec = R.count(ctx.reg, f"{rid}.n.{R.slug(arm)}", f"{arm}: subjects", len(df))
        out.append(Cell(f"{arm} (N = {len(df)})", (rec.id,)))
    return out


def pct(ctx: Ctx, rid: str, text: str, x: int, n: int) -> Cell:
    if n == 0:
        return DASH_CELL
    return c_n_pct(R.proportion(ctx.reg, rid, text, stats.proportion(int(x), int(n), ctx.plan.efficacy.conf_level),
                                with_ci=False))


# -- needs --------------------------------------------------------------------------------------------------------

def dataset(name: str):
    def need(ctx: Ctx) -> str | None:
        return None if ctx.study.has(name) else f"no {name} dataset (or no rows) in the folder"
    return need


def pop_flags(ctx: Ctx) -> list[str]:
    a = adsl(ctx)
    return [c for c in a.columns if c.endswith("FL") and (a[c] == "Y").any()]


def _has_flags(ctx: Ctx) -> str | None:
    return None if pop_flags(ctx) or "EOSSTT" in adsl(ctx) else "no population flags (..FL) or EOSSTT in ADSL"


def _has_demographics(ctx: Ctx) -> str | None:
    return None if demographics(ctx) else "no AGE, AGEGR1, SEX, RACE, ETHNIC or COUNTRY in ADSL"


def _has_bor(ctx: Ctx) -> str | None:
    return None if len(bor_rows(ctx)) else "no best overall response (PARAMCD BOR) in ADRS"


def _has_teae(ctx: Ctx) -> str | None:
    return None if len(teae_rows(ctx)) else "no treatment-emergent adverse events (TRTEMFL = Y) in ADAE"


# -- disposition --------------------------------------------------------------------------------------------------

def run_disposition(ctx: Ctx) -> list:
    a = adsl(ctx)
    cols = columns(ctx, a)
    rows = []
    for f in pop_flags(ctx):
        cells = [label(ctx.study.label("ADSL", f))]
        for arm, df in cols:
            cells.append(pct(ctx, f"adam.disposition.{f.lower()}.{R.slug(arm)}", f"{f} = Y, {arm}",
                             (df[f] == "Y").sum(), len(df)))
        rows.append(Row(tuple(cells)))
    for var in ("EOSSTT", "DCSREAS"):
        if var not in a:
            continue
        rows.append(Row((label(ctx.study.label("ADSL", var)),) + tuple(empty() for _ in cols)))
        levels = sorted(a[var].dropna().unique())
        rid = T.ids(levels)
        for lev in levels:
            cells = [label(lev)]
            for arm, df in cols:
                cells.append(pct(ctx, f"adam.disposition.{var.lower()}.{rid[lev]}.{R.slug(arm)}", f"{var} = {lev}, {arm}",
                                 (df[var] == lev).sum(), len(df)))
            rows.append(Row(tuple(cells), indent=1))
    hdr = [label("")] + header(ctx, cols, "adam.disposition")
    return [Table("adam_t01_disposition", "Table 1. Disposition (ADSL)", tuple(hdr), tuple(rows),
                  ("n (%) of the subjects in ADSL.",))]


# -- Table 1 ------------------------------------------------------------------------------------------------------

def demographics(ctx: Ctx) -> list[str]:
    return [v for v in ("AGE", "AGEGR1", "SEX", "RACE", "ETHNIC", "COUNTRY") if v in adsl(ctx)]


def run_table1(ctx: Ctx) -> list:
    pop = population(ctx, "ITTFL")
    cols = columns(ctx, pop)
    rows = []
    for var in demographics(ctx):
        title = ctx.study.label("ADSL", var)
        if var == "AGE":
            cells = [label(f"{title}, median (min–max)")]
            for arm, df in cols:
                s = stats.describe(pd.to_numeric(df[var], errors="coerce"))
                rec = R.summary(ctx.reg, f"adam.table1.age.{R.slug(arm)}", f"Age, {arm}", s, "years")
                cells.append(Cell(f"{fmt.num(s.median)} ({fmt.num(s.min)}–{fmt.num(s.max)})" if s.n else "—",
                                  (rec["median"].id, rec["min"].id, rec["max"].id)))
            rows.append(Row(tuple(cells)))
            continue
        rows.append(Row((label(title),) + tuple(empty() for _ in cols)))
        levels = sorted(pop[var].dropna().unique())
        rid = T.ids(levels + ["Missing"])
        for lev in levels + (["Missing"] if pop[var].isna().any() else []):
            cells = [label(lev)]
            for arm, df in cols:
                x = df[var].isna().sum() if lev == "Missing" else (df[var] == lev).sum()
                cells.append(pct(ctx, f"adam.table1.{var.lower()}.{rid[lev]}.{R.slug(arm)}", f"{var} = {lev}, {arm}",
                                 x, len(df)))
            rows.append(Row(tuple(cells), indent=1))
    hdr = [label("Characteristic")] + header(ctx, cols, "adam.table1")
    who = "ITTFL = Y" if "ITTFL" in adsl(ctx) else "all subjects in ADSL"
    return [Table("adam_t02_baseline", f"Table 2. Baseline characteristics by {trt(ctx)}", tuple(hdr), tuple(rows),
                  (f"Population: {who}. n (%); age: median (SAS PCTLDEF=5), minimum–maximum.",))]


# -- time to event ------------------------------------------------------------------------------------------------

def months(df: pd.DataFrame) -> tuple[pd.Series, str | None]:
    """AVAL in months from AVALU; the note when the unit is missing or unknown (then days are assumed)."""
    unit = df["AVALU"].str.upper().str.strip() if "AVALU" in df else pd.Series(np.nan, index=df.index)
    factor = unit.map({"DAYS": 1 / MONTH_DAYS, "DAY": 1 / MONTH_DAYS, "WEEKS": 7 / MONTH_DAYS, "MONTHS": 1.0,
                       "MONTH": 1.0, "YEARS": 12.0, "YEAR": 12.0})
    note = None
    if factor.isna().any():
        note = "AVALU missing or not DAYS/WEEKS/MONTHS/YEARS for some records: AVAL taken as days"
        factor = factor.fillna(1 / MONTH_DAYS)
    return df["AVAL"] * factor, note


def run_tte(ctx: Ctx) -> list:
    adtte = ctx.study.tables["ADTTE"]
    out, notes = [], []
    for param in sorted(adtte["PARAMCD"].dropna().unique()):
        df = adtte[adtte["PARAMCD"] == param]
        out += _tte_param(ctx, param, df, notes)
    return notes + out


def _tte_param(ctx: Ctx, param: str, df: pd.DataFrame, notes: list) -> list:
    reg, conf = ctx.reg, ctx.plan.efficacy.conf_level
    pid = f"adam.tte.{R.slug(param)}"
    title = df["PARAM"].dropna().iloc[0] if "PARAM" in df and df["PARAM"].notna().any() else param
    t, unit_note = months(df)
    df = df.assign(_t=t, _e=(df["CNSR"] == 0).astype(int), _arm=arm_of(ctx, df["USUBJID"]))
    local: list = [Note(f"{param}: {unit_note}.")] if unit_note else []
    no_arm = int(df["_arm"].isna().sum())
    if no_arm:
        local.append(Note(f"{param}: {no_arm} record(s) of subjects without {trt(ctx)} in ADSL are left out."))
        df = df[df["_arm"].notna()]
        if df.empty:
            notes.extend(local)
            return []
    levels = stats_levels(df["_arm"]) if grouped(ctx) else []
    landmarks = list(ctx.plan.efficacy.landmarks_months)
    hdr = [label(trt(ctx) if levels else ""), label("N"), label("Events"), label(f"Median, months ({conf:.0%} CI)")]
    hdr += [label(f"{months_label(m)}-month rate, % ({conf:.0%} CI)") for m in landmarks]
    rows, curves = [], []
    risk_times = risk_times_for(float(df["_t"].max()) if len(df) else 0.0)
    for arm in levels + [TOTAL]:
        sub = df if arm == TOTAL else df[df["_arm"] == arm]
        km = safe(local, stats.kaplan_meier, sub["_t"], sub["_e"], conf_type="log-log", conf_level=conf)
        if km is None:
            continue
        sfx = f".{R.slug(arm)}"
        n = R.count(reg, f"{pid}.n{sfx}", f"{title}: subjects, {arm}", km.n)
        ev = R.count(reg, f"{pid}.events{sfx}", f"{title}: events, {arm}", km.events, unit="events")
        med = R.quantile(reg, f"{pid}.median{sfx}", f"{title}: median, {arm}", km.median, "months", n=km.n)
        cells = [label(arm), c_count(n), c_count(ev), c_est_ci(med)]
        for m, (_, row) in zip(landmarks, km.at(landmarks).iterrows()):
            rr = R.rate(reg, f"{pid}.rate_{months_label(m)}m{sfx}", f"{title}: {months_label(m)}-month rate, {arm}", row,
                        km.method, int(row["n_risk"]))
            cells.append(c_est_ci(rr) if rr.value is not None else DASH_CELL)
        rows.append(Row(tuple(cells), indent=1 if arm != TOTAL and levels else 0))
        if arm != TOTAL or not levels:
            curves.append(km_curve(km, arm, risk_times))
    foot = [f"Kaplan–Meier estimates (CNSR 0 = event); {conf:.0%} CI of rates: Greenwood, log-log; median CI: "
            "Brookmeyer–Crowley (log-log). NR, not reached."]
    if df["_e"].sum() == 0:
        local.append(Note(f"{param}: no events: the median is not reached and no between-arm comparison is "
                          "estimable."))
    elif len(levels) >= 2:
        foot += _compare_arms(ctx, pid, title, df, levels, local)
    elif levels:
        local.append(Note(f"{param}: one {trt(ctx)} level only: no between-arm comparison."))
    table = Table(f"adam_tte_{R.slug(param)}", f"Time to event: {title} ({param})", tuple(hdr), tuple(rows),
                  tuple(foot))
    blocks = local + [table]
    if curves:
        blocks.append(ctx.figure(f"adam_km_{R.slug(param)}", f"Figure {ctx.next_figure('km')}. {title} ({param})",
                                 F.step_figure(curves, xlabel="Months", ylabel="Survival probability (%)",
                                               risk_times=risk_times, annotation="",
                                               legend_title=trt(ctx) if levels else ""),
                                 f"Kaplan–Meier estimate with {conf:.0%} pointwise CI (log-log); ticks mark censored "
                                 "subjects; number at risk below the axis."))
    notes.extend(b for b in blocks if isinstance(b, Note))
    return [b for b in blocks if not isinstance(b, Note)]


def _compare_arms(ctx: Ctx, pid: str, title: str, df: pd.DataFrame, levels: list[str], notes: list) -> list[str]:
    """Log-rank test across arms and Cox HR of each arm against the reference; footnotes with the results."""
    reg = ctx.reg
    foot = []
    lr = safe(notes, stats.logrank, df["_t"], df["_e"], df["_arm"])
    if lr is not None:
        rec = R.test(reg, f"{pid}.logrank", f"{title}: log-rank test by {trt(ctx)}", lr)
        foot.append(f"Log-rank test across {trt(ctx)}: P {c_p(rec).text} (chi-square {fmt.num(lr.chisq, 2)}, "
                    f"{lr.df} df).")
    ref = reference_arm(levels)
    res = safe(notes, stats.cox, df[["_t", "_e", "_arm"]], "_t", "_e", ["_arm"], categorical={"_arm": ref},
               conf_level=ctx.plan.efficacy.conf_level)
    if res is not None and not res.converged:
        notes.append(Note(f"{title}: the Cox model did not converge; no hazard ratio is reported."))
    elif res is not None:
        for r in res.terms.itertuples():
            arm = r.term.split("=", 1)[1]
            if r.problem is not None or not np.isfinite([r.hr, r.hr_lower, r.hr_upper]).all():
                # e.g. no events in the arm: no number (stats.cox says why)
                foot.append(f"Cox HR {arm} vs {ref}: not estimable ({r.problem or 'no finite estimate'}).")
                continue
            rec = reg.add(Record(f"{pid}.cox.{R.slug(arm)}", f"{title}: hazard ratio {arm} vs {ref}", r.hr, unit="HR",
                                 N=res.n, ci=(r.hr_lower, r.hr_upper), p_value=r.p, method=res.method))
            foot.append(f"Cox HR {arm} vs {ref}: {fmt.num(rec.value, 2)} ({fmt.ci(*rec.ci)}), Wald P {c_p(rec).text}.")
    return foot


# -- best overall response ----------------------------------------------------------------------------------------

def bor_rows(ctx: Ctx) -> pd.DataFrame:
    if not ctx.study.has("ADRS"):
        return pd.DataFrame(columns=["USUBJID", "AVALC"])
    adrs = ctx.study.tables["ADRS"]
    rows = adrs[adrs["PARAMCD"] == "BOR"]
    if "ANL01FL" in rows and (rows["ANL01FL"] == "Y").any():
        rows = rows[rows["ANL01FL"] == "Y"]
    return rows.drop_duplicates("USUBJID")


def run_bor(ctx: Ctx) -> list:
    rows_in = bor_rows(ctx)
    cols = columns(ctx, rows_in)
    resp = rows_in["AVALC"].fillna("Missing").str.upper()
    order = [r for r in RESPONSE_ORDER if (resp == r).any()] + sorted(set(resp) - set(RESPONSE_ORDER))
    shown = {r: rows_in.loc[resp == r, "AVALC"].iloc[0] if (resp == r).any() else r for r in order}
    rid = T.ids(order)
    rows = []
    for r in order:
        cells = [label(str(shown[r]))]
        for arm, df in cols:
            x = (df["AVALC"].fillna("Missing").str.upper() == r).sum()
            cells.append(pct(ctx, f"adam.response.bor.{rid[r]}.{R.slug(arm)}", f"BOR {r}, {arm}", x, len(df)))
        rows.append(Row(tuple(cells)))
    cells = [label(f"Objective response ({', '.join(c for c in ('CR', 'CRi', 'sCR', 'VGPR', 'PR'))}), "
                   f"% ({ctx.plan.efficacy.conf_level:.0%} CI)")]
    for arm, df in cols:
        x = int(df["AVALC"].str.upper().isin(RESPONDERS).sum())
        p = ctx.prop(x, len(df))
        cells.append(c_est_ci(R.proportion(ctx.reg, f"adam.response.orr.{R.slug(arm)}", f"Objective response, {arm}",
                                           p)) if p else DASH_CELL)
    rows.append(Row(tuple(cells)))
    hdr = [label("Best overall response")] + header(ctx, cols, "adam.response")
    return [Table("adam_t03_bor", f"Table 3. Best overall response by {trt(ctx)} (ADRS)", tuple(hdr), tuple(rows),
                  ("n (%) of subjects with a BOR record; objective response: exact (Clopper–Pearson) CI.",))]


# -- TEAEs --------------------------------------------------------------------------------------------------------

def teae_rows(ctx: Ctx) -> pd.DataFrame:
    if not ctx.study.has("ADAE"):
        return pd.DataFrame(columns=["USUBJID", "TRTEMFL"])
    adae = ctx.study.tables["ADAE"]
    return adae[adae["TRTEMFL"] == "Y"]


def run_teae(ctx: Ctx) -> list:
    te = teae_rows(ctx)
    pop = population(ctx, "SAFFL")
    cols = columns(ctx, pop)
    term_var = "AEDECOD" if "AEDECOD" in te and te["AEDECOD"].notna().any() else "AETERM"
    grade_var = next((v for v in ("ATOXGRN", "AETOXGR", "ATOXGR") if v in te), None)
    summary = [("any", "Any TEAE", pd.Series(True, index=te.index))]
    if grade_var:
        grade = pd.to_numeric(te[grade_var].astype(str).str.extract(r"(\d+)")[0], errors="coerce")
        summary.append(("g3", "Any grade ≥ 3 TEAE", grade >= 3))
    if "AESER" in te:
        summary.append(("serious", "Any serious TEAE", te["AESER"] == "Y"))
    rows = []
    for key, text, mask in summary:
        subjects = set(te.loc[mask, "USUBJID"])
        cells = [label(text)]
        for arm, df in cols:
            cells.append(pct(ctx, f"adam.safety.teae.{key}.{R.slug(arm)}", f"{text}, {arm}",
                             df["USUBJID"].isin(subjects).sum(), len(df)))
        rows.append(Row(tuple(cells)))
    terms = te.dropna(subset=[term_var]).assign(_term=lambda d: T.canonical(d[term_var]))
    counts = terms.groupby("_term")["USUBJID"].nunique()
    ordered = sorted(counts.index, key=lambda k: (-counts[k], k))
    rid = T.ids(ordered)
    for term in ordered:
        subjects = set(terms.loc[terms["_term"] == term, "USUBJID"])
        cells = [label(term)]
        for arm, df in cols:
            cells.append(pct(ctx, f"adam.safety.teae.{rid[term]}.{R.slug(arm)}", f"{term}, {arm}",
                             df["USUBJID"].isin(subjects).sum(), len(df)))
        rows.append(Row(tuple(cells), indent=1))
    hdr = [label(f"TEAE ({term_var})")] + header(ctx, cols, "adam.safety")
    who = "SAFFL = Y" if "SAFFL" in adsl(ctx) else "all subjects in ADSL"
    foot = f"n (%) of subjects ({who}) with at least one treatment-emergent event (TRTEMFL = Y), counted once."
    if not grade_var:
        foot += " ADAE has no toxicity grade (ATOXGRN/AETOXGR): no grade ≥ 3 row."
    return [Table("adam_t04_teae", f"Table 4. Treatment-emergent adverse events by {trt(ctx)} (ADAE)", tuple(hdr),
                  tuple(rows), (foot,))]


def run_arm_note(ctx: Ctx) -> list:
    return [] if grouped(ctx) else [Note(f"ADSL has no {trt(ctx)}: every analysis is of all subjects, not by arm.")]


SECTIONS = (
    SectionSpec("adam_disposition", "1. Disposition", (
        Unit("adam.arms", "the treatment variable", run_arm_note),
        Unit("adam.disposition", "disposition", run_disposition, needs=(_has_flags,)),
    )),
    SectionSpec("adam_baseline", "2. Baseline characteristics", (
        Unit("adam.table1", "baseline characteristics", run_table1, needs=(_has_demographics,)),
    )),
    SectionSpec("adam_tte", "3. Time to event", (
        Unit("adam.tte", "time to event", run_tte, needs=(dataset("ADTTE"),)),
    )),
    SectionSpec("adam_response", "4. Response", (
        Unit("adam.response", "best overall response", run_bor, needs=(dataset("ADRS"), _has_bor)),
    )),
    SectionSpec("adam_safety", "5. Safety", (
        Unit("adam.safety", "treatment-emergent adverse events", run_teae, needs=(dataset("ADAE"), _has_teae)),
    )),
)
