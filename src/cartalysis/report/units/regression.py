"""Tables 7–8 and Figure 5: univariable and multivariable Cox models of the plan's ``cox.endpoint`` (candidates
screened by the likelihood-ratio P against ``cox.threshold``, ``cox.forced`` always in), with a forest plot.

Needs: the plan's Cox end point among its end points, time-to-event data for it, and at least one event.
The reference level of a categorical covariate is its most frequent level (ties: the first in R's order) unless
the plan names one (``cox.reference``). A term the data cannot estimate (a level or reference level with fewer
than ``cox.min_events_per_level`` events, an infinite coefficient from separation) shows "not estimable" with the
reason under the table and has no number in ``results.json``; a model that did not converge is said so; levels
with fewer than 5 events are named in a footnote (their hazard ratios are imprecise).
"""

from __future__ import annotations

import pandas as pd

from cartalysis import stats
from cartalysis.derive import POST_INFUSION_GROUPS
from cartalysis.report import figures as F
from cartalysis.report import fmt
from cartalysis.report import records as R
from cartalysis.report.model import Cell, Note, Row, Table, c_est_ci, c_p, empty, label
from cartalysis.report.results import Record
from cartalysis.report.units import immortal
from cartalysis.report.units.base import Ctx, Unit, event, lab, labels, safe, stats_levels, warnings
from cartalysis.report.units.labels import short_var_label, show, term_label
from cartalysis.study.errors import Problem, StudyError


def endpoint_rows(ctx: Ctx) -> pd.DataFrame:
    adtte = ctx.d.adtte
    return adtte[adtte["param"] == ctx.plan.cox.endpoint]


SPARSE_EVENTS = 5  # fewer events in a level: its hazard ratio is imprecise (flagged in a footnote)


def most_frequent(values: pd.Series) -> str:
    """The most frequent label (ties: the first in R's order): the default reference level."""
    levels = stats_levels(values)
    counts = values.value_counts()
    return max(levels, key=lambda lv: (int(counts.get(lv, 0)), -levels.index(lv)))


def _in_plan(ctx: Ctx) -> str | None:
    cp = ctx.plan
    if cp.cox.endpoint in cp.endpoints.params:
        return None
    return (f"the plan's Cox end point ({cp.cox.endpoint}, cox.endpoint) is not one of its end points "
            "(endpoints.params)")


def _data(ctx: Ctx) -> str | None:
    return None if len(endpoint_rows(ctx)) else f"no {ctx.plan.cox.endpoint} data"


def _events(ctx: Ctx) -> str | None:
    return None if (endpoint_rows(ctx)["cnsr"].astype(int) == 0).any() else f"no {ctx.plan.cox.endpoint} events"


def immortal_time_note(covariates) -> tuple[str, ...]:
    """A footnote when a model holds covariates defined by events after infusion (``POST_INFUSION_GROUPS``)."""
    post = [c for c in covariates if c in POST_INFUSION_GROUPS]
    if not post:
        return ()
    return (f"{', '.join(post)}: defined by events after infusion but modelled as known at infusion, as registry "
            "publications do; this favours the 'yes' group (immortal-time bias).",)


