"""Immortal-time-safe analyses of groups and Cox covariates defined after infusion (``POST_INFUSION_GROUPS``:
allo-HSCT in remission, maintenance in remission), beside the naive ones the plan asks for.

Table 5.L*k* and Figure 3.L*k*, per post-infusion variable and end point (plan ``groups.compare`` ×
``groups.compare_endpoints``, and ``cox.candidates``/``cox.forced`` × ``cox.endpoint``): the naive Cox HR (the
variable as if known at infusion), the time-dependent Cox HR (the patient counts as "no" until the start date and
"yes" after), the Mantel–Byar test, landmark comparisons at plan ``groups.post_infusion_landmarks_months`` and
Simon–Makuch curves. Table 8c (called by the regression unit): the multivariable model with the post-infusion
covariates time-dependent beside the naive one. Plus the proportional-hazards footnote of the Cox tables.

Needs: a post-infusion variable in the plan and data for its end point.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

import pandas as pd

from cartalysis import stats
from cartalysis.stats.landmark import SWITCHED
from cartalysis.derive import POST_INFUSION_SWITCH_DAY
from cartalysis.report import figures as F
from cartalysis.report import fmt
from cartalysis.report import records as R
from cartalysis.report.model import Cell, Note, Row, Table, c_est_ci, c_p, empty, label
from cartalysis.report.results import Record
from cartalysis.report.units.base import Ctx, Unit, event, flag, safe
from cartalysis.report.units.labels import ENDPOINT_LABELS, months_label, var_label
from cartalysis.report.units.tte import km_curve, risk_times_for

FIRST_START = -1.0  # the first interval opens before day 0, so an event on day 0 keeps its place in the risk set


def pairs(ctx: Ctx) -> list[tuple[str, str]]:
    """(post-infusion variable, end point) pairs the plan compares or models, in plan order."""
    plan = ctx.plan
    params = plan.endpoints.params
    out = []
    for var in tuple(plan.groups.compare) + ((plan.groups.by,) if plan.groups.by else ()):
        if var in POST_INFUSION_SWITCH_DAY:
            out += [(var, p) for p in plan.groups.compare_endpoints if p in params and p in ENDPOINT_LABELS]
    for var in tuple(plan.cox.candidates) + tuple(plan.cox.forced):
        if var in POST_INFUSION_SWITCH_DAY and plan.cox.endpoint in params and plan.cox.endpoint in ENDPOINT_LABELS:
            out.append((var, plan.cox.endpoint))
    return list(dict.fromkeys(out))


def switch_months(ctx: Ctx, patient_id: pd.Series, param: str, var: str) -> pd.Series:
    """Time (months from the origin of end point ``param``, on ``patient_id``'s index) at which each patient
    entered the "yes" group of ``var``; missing = never. Same day convention as ``aval`` (``time.aval_add_one``)."""
    adsl = ctx.adsl.set_index("patient_id")
    adtte = ctx.d.adtte
    startdt = adtte[adtte["param"] == param].drop_duplicates("patient_id").set_index("patient_id")["startdt"]
    day = patient_id.map(adsl[POST_INFUSION_SWITCH_DAY[var]])
    origin = (pd.to_datetime(patient_id.map(startdt)) - pd.to_datetime(patient_id.map(adsl["infusion_date"]))) \
        / pd.Timedelta(days=1)
    add_one = 1 if ctx.plan.time.aval_add_one else 0
    return (day - origin + add_one) / ctx.plan.time.month_days


def _data(ctx: Ctx, var: str, param: str) -> pd.DataFrame:
    adtte = ctx.d.adtte
    df = adtte[(adtte["param"] == param) & adtte["startdt"].notna()]
    naive = df["patient_id"].map(ctx.adsl.set_index("patient_id")[var])
    df = df[naive.notna()]
    return pd.DataFrame({"time": df["aval_months"].astype(float), "event": event(df),
                         "switch": switch_months(ctx, df["patient_id"], param, var),
                         var: flag(naive[naive.notna()]).astype(float)})


def _hr(reg, rid: str, text: str, fit, term: str) -> Record:
    """The HR of ``term``; a model that did not converge (e.g. no event in one group) gives a record without a
    value, never a number."""
    t = fit.terms.set_index("term").loc[term]
    problem = t.get("problem") if "problem" in t.index else None
    if not fit.converged or (problem is not None and not pd.isna(problem)):
        why = problem if problem is not None and not pd.isna(problem) else "the model did not converge"
        return reg.add(Record(rid, f"{text} (not estimable: {why})", None, unit="HR", N=fit.n, method=fit.method))
    return reg.add(Record(rid, text, t["hr"], unit="HR", N=fit.n, ci=(t["hr_lower"], t["hr_upper"]),
                          p_value=t["p"], method=fit.method))


def _hr_cells(rec: Record) -> tuple[Cell, Cell]:
    if rec.value is None:
        return label("not estimable" + (f" ({rec.label.split('(not estimable: ')[-1]}" if "(not estimable: " in rec.label
                                        else "")), empty()
    return c_est_ci(rec, 2), c_p(rec)


def run(ctx: Ctx) -> list:
    reg = ctx.reg
    conf = f"{ctx.conf:.0%}"
    blocks: list = []
    notes: list = []
    for k, (var, param) in enumerate(pairs(ctx), start=1):
        pid, title = ENDPOINT_LABELS[param]
        vlabel = var_label(var)
        base, what = f"immortal.{pid}.{R.slug(var)}", f"{title}, {var}"
        df = _data(ctx, var, param)
        if df.empty or df["event"].sum() == 0 or df[var].nunique() < 2:
            notes.append(Note(f"{title} by {vlabel} without immortal-time bias: not analysed "
                              f"({'no events' if len(df) and df[var].nunique() > 1 else 'fewer than two groups'})."))
            continue
        rows = stats.split_at_switches(df.drop(columns=var), "time", "event", {var: "switch"}, FIRST_START)
        out_rows: list[Row] = []
        ry = R.count(reg, f"{base}.n_yes", f"{what}: patients with it (ever)", int(df[var].sum()))
        rn = R.count(reg, f"{base}.n_no", f"{what}: patients without it", int((df[var] == 0).sum()))
        patients = Cell(f"{ry.value} yes / {rn.value} no", (ry.id, rn.id))
        naive = safe(notes, stats.cox, df, "time", "event", [var], conf_level=ctx.conf)
        td = safe(notes, stats.cox, rows, "stop", "event", [var], start="start", conf_level=ctx.conf)
        for key, text, fit in (("naive_hr", "Naive: as if known at infusion (immortal-time bias)", naive),
                               ("td_hr", "Time-dependent Cox: 'no' until the start date, 'yes' after", td)):
            if fit is None:
                out_rows.append(Row((label(text), empty(), empty(), empty())))
                continue
            rec = _hr(reg, f"{base}.{key}", f"{what}: {text}", fit, var)
            out_rows.append(Row((label(text), patients, *_hr_cells(rec))))
        mb = safe(notes, stats.mantel_byar, rows["start"], rows["stop"], rows["event"], rows[var])
        out_rows.append(Row((label("Mantel–Byar test (group read at each event time)"), empty(), empty(),
                             c_p(R.test(reg, f"{base}.mantel_byar", f"{what}: Mantel–Byar test", mb))
                             if mb is not None else empty())))
        for m in ctx.plan.groups.post_infusion_landmarks_months:
            lid, ltext = f"{base}.landmark_{months_label(m)}m", f"Landmark at {months_label(m)} months"
            lm = safe(notes, stats.landmark, df["time"], df["event"], df["switch"], float(m), "log-log", ctx.conf)
            if lm is None:
                continue
            ns = int((lm.cohort["group"] == SWITCHED).sum())
            ids = (R.count(reg, f"{lid}.n_yes", f"{what}: landmark cohort at {months_label(m)} months, yes by then", ns).id,
                   R.count(reg, f"{lid}.n_no", f"{what}: landmark cohort at {months_label(m)} months, not yet",
                           lm.n - ns).id,
                   R.count(reg, f"{lid}.excluded", f"{what}: event or censored by {months_label(m)} months",
                           lm.excluded).id)
            counts = Cell(f"{ns} yes / {lm.n - ns} no ({lm.excluded} excluded)", ids)
            if lm.cox is None:
                out_rows.append(Row((label(ltext), counts, label(lm.note or ""), empty())))
                continue
            rec = _hr(reg, f"{lid}.hr", f"{what}: {ltext}, yes vs no", lm.cox, "group=switched")
            lr = R.test(reg, f"{lid}.logrank", f"{what}: {ltext}, log-rank test", lm.logrank)
            out_rows.append(Row((label(ltext), counts, _hr_cells(rec)[0], c_p(lr))))
        lms = ", ".join(months_label(m) for m in ctx.plan.groups.post_infusion_landmarks_months)
        foot = (f"{vlabel} starts after infusion (its start date: {POST_INFUSION_SWITCH_DAY[var]}). Naive: Cox model "
                "with the variable as if known at infusion, as registry publications report it; it credits the 'yes' "
                "group with the time its patients had to survive to enter it (immortal-time bias). Immortal-time-safe: "
                "time-dependent Cox model on counting-process rows (Andersen–Gill; R coxph(Surv(start, stop, event))), "
                "Mantel–Byar test (log-rank with each patient in the group it is in at each event time), and landmark "
                f"analyses at {lms} months (patients event-free and followed at the landmark, grouped by whether they "
                "had started by then, time from the landmark; Anderson, Cain & Gelber 1983; log-rank P). "
                f"HR 'yes' vs 'no', Wald {conf} CI; P: Wald (Cox rows) or log-rank.",)
        blocks.append(Table(f"t05_immortal_{pid}_{R.slug(var)}",
                            f"Table 5.L{k}. {title} by {vlabel[:1].lower() + vlabel[1:]}: naive and immortal-time-safe "
                            "analyses", (label("Analysis"), label("Patients"), label(f"HR ({conf} CI)"), label("P value")),
                            tuple(out_rows), foot))
        curves = safe(notes, stats.simon_makuch, rows["start"], rows["stop"], rows["event"],
                      rows[var].map({0.0: "no", 1.0: "yes"}), "log-log", ctx.conf)
        if curves:
            risk_times = risk_times_for(float(df["time"].max()))
            blocks.append(ctx.figure(
                f"f03_simon_makuch_{pid}_{R.slug(var)}",
                f"Figure 3.L{k}. {title} by {vlabel[:1].lower() + vlabel[1:]} (Simon–Makuch)",
                F.step_figure([replace(km_curve(km, g, risk_times), at_risk=tuple(int(x) for x in km.n_at_risk(risk_times)))
                               for g, km in curves.items()], xlabel="Months since infusion"
                              if param in ("OS", "RFS", "EFS", "PFS", "DFS") else "Months since first CR/CRi",
                              ylabel=f"{title.split(' (')[0]} (%)", risk_times=risk_times,
                              legend_title=vlabel),
                "Simon–Makuch estimate: Kaplan–Meier with patients moving from 'no' to 'yes' at the start date "
                "(number at risk = patients in the group at that time); unlike a Kaplan–Meier by the naive grouping, "
                f"it credits no time before the start to the 'yes' group. {conf} pointwise CI band (log-log)."))
    return notes + blocks


def td_multivariable(ctx: Ctx, data: pd.DataFrame, covariates, categorical: dict) -> list:
    """Table 8c: the multivariable model refitted with its post-infusion covariates time-dependent (``data`` is
    the regression unit's frame: ``time`` in months, ``event`` and the covariates), beside the naive HRs."""
    post = [c for c in covariates if c in POST_INFUSION_SWITCH_DAY]
    if not post:
        return []
    conf = f"{ctx.conf:.0%}"
    notes: list = []
    cols = ["time", "event", *covariates]
    frame = data[cols].dropna().copy()
    keep = data[cols].notna().all(axis=1)
    for var in post:
        frame[f"{var}__switch"] = switch_months(ctx, data.loc[keep, "patient_id"], ctx.plan.cox.endpoint,
                                                var).to_numpy()
    rows = stats.split_at_switches(frame, "time", "event", {v: f"{v}__switch" for v in post}, FIRST_START)
    td = safe(notes, stats.cox, rows, "stop", "event", list(covariates), categorical=categorical or None,
              start="start", conf_level=ctx.conf)
    if td is None:
        return notes
    out = []
    for _, t in td.terms.iterrows():
        term = str(t["term"])
        rec = _hr(ctx.reg, f"cox.time_dependent.{R.slug(term)}", f"{ctx.plan.cox.endpoint} Cox time-dependent: {term}",
                  td, term)
        naive_id = f"cox.multivariable.{R.slug(term)}"
        naive_cell = c_est_ci(ctx.reg[naive_id], 2) if naive_id in ctx.reg else empty()
        var = term.partition("=")[0]
        out.append(Row((label(term + (" (time-dependent)" if var in post else "")), naive_cell, *_hr_cells(rec))))
    return notes + [Table("t08c_cox_time_dependent",
                          f"Table 8c. Multivariable Cox model for {ctx.plan.cox.endpoint}: naive and time-dependent",
                          (label("Term"), label(f"Naive HR ({conf} CI)"), label(f"Time-dependent HR ({conf} CI)"),
                           label("P value")), tuple(out),
                          (f"Naive: Table 8, with {', '.join(post)} as if known at infusion (immortal-time bias). "
                           "Time-dependent: the same covariates, with " + ", ".join(post) + " switching from 'no' to "
                           "'yes' at the start date (counting-process rows, R coxph(Surv(start, stop, event))). "
                           f"Wald {conf} CI and P.",))]


def ph_footnote(ctx: Ctx, data: pd.DataFrame, covariates, categorical: dict) -> tuple[str, ...]:
    """Proportional-hazards check of a Cox table (R cox.zph, KM transform): global P and the terms with P < .05."""
    notes: list = []
    fit = safe(notes, stats.cox, data, "time", "event", list(covariates), categorical=categorical or None,
               zph="km", concordance=False)
    if fit is None or fit.zph is None or not np.isfinite(fit.zph.global_p):
        return ("Proportional hazards (R cox.zph): not estimable for this model.",)
    z = fit.zph
    rec = ctx.reg.add(Record("cox.ph.multivariable", f"{ctx.plan.cox.endpoint} Cox multivariable: "
                             "proportional-hazards test (global)", z.global_chisq, p_value=z.global_p, method=z.method))
    bad = [f"{r.term} (P {_p_text(r.p)})" for r in z.terms.itertuples() if r.p < 0.05]
    return (f"Proportional hazards (score test of the Schoenfeld residuals, R cox.zph, KM time scale): global "
            f"P {_p_text(rec.p_value)}" + (f"; P < 0.05 for {', '.join(bad)}." if bad else "; no term with P < 0.05."),)


def ph_univariable_footnote(ctx: Ctx, data: pd.DataFrame, covariates, categorical: dict) -> tuple[str, ...]:
    """Proportional-hazards check of the univariable models (one cox.zph global test per covariate)."""
    bad, notes = [], []
    for var in covariates:
        fit = safe(notes, stats.cox, data, "time", "event", [var],
                   categorical={var: categorical[var]} if var in categorical else None, zph="km", concordance=False)
        if fit is not None and fit.zph is not None and np.isfinite(fit.zph.global_p):
            ctx.reg.add(Record(f"cox.ph.univariable.{R.slug(var)}", f"{ctx.plan.cox.endpoint} Cox univariable {var}: "
                               "proportional-hazards test", fit.zph.global_chisq, p_value=fit.zph.global_p,
                               method=fit.zph.method))
            if fit.zph.global_p < 0.05:
                bad.append(f"{var} (P {_p_text(fit.zph.global_p)})")
    return ("Proportional hazards (R cox.zph, KM time scale, per model): " +
            (f"P < 0.05 for {', '.join(bad)}." if bad else "no model with P < 0.05."),)


def _p_text(p: float) -> str:
    text = fmt.pvalue(p)
    return text if text.startswith(("<", ">")) else f"= {text}"


UNITS = (Unit("tte.immortal", "immortal-time-safe analyses of post-infusion groups", run, when=lambda ctx: bool(pairs(ctx))),)
