"""Registry structure: enrolment, response, events and follow-up by site (Table 1b), and a funnel plot of the best
overall response rate by site (Figure 1b).

Shown for multi-site studies (infused patients from at least two sites); needs infused patients. The completeness of follow-up uses the data cutoff (plan
``study.data_cutoff``; without it, the latest last-known-alive date in the data, said so).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cartalysis import stats
from cartalysis.report import figures as F
from cartalysis.report import fmt
from cartalysis.report import records as R
from cartalysis.report.model import Cell, Row, Table, c_count, c_header_N, c_n_of_N_pct, label
from cartalysis.report.results import Record
from cartalysis.report.units.base import DASH_CELL, Ctx, Unit, flag, infused, safe

LEVELS = (0.95, 0.998)  # Spiegelhalter's "alert" and "alarm" limits


def _two_sites(ctx: Ctx) -> str | None:
    n = ctx.infused["site"].dropna().nunique() if "site" in ctx.infused else 0
    return None if n >= 2 else "infused patients come from one site only"


def _cutoff(ctx: Ctx) -> tuple[pd.Timestamp, str]:
    c = getattr(ctx.plan.study, "data_cutoff", None)
    if c:
        return pd.Timestamp(c), f"the data cutoff {pd.Timestamp(c).date().isoformat()} (plan study.data_cutoff)"
    last = ctx.infused["lastalive_dt"].max()
    return last, (f"the latest last-known-alive date in the data, {last.date().isoformat()} (no study.data_cutoff "
                  "in the plan)")


def run(ctx: Ctx) -> list:
    """Per site: infused patients, best ORR n/N (%) of the response population, relapses and deaths of the infused,
    median follow-up (reverse Kaplan–Meier, months) and Clark's completeness of follow-up to the cutoff."""
    reg = ctx.reg
    inf = ctx.infused
    pop = ctx.response_pop
    cutoff, cutoff_text = _cutoff(ctx)
    sites = sorted(inf["site"].dropna().astype(str).unique())
    rows = []
    points = []
    notes: list = []
    for site in sites:
        s = R.slug(site)
        here = inf[inf["site"].astype(str) == site]
        resp = pop[pop["site"].astype(str) == site]
        n_inf = R.count(reg, f"site.{s}.infused", f"Infused patients, site {site}", len(here))
        orr = ctx.prop(int(flag(resp["bor_orr"]).sum()), len(resp))
        orr_cell = DASH_CELL
        if orr is not None:
            rec = R.proportion(reg, f"site.{s}.orr_best", f"Best overall response (CR/CRi), site {site}", orr,
                               with_ci=False)
            orr_cell = c_n_of_N_pct(rec)
            points.append(F.FunnelPoint(site, orr.n, orr.estimate))
        rel = R.count(reg, f"site.{s}.relapse", f"Relapses, site {site}", int(flag(here["relapse"]).sum()))
        dead = R.count(reg, f"site.{s}.death", f"Deaths, site {site}", int(flag(here["death"]).sum()))
        fu = here["fu_months"].astype(float)
        died = flag(here["death"]).astype(int)
        fu_cell = DASH_CELL
        if fu.notna().any():
            q = safe(notes, stats.median_followup, fu.fillna(0.0), died)
            if q is not None:
                r = R.quantile(reg, f"site.{s}.followup_median", f"Median follow-up, site {site}", q, "months",
                               n=len(here))
                fu_cell = Cell(fmt.num(r.value) if r.value is not None else fmt.NR, (r.id,))
        comp_cell = DASH_CELL
        ok = here["infusion_date"].notna() & here["lastalive_dt"].notna()
        if ok.any() and pd.notna(cutoff):
            day = lambda t: (t - here.loc[ok, "infusion_date"]).dt.days.to_numpy(dtype=float)  # noqa: E731
            death = here.loc[ok, "death_dt"]
            c = safe(notes, stats.completeness_index, np.zeros(int(ok.sum())), day(here.loc[ok, "lastalive_dt"]),
                     day(death), day(pd.Series(cutoff, index=death.index)))
            if c is not None:
                r = reg.add(Record(f"site.{s}.completeness", f"Completeness of follow-up, site {site}",
                                   100 * c.index, unit="%", N=int(ok.sum()), method=c.method))
                comp_cell = Cell(fmt.num(r.value), (r.id,))
        rows.append(Row((label(site), c_count(n_inf), orr_cell, c_count(rel), c_count(dead), fu_cell, comp_cell)))
    header = (label("Site"), label("Infused, n"), label("Best ORR, n/N (%)"), label("Relapses, n"),
              label("Deaths, n"), label("Median follow-up, months"), label("Follow-up completeness, %"))
    foot = (f"Best ORR: CR or CRi at any time, of {ctx.response_pop_text} of the site. Median follow-up: reverse "
            "Kaplan–Meier (death censors, last contact is the event). Follow-up completeness: Clark's index, "
            f"observed follow-up of the site's patients as a percentage of the follow-up possible to {cutoff_text} "
            "(a death ends the possible follow-up); 100% when every survivor was seen at the cutoff.",)
    blocks: list = notes + [Table("t01b_sites", "Table 1b. Enrolment, response, events and follow-up by site", header,
                                  tuple(rows), foot)]
    blocks += _funnel(ctx, points)
    return blocks


def _funnel(ctx: Ctx, points: list) -> list:
    """Figure 1b: best ORR by site against the site's number of patients, with exact binomial control limits."""
    x = sum(round(p.proportion * p.n) for p in points)
    n = sum(p.n for p in points)
    if len(points) < 2 or n == 0 or x in (0, n):
        return []
    target = x / n
    grid = np.unique(np.r_[np.arange(1, 11), np.linspace(1, max(p.n for p in points) * 1.05, 200).round()]).astype(int)
    limits = []
    for level in LEVELS:
        lim = stats.funnel_limits(target, grid, level)
        limits.append((level, grid, lim.lower, lim.upper))
    flags = stats.funnel_outside(target, [round(p.proportion * p.n) for p in points], [p.n for p in points],
                                 LEVELS[-1])
    points = [F.FunnelPoint(p.label, p.n, p.proportion, bool(f)) for p, f in zip(points, flags)]
    fig = F.funnel_figure(points, target, limits, xlabel="Patients in the denominator at the site (n)",
                          ylabel="Best overall response rate (%)")
    outside = [p.label for p in points if p.outside]
    caption = (f"Each point is a site; the line is the overall rate ({fmt.pct(100 * target)}%); dotted and dashed "
               "curves are exact binomial 95% and 99.8% control limits around it (Spiegelhalter 2005); a site is outside "
               "when its exact binomial tail probability is below 0.1%. "
               + (f"Outside the 99.8% limits: {', '.join(outside)}." if outside else
                  "No site lies outside the 99.8% limits."))
    return [ctx.figure("f01b_funnel_orr", "Figure 1b. Best overall response rate by site (funnel plot)", fig, caption)]


UNITS = (Unit("sites", "analyses by site", run, needs=(infused(),), when=lambda ctx: _two_sites(ctx) is None),)
