"""Table 5 and Figures 3.x: Kaplan–Meier estimates of the plan's time-to-event end points (N, events, median,
landmark rates; by group with the log-rank test when the plan sets ``groups.by``) and the median follow-up.

Needs: at least one infused patient and time-to-event data for a plan end point.
"""

from __future__ import annotations

import numpy as np

from cartalysis import stats
from cartalysis.report import figures as F
from cartalysis.report import fmt
from cartalysis.report import records as R
from cartalysis.report.model import Cell, Row, Table, c_count, c_median, c_p, c_rate, empty, label
from cartalysis.report.units.base import DASH_CELL, Ctx, Unit, event, infused, rows_of, safe
from cartalysis.report.units.labels import (ENDPOINT_DEFINITIONS, ENDPOINT_LABELS, months_label, short_var_label,
                                            show)


def plan_endpoints(ctx: Ctx):
    """ADTTE rows of the plan's end points."""
    adtte = ctx.d.adtte
    return adtte[adtte["param"].isin(ctx.plan.endpoints.params)]


def risk_times_for(tmax: float) -> list[float]:
    """Times of the number-at-risk table under a Kaplan–Meier figure: every 3, 6 or 12 months."""
    step = 3 if tmax <= 24 else 6 if tmax <= 60 else 12
    n = int(np.ceil(tmax / step)) if tmax > 0 else 1
    return [float(step * i) for i in range(n + 1)]


def km_curve(km, name: str, risk_times: list[float]) -> F.Curve:
    """A ``stats.KaplanMeier`` as a figure curve (steps at events, ticks at censorings, numbers at risk)."""
    tab = km.table
    ev = tab[tab["n_event"] > 0]
    cen = tab[tab["n_censor"] > 0]
    at = km.at(risk_times) if risk_times else None
    return F.Curve(name, ev["time"].to_numpy(float), ev["surv"].to_numpy(float), ev["lower"].to_numpy(float),
                   ev["upper"].to_numpy(float), cen["time"].to_numpy(float), cen["surv"].to_numpy(float),
                   tuple(int(x) for x in at["n_risk"]) if at is not None else (), end=float(tab["time"].max()))


def run(ctx: Ctx) -> list:
    reg = ctx.reg
    adtte = ctx.d.adtte
    eff = ctx.plan.efficacy
    conf = f"{eff.conf_level:.0%}"
    landmarks = list(eff.landmarks_months)
    grouped = bool(ctx.groups)
    blocks: list = []
    notes: list = []
    header = [label("End point"), label("N"), label("Events"), label(f"Median, months ({conf} CI)")]
    header += [label(f"{months_label(m)}-month rate, % ({conf} CI)") for m in landmarks]
    if grouped:
        header.append(label("Log-rank P"))
    rows: list[Row] = []
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
            lr = safe(notes, stats.logrank, df["aval_months"], event(df), ctx.group_of(df))
            if lr is not None:
                lr_cell = c_p(R.test(reg, f"tte.{pid}.logrank", f"{title}: log-rank test by {ctx.group_by}", lr))
        tmax = float(df["aval_months"].max())
        risk_times = risk_times_for(tmax)
        annotation = ""
        for suffix, name, sub in subsets:
            km = safe(notes, stats.kaplan_meier, sub["aval_months"], event(sub),
                       conf_type="log-log", conf_level=eff.conf_level)
            if km is None:
                continue
            lab_sfx = f", {ctx.group_by} = {name}" if suffix else ""
            n_rec = R.count(reg, f"tte.{pid}.n{suffix}", f"{title}: patients{lab_sfx}", km.n)
            e_rec = R.count(reg, f"tte.{pid}.events{suffix}", f"{title}: events{lab_sfx}", km.events, unit="events")
            med = R.quantile(reg, f"tte.{pid}.median{suffix}", f"{title}: median{lab_sfx}", km.median, "months",
                             n=km.n)
            cells = [label(ctx.group_title(name) if suffix else title), c_count(n_rec), c_count(e_rec),
                     c_median(med, km.events)]
            at = km.at(landmarks)
            for m, (_, row) in zip(landmarks, at.iterrows()):
                rr = R.rate(reg, f"tte.{pid}.rate_{months_label(m)}m{suffix}",
                            f"{title}: {months_label(m)}-month rate{lab_sfx}", row, km.method, int(row["n_risk"]))
                cells.append(c_rate(rr) if rr.value is not None else DASH_CELL)
            if grouped:
                cells.append(lr_cell if not suffix else empty())
            rows.append(Row(tuple(cells), indent=1 if suffix else 0))
            if grouped and not suffix:
                continue  # the by-group figure shows the groups, not the pooled curve
            curves.append(km_curve(km, show(name), risk_times))
            if not grouped:
                annotation = ("No events: the curve stays at 100%" if km.events == 0 else
                              f"Median {fmt.num(med.value)}{' months' if med.value is not None else ''} "
                              f"({conf} CI {fmt.ci(*med.ci)})")
        if grouped and lr_cell.text:
            annotation = f"Log-rank P {'= ' if not lr_cell.text.startswith(('<', '>')) else ''}{lr_cell.text}"
        if curves:
            blocks.append(ctx.figure(
                f"f03_km_{pid}", f"Figure 3.{ctx.next_figure('3')}. {title}",
                F.step_figure(curves, xlabel="Months since " + ("first CR/CRi" if param.startswith("DOR") else "infusion"),
                              ylabel=f"{title.split(' (')[0]} (%)", risk_times=risk_times, annotation=annotation,
                              legend_title=short_var_label(ctx.group_by) if grouped else ""),
                f"Kaplan–Meier estimate with {conf} pointwise CI band (log-log); ticks mark censored patients; "
                "number at risk below the axis."))
    # median follow-up (reverse Kaplan–Meier on OS)
    os_df = adtte[adtte["param"] == "OS"]
    if not os_df.empty:
        q = safe(notes, stats.median_followup, os_df["aval_months"], event(os_df))
        if q is not None:
            fu = R.quantile(reg, "followup.median", "Median follow-up (reverse Kaplan–Meier)", q, "months",
                            n=len(os_df))
            rows.append(Row((label("Median follow-up, months (reverse KM)"), Cell(fmt.integer(fu.N), (fu.id,)),
                             empty(), c_median(fu)) + tuple(empty() for _ in header[4:])))
    foot = [f"Kaplan–Meier estimates; {conf} CI of rates: Greenwood variance with log-log transform; CI of the "
            "median: Brookmeyer–Crowley (log-log band). NR, not reached. Months = days / "
            f"{ctx.plan.time.month_days:g}.",
            "; ".join(ENDPOINT_DEFINITIONS[p] for p in ENDPOINT_DEFINITIONS if p in ctx.plan.endpoints.params) +
            ". Censoring rules: analysis plan in force.",
            "Median follow-up: reverse Kaplan–Meier (Schemper & Smith)."]
    if grouped:
        foot.append("Log-rank P: unweighted log-rank test across groups (R survdiff).")
    table = Table("t05_tte", "Table 5. Time-to-event end points", tuple(header), tuple(rows), tuple(foot))
    return notes + [table] + blocks


UNITS = (Unit("tte.km", "time-to-event end points", run,
              needs=(infused(), rows_of(plan_endpoints, "no time-to-event data for the plan's end points"))),)