def run(ctx: Ctx) -> list:
    reg = ctx.reg
    cp = ctx.plan.cox
    df = endpoint_rows(ctx)[["patient_id", "aval_months", "cnsr"]]
    data = df.merge(ctx.adsl, on="patient_id", how="left", suffixes=("", "_adsl"))
    data = data.assign(time=data["aval_months"], event=event(data))
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
            data[var] = col.map(lambda v: None if pd.isna(v) else lab(v))
            levels = stats_levels(data[var].dropna())
            # the reference is always passed explicitly, so that the reported contrast is the one the plan names
            # even when complete cases lose a level (the model then fails with a note instead of switching it)
            ok = data[var].notna() & data["time"].notna()
            categorical[var] = reference.get(var) or most_frequent(data.loc[ok, var])
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
        return notes + [Note("No candidate covariates.")]
    forced = tuple(v for v in cp.forced if v in candidates)
    try:
        mb = stats.cox_model_building(data, "time", "event", [c for c in candidates if c not in forced],
                                      forced=forced, threshold=cp.threshold, categorical=categorical or None,
                                      min_events_per_level=cp.min_events_per_level)
        univariable, multivariable = mb.univariable, mb
    except stats.StatsInputError as e:
        # no covariate passes the screen (or the model cannot be fitted): still show the univariable models
        notes.append(Note(f"No multivariable model: {e}."))
        univariable = {}
        for var in candidates:
            fit = safe(notes, stats.cox, data, "time", "event", [var],
                       categorical={var: categorical[var]} if var in categorical else None,
                       min_events_per_level=cp.min_events_per_level)
            if fit is not None:
                univariable[var] = fit
        multivariable = None
    conf = f"{ctx.conf:.0%}"

    def term_rows(model: str, res) -> tuple[list[Row], list[F.ForestRow], list[str]]:
        rows, frows, warn = [], [], []
        for _, t in res.terms.iterrows():
            rid = f"cox.{model}.{R.slug(t['term'])}"
            var, _, level = str(t["term"]).partition("=")
            shown = term_label(var, level, categorical.get(var), var in flags)
            if t["problem"] is not None:
                reg.add(Record(rid, f"{cp.endpoint} Cox {model}: {t['term']} (not estimable)", None, N=res.n,
                               method=f"not estimable: {t['problem']}"))
                rows.append(Row((label(shown), Cell("not estimable", (rid,)), empty())))
                warn.append(f"{shown}: not estimable ({t['problem']}).")
                continue
            rec = reg.add(Record(rid, f"{cp.endpoint} Cox {model}: {t['term']}", t["hr"], unit="HR", N=res.n,
                                 ci=(t["hr_lower"], t["hr_upper"]), p_value=t["p"], method=res.method))
            rows.append(Row((label(shown), c_est_ci(rec, 2), c_p(rec))))
            text = fmt.est_ci(rec.value, *rec.ci, 2)
            if level:  # the forest plot lists a categorical covariate's levels under one heading naming its reference
                head = f"{short_var_label(var)} (ref. {show(categorical[var])})"
                if not any(f.heading and f.label == head for f in frows):
                    frows.append(F.ForestRow(head, None, None, None, "", heading=True))
                frows.append(F.ForestRow(show(level), rec.value, *rec.ci, text, indent=True))
            else:
                frows.append(F.ForestRow(term_label(var, "", None, var in flags), rec.value, *rec.ci, text))
        if not res.converged:
            warn.append(f"The {model} model{'' if model == 'multivariable' else ' of ' + res.terms['term'].iloc[0].split('=')[0]} "
                        "did not converge (a coefficient runs to infinity); its estimable terms are shown but should "
                        "be read with care.")
        return rows, frows, warn

    def sparse(fits) -> tuple[str, ...]:
        """A footnote naming the levels with fewer than ``SPARSE_EVENTS`` events (estimable but imprecise)."""
        found = {}
        for res in fits:
            for var, ev in (res.level_events or {}).items():
                for lv, n in ev.items():
                    if cp.min_events_per_level <= n < SPARSE_EVENTS:
                        found[f"{short_var_label(var)}: {show(lv)}"] = n
        if not found:
            return ()
        return (f"Sparse levels (fewer than {SPARSE_EVENTS} events; hazard ratios against or of them are imprecise): "
                + "; ".join(f"{k} ({n} event{'s' if n != 1 else ''})" for k, n in found.items()) + ".",)

    uni_rows, uni_warn = [], []
    for var in candidates:
        if var in univariable:
            r, _, w = term_rows("univariable", univariable[var])
            uni_rows += r
            uni_warn += w
    hdr = (label("Term"), label(f"HR ({conf} CI)"), label("P value"))
    ties = next(iter(univariable.values())).ties if univariable else "efron"
    blocks: list = [Table("t07_cox_univariable", f"Table 7. Univariable Cox models for {cp.endpoint}", hdr,
                          tuple(uni_rows),
                          (f"Cox proportional hazards, {ties} ties; Wald {conf} CI and P. One model per covariate "
                           "(complete cases); categorical covariates against their reference level (plan "
                           "cox.reference, else the most frequent level); continuous covariates per unit.",)
                          + sparse(univariable.values())
                          + immortal.ph_univariable_footnote(ctx, data, list(univariable), categorical),
                          warnings(ctx, "cox.univariable", uni_warn))]
    frows = []
    if multivariable is not None:
        multi_rows, frows, multi_warn = term_rows("multivariable", multivariable.multivariable)
        selected = ", ".join(multivariable.selected)
        blocks.append(Table("t08_cox_multivariable", f"Table 8. Multivariable Cox model for {cp.endpoint}", hdr,
                            tuple(multi_rows),
                            (f"Covariates with univariable P < {cp.threshold:g} (likelihood-ratio test)" +
                             (f" plus forced {', '.join(forced)}" if forced else "") +
                             f"; selected: {selected}. {multivariable.method}.",)
                            + immortal_time_note(multivariable.selected) + sparse([multivariable.multivariable])
                            + immortal.ph_footnote(ctx, data, multivariable.selected,
                                                   _subset(categorical, multivariable.selected)),
                            warnings(ctx, "cox.multivariable", multi_warn)))
        blocks += immortal.td_multivariable(ctx, data, multivariable.selected,
                                            _subset(categorical, multivariable.selected))
    if multivariable is not None:
        blocks += _by_centre(ctx, data, multivariable, categorical, term_rows, sparse, hdr)
    if frows:
        blocks.append(ctx.figure("f05_cox_forest", f"Figure 5. Hazard ratios for {cp.endpoint} (multivariable model)",
                                 F.forest_figure(frows, xlabel=f"Hazard ratio ({conf} CI, log scale)", reference=1.0,
                                                 log=True, right_title=f"HR ({conf} CI)")))
    return notes + blocks


def _by_centre(ctx: Ctx, data: pd.DataFrame, mb, categorical: dict, term_rows, sparse, hdr) -> list:
    """Sensitivity analysis of a multi-centre study: the multivariable model refitted with a separate baseline
    hazard per centre (``strata = site``), so that differences between centres in baseline risk cannot pass for
    covariate effects. Shown when the patients modelled come from at least two sites."""
    if "site" not in data or data["site"].dropna().nunique() < 2:
        return []
    notes: list = []
    fit = safe(notes, stats.cox, data, "time", "event", list(mb.selected),
               categorical={k: v for k, v in categorical.items() if k in mb.selected} or None, strata="site")
    if fit is None:
        return [Note(f"Centre-stratified sensitivity model not estimable: {n.text}") for n in notes]
    rows, _, warn = term_rows("multivariable_by_site", fit)
    n_sites = int(data["site"].dropna().nunique())
    return [Table("t08b_cox_by_site", f"Table 8b. Multivariable Cox model for {ctx.plan.cox.endpoint}, stratified by "
                  "centre (sensitivity analysis)", hdr, tuple(rows),
                  (f"The covariates of Table 8, with a separate baseline hazard for each of the {n_sites} centres "
                   f"(stratified Cox model, {fit.ties} ties). Similar hazard ratios mean that differences between "
                   "centres do not explain the covariate effects.",) + sparse([fit]),
                  warnings(ctx, "cox.multivariable_by_site", warn))]


def _subset(categorical: dict, covariates) -> dict:
    return {c: r for c, r in categorical.items() if c in covariates}


UNITS = (Unit("cox", "Cox regression", run, needs=(_in_plan, _data, _events)),)
