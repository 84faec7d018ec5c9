"""Statistics commands (km, logrank, cox, binom, design, cif) on a data table (CSV, XLSX, XPT, Dataset-JSON, Parquet).

Each prints a readable table, or JSON with ``--json`` (``null`` = not reached / not estimable). Bad input
(unreadable or empty file, missing column, non-numeric or negative time, event not 0/1) prints one line
``FILE:ROW:COLUMN: message`` (ROW as a spreadsheet shows it, header = row 1) and exits with status 2.
Rows with a missing value (empty, NA, NaN, NULL, ., ...) in a used column are dropped; the count goes to stderr
(and to ``n_dropped`` for cox). ADaM: ``--censor CNSR`` instead of ``--event``, ``--where`` to select rows,
``--by-param`` for every PARAMCD (``cli_table.py``)."""

from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from cartalysis.cli_table import Bad as _Bad
from cartalysis.cli_table import DataTable as _Csv
from cartalysis.cli_table import by_param as _by_param
from cartalysis.cli_table import emit as _emit
from cartalysis.cli_table import event_or_censor

if TYPE_CHECKING:
    import pandas as pd


def _fail(msg: str) -> None:
    typer.echo(msg, err=True)
    raise typer.Exit(2)


def _num(x):
    """JSON number or null."""
    if x is None:
        return None
    x = float(x)
    return None if math.isnan(x) or math.isinf(x) else x


def _int(x):
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else int(x)


def _fmt(x, digits: int = 4) -> str:
    """Half away from zero on the decimal repr (SAS style), 'NE' for not estimable."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "NE"
    q = Decimal(1).scaleb(-digits)
    return str(Decimal(repr(float(x))).quantize(q, rounding=ROUND_HALF_UP))


def _pval(p) -> str:
    if p is None or (isinstance(p, float) and math.isnan(p)):
        return "NE"
    return "<.0001" if p < 0.0001 else _fmt(p, 4)


def _pfmt(p) -> str:
    """'p < .0001' or 'p = 0.0123' (journal style)."""
    v = _pval(p)
    return f"p < {v[1:]}" if v.startswith("<") else f"p = {v}"


def _pct(level: float) -> str:
    """0.95 -> '95%'."""
    return f"{level * 100:g}%"


def _print_table(header: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)]
    typer.echo("  ".join(h.rjust(w) for h, w in zip(header, widths)))
    for r in rows:
        typer.echo("  ".join(c.rjust(w) for c, w in zip(r, widths)))


def _times(spec: str | None) -> list[float]:
    if not spec:
        return []
    try:
        out = [float(x) for x in spec.split(",") if x.strip()]
    except ValueError:
        raise _Bad(f"error: --times must be numbers separated by commas, got {spec!r}") from None
    if any(t < 0 or math.isnan(t) for t in out):
        raise _Bad("error: --times must be non-negative")
    return out


def _covariates(covariates: str, categorical: str | None) -> tuple[list[str], dict[str, str | None]]:
    """--covariates a,b,c and --categorical b,c=REF -> covariate list and {column: reference level or None}."""
    covs = [c.strip() for c in covariates.split(",") if c.strip()]
    cat = {}
    for spec in (categorical or "").split(","):
        if spec.strip():
            col, _, ref = spec.partition("=")
            cat[col.strip()] = ref.strip() or None
    for c in cat:
        if c not in covs:
            raise _Bad(f"error: --categorical {c} is not among --covariates")
    return covs, cat


def _groups(frame: pd.DataFrame, col: str | None):
    import numpy as np

    from cartalysis.stats._common import sorted_levels

    if col is None:
        return [(None, np.ones(len(frame), bool))]
    lab = frame[col].to_numpy(dtype=object)
    return [(g, lab == g) for g in sorted_levels(lab)]


def km_json(fit, group, at_times) -> dict:
    """One group of the ``km`` JSON (also used inside ``landmark``)."""
    med = fit.median
    at = fit.at(at_times) if at_times else None
    return {"group": group, "n": fit.n, "events": fit.events, "median": med.estimate,
            "median_ci": [med.lower, med.upper],
            "table": [{"time": _num(r.time), "n_risk": int(r.n_risk), "n_event": int(r.n_event),
                       "n_censor": int(r.n_censor), "surv": _num(r.surv), "se": _num(r.se),
                       "lower": _num(r.lower), "upper": _num(r.upper)} for r in fit.table.itertuples()],
            "at": [] if at is None else [{"time": _num(r.time), "surv": _num(r.surv), "lower": _num(r.lower),
                                          "upper": _num(r.upper), "n_risk": int(r.n_risk)} for r in at.itertuples()]}


def logrank_json(res) -> dict:
    return {"chisq": _num(res.chisq), "df": res.df, "p": _num(res.p_value),
            "groups": [{"group": r.group, "n": int(r.n), "observed": _num(r.observed),
                        "expected": _num(r.expected)} for r in res.groups.itertuples()]}


def cox_json(res, dropped: int) -> dict:
    """The ``cox`` JSON: ``robust_se`` in each term with a cluster, ``zph`` when the test was asked for."""
    keys = ("term", "coef", "se", *(("robust_se",) if "robust_se" in res.terms else ()),
            "hr", "hr_lower", "hr_upper", "z", "p")

    def test(tst):
        return {"stat": _num(tst.stat), "df": tst.df, "p": _num(tst.p_value)}

    out = {"n": res.n, "events": res.events, "n_dropped": dropped, "ties": res.ties,
           "terms": [{k: (r[k] if k == "term" else _num(r[k])) for k in keys} for r in res.terms.to_dict("records")],
           "lr_test": test(res.lr_test), "wald_test": test(res.wald_test), "score_test": test(res.score_test),
           "concordance": _num(res.concordance)}
    if res.zph is not None:
        z = res.zph
        out["zph"] = {"transform": z.transform,
                      "terms": [{"term": r.term, "chisq": _num(r.chisq), "df": int(r.df), "p": _num(r.p)}
                                for r in z.terms.itertuples()],
                      "global": {"chisq": _num(z.global_chisq), "df": z.global_df, "p": _num(z.global_p)}}
    return out


def print_cox(res, out: dict) -> None:
    """Readable ``cox`` output."""
    rob = "robust_se" in res.terms
    _print_table(["term", "coef", "se", *(["robust se"] if rob else []), "HR", "95% CI", "z", "p"],
                 [[t["term"], _fmt(t["coef"]), _fmt(t["se"]), *([_fmt(t["robust_se"])] if rob else []),
                   _fmt(t["hr"], 3), f"{_fmt(t['hr_lower'], 3)} – {_fmt(t['hr_upper'], 3)}", _fmt(t["z"], 3),
                   _pval(t["p"])] for t in out["terms"]])
    for name, key in (("Likelihood ratio", "lr_test"), ("Wald", "wald_test"), ("Score (log-rank)", "score_test")):
        tt = out[key]
        typer.echo(f"{name} test = {_fmt(tt['stat'], 2)} on {tt['df']} df, {_pfmt(tt['p'])}")
    typer.echo(f"Concordance = {_fmt(res.concordance, 3)}")
    if "zph" in out:
        typer.echo(f"\nProportional-hazards test (cox.zph, {out['zph']['transform']} transform)")
        _print_table(["term", "chi-square", "df", "p"],
                     [[z["term"], _fmt(z["chisq"], 3), str(z["df"]), _pval(z["p"])]
                      for z in out["zph"]["terms"] + [{"term": "GLOBAL", **out["zph"]["global"]}]])
    if not res.converged:
        typer.echo("warning: the model did not converge; a coefficient may be infinite", err=True)


def _run(fn, split: tuple | None = None):
    """Run a command body; user-facing errors become one line and exit status 2.

    ``split`` = (data, where, as_json) runs the body once per PARAMCD (``--by-param``).
    """
    from cartalysis.stats import StatsInputError

    try:
        _by_param(fn, *split) if split else fn()
    except _Bad as e:
        _fail(str(e))
    except StatsInputError as e:
        _fail(f"error: {e}")


CONF_HELP = "Pointwise CI transform: log-log (SAS default), log (R default) or plain."


# Options shared by the commands (Typer reads them as the parameters' defaults).
_DATA = typer.Argument(..., help="Data file: .csv, .xlsx, .xpt (SAS v5/v8), .json/.ndjson (Dataset-JSON 1.1), .parquet.")
_TIME = typer.Option(..., "--time", help="Time column.")
_GROUP = typer.Option(None, "--group", help="Group column.")
_CONF_TYPE = typer.Option("log-log", "--conf-type", help=CONF_HELP)
_JSON = typer.Option(False, "--json", metavar="", help="Print JSON instead of a table.")
_CONF_LEVEL = typer.Option(0.95, "--conf-level", help="Confidence level, e.g. 0.9 or 0.99.")
_EVENT = typer.Option(None, "--event", help="Event column (1 = event, 0 = censored); or give --censor.")
_CENSOR = typer.Option(None, "--censor", help="Censoring column, as ADaM CNSR: 0 = event, 1 or more = censored.")
_WHERE = typer.Option(None, "--where", help='Row filter, e.g. \'PARAMCD == "OS" and TRT01A != "Placebo"\' '
                      "(==, !=, <, <=, >, >=, in (...), and, or, not, parentheses).")
_BY_PARAM = typer.Option(False, "--by-param", help="Analyse every PARAMCD of an ADaM table (JSON: a list by PARAMCD).")


def register(app) -> None:
    """Attach the statistics commands to the main Typer app (once; later calls do nothing)."""
    if getattr(app, "_cartalysis_stats", False):
        return
    app._cartalysis_stats = True
    from cartalysis import cli_survival

    cli_survival.register(app)

    @app.command()
    def km(
        data: Path = _DATA,
        time: str = _TIME,
        event: str | None = _EVENT,
        censor: str | None = _CENSOR,
        group: str | None = _GROUP,
        conf_type: str = _CONF_TYPE,
        times: str | None = typer.Option(None, "--times", help="Landmark times, e.g. 180,365."),
        entry: str | None = typer.Option(None, "--entry", help="Entry-time column (delayed entry / left truncation)."),
        conf_level: float = _CONF_LEVEL,
        where: str | None = _WHERE,
        by_param: bool = _BY_PARAM,
        as_json: bool = _JSON,
    ) -> None:
        """Kaplan–Meier estimate with Greenwood SE, CI, median (with CI) and landmark rates."""
        event = event_or_censor(event, censor)

        def body(param=None):
            from cartalysis.stats import kaplan_meier
            from cartalysis.stats._common import check_conf_type

            check_conf_type(conf_type)
            at_times = _times(times)
            csv = _Csv(data, where, param, censor)
            frame = csv.complete(csv.need(time, event, group, entry))
            t, e = csv.time(frame, time), csv.event(frame, event)
            en = None if entry is None else csv.time(frame, entry)
            if en is not None and (en >= t).any():
                csv._where(frame, en >= t, entry, "entry must be before the time")
            out = {"conf_type": conf_type, "conf_level": conf_level, "groups": []}
            for g, sel in _groups(frame, group):
                fit = kaplan_meier(t[sel], e[sel], conf_type, conf_level, None if en is None else en[sel])
                out["groups"].append(km_json(fit, g, at_times))
            if as_json:
                return _emit(out)
            csv.header(time, event, group, entry)
            typer.echo(f"Kaplan–Meier{' with delayed entry' if entry else ''}, {conf_type} {_pct(conf_level)} CI "
                       "(Greenwood); median CI from the same band; NE = not estimable/reached")
            _print_table(["group", "n", "events", "median", f"{_pct(conf_level)} CI"],
                         [[str(g["group"] or "all"), str(g["n"]), str(g["events"]), _fmt(g["median"], 1),
                           f"{_fmt(g['median_ci'][0], 1)} – {_fmt(g['median_ci'][1], 1)}"] for g in out["groups"]])
            for g in out["groups"]:
                if g["at"]:
                    typer.echo(f"\nLandmark survival — {g['group'] or 'all'}")
                    _print_table(["time", "n_risk", "surv", f"{_pct(conf_level)} CI"],
                                 [[_fmt(a["time"], 1), str(a["n_risk"]), _fmt(a["surv"]),
                                   f"{_fmt(a['lower'])} – {_fmt(a['upper'])}"] for a in g["at"]])
            for g in out["groups"]:
                typer.echo(f"\nSurvival table — {g['group'] or 'all'}")
                _print_table(["time", "n_risk", "n_event", "n_censor", "surv", "se", "lower", "upper"],
                             [[_fmt(r["time"], 1), str(r["n_risk"]), str(r["n_event"]), str(r["n_censor"]),
                               _fmt(r["surv"]), _fmt(r["se"]), _fmt(r["lower"]), _fmt(r["upper"])]
                              for r in g["table"]])

        _run(body, (data, where, as_json) if by_param else None)

    @app.command()
    def logrank(
        data: Path = _DATA,
        time: str = _TIME,
        event: str | None = _EVENT,
        censor: str | None = _CENSOR,
        group: str = typer.Option(..., "--group", help="Group column."),
        strata: str | None = typer.Option(None, "--strata", help="Stratification column."),
        rho: float = typer.Option(0.0, "--rho", help="Fleming–Harrington G-rho weight S(t-)^rho (0 = log-rank)."),
        where: str | None = _WHERE,
        by_param: bool = _BY_PARAM,
        as_json: bool = _JSON,
    ) -> None:
        """Log-rank test for k groups (stratified with --strata; G-rho with --rho), as R survdiff."""
        event = event_or_censor(event, censor)

        def body(param=None):
            from cartalysis.stats import logrank as _logrank

            csv = _Csv(data, where, param, censor)
            frame = csv.complete(csv.need(time, event, group, strata))
            t, e = csv.time(frame, time), csv.event(frame, event)
            res = _logrank(t, e, frame[group], None if strata is None else frame[strata], rho)
            out = logrank_json(res)
            if as_json:
                return _emit(out)
            csv.header(time, event, group, strata)
            typer.echo(res.method)
            _print_table(["group", "n", "observed", "expected"],
                         [[g["group"], str(g["n"]), _fmt(g["observed"], 0), _fmt(g["expected"], 2)] for g in out["groups"]])
            typer.echo(f"chi-square = {_fmt(res.chisq, 3)}, df = {res.df}, {_pfmt(res.p_value)}")

        _run(body, (data, where, as_json) if by_param else None)

    @app.command()
    def cox(
        data: Path = _DATA,
        time: str | None = typer.Option(None, "--time", help="Time column (right-censored data)."),
        event: str | None = _EVENT,
        censor: str | None = _CENSOR,
        covariates: str = typer.Option(..., "--covariates", help="Comma-separated covariate columns."),
        categorical: str | None = typer.Option(None, "--categorical",
                                               help="Comma-separated categorical columns; COL=REF sets the reference level."),
        ties: str = typer.Option("efron", "--ties", help="efron (R default) or breslow (SAS default)."),
        strata: str | None = typer.Option(None, "--strata", help="Stratification column(s), comma-separated."),
        start: str | None = typer.Option(None, "--start", help="Interval start column: (start, stop] rows."),
        stop: str | None = typer.Option(None, "--stop", help="Interval stop column (with --start, instead of --time)."),
        weights: str | None = typer.Option(None, "--weights", help="Case-weight column."),
        cluster: str | None = typer.Option(None, "--cluster", help="Cluster column: robust (sandwich) SE."),
        zph: str | None = typer.Option(None, "--zph", help="Proportional-hazards test: km, identity or rank."),
        where: str | None = _WHERE,
        by_param: bool = _BY_PARAM,
        as_json: bool = _JSON,
    ) -> None:
        """Cox proportional-hazards model: HR with Wald CI, LR/Wald/score tests, concordance."""
        event = event_or_censor(event, censor)

        def body(param=None):
            from cartalysis.stats import cox as _cox

            if (time is None) == (stop is None):
                raise _Bad("error: give --time (right-censored) or --stop (with --start), not both")
            if start is not None and stop is None:
                raise _Bad("error: --start needs --stop")
            tcol = time or stop
            strata_cols = [c.strip() for c in (strata or "").split(",") if c.strip()]
            covs, cat = _covariates(covariates, categorical)
            csv = _Csv(data, where, param, censor)
            used = csv.need(tcol, event, *covs, *strata_cols, start, weights, cluster)
            frame = csv.complete(list(dict.fromkeys(used)))
            frame = frame.assign(**{tcol: csv.time(frame, tcol), event: csv.event(frame, event)})
            if start:
                frame[start] = csv.number(frame, start)
                if (frame[start] >= frame[tcol]).any():
                    csv._where(frame, (frame[start] >= frame[tcol]).to_numpy(), start, "start must be before stop")
            if weights:
                frame[weights] = csv.number(frame, weights)
                if (frame[weights] <= 0).any():
                    csv._where(frame, (frame[weights] <= 0).to_numpy(), weights, "weight must be positive")
            for c in covs:  # (categorical columns stay text: the reader has stripped every cell)
                if c not in cat:
                    frame[c] = csv.number(frame, c, "not a number (list the column in --categorical if it is one)")
            res = _cox(frame, tcol, event, covs, categorical=cat, ties=ties, strata=strata_cols or None, start=start,
                       weights=weights, cluster=cluster, zph=zph)
            dropped = frame.attrs.get("dropped", 0)
            out = cox_json(res, dropped)
            if as_json:
                return _emit(out)
            csv.header(start, tcol, event, *covs, *strata_cols, weights, cluster)
            typer.echo(f"{res.method}; n = {res.n}, events = {res.events}, rows dropped for missing values = {dropped}")
            print_cox(res, out)

        _run(body, (data, where, as_json) if by_param else None)

    @app.command()
    def binom(
        x: int = typer.Option(..., "--x", help="Number of responders."),
        n: int = typer.Option(..., "--n", help="Number of subjects."),
        p0: float | None = typer.Option(None, "--p0", help="Null rate for the exact binomial test."),
        alternative: str = typer.Option("two-sided", "--alternative", help="two-sided, greater or less."),
        method: str = typer.Option("clopper-pearson", "--method", help="CI: clopper-pearson (exact) or wilson."),
        conf_level: float = typer.Option(0.95, "--conf-level", help="Confidence level."),
        as_json: bool = _JSON,
    ) -> None:
        """Proportion with exact (Clopper–Pearson) CI and, with --p0, the exact binomial test."""

        def body():
            from cartalysis.stats import binom_test, proportion

            prop = proportion(x, n, conf_level, method)
            test = binom_test(x, n, p0, alternative, conf_level) if p0 is not None else None
            if test is None and alternative not in ("two-sided", "greater", "less"):
                raise _Bad(f"error: --alternative must be two-sided, greater or less; got {alternative!r}")
            out = {"x": x, "n": n, "estimate": prop.estimate, "ci": [prop.lower, prop.upper], "p0": p0,
                   "alternative": alternative, "p": None if test is None else test.p_value}
            if as_json:
                return _emit(out)
            pct = lambda v: _fmt(100 * v, 1)  # noqa: E731
            typer.echo(f"{x}/{n} = {pct(prop.estimate)}% ({prop.method}: {pct(prop.lower)}–{pct(prop.upper)})")
            if test is not None:
                typer.echo(f"{test.method}: {_pfmt(test.p_value)} (p = {test.p_value:.3g})")

        _run(body)

    @app.command()
    def design(
        p0: float = typer.Option(..., "--p0", help="Null (historical control) response rate."),
        p1: float = typer.Option(..., "--p1", help="Alternative response rate."),
        alpha: float = typer.Option(0.025, "--alpha", help="Type-I error (per side when two-sided)."),
        power: float = typer.Option(0.9, "--power", help="Target power."),
        sided: str = typer.Option("one-sided", "--sided", help="one-sided or two-sided."),
        n_min: int = typer.Option(5, "--n-min", help="Smallest n in the table."),
        n_max: int = typer.Option(100, "--n-max", help="Largest n in the table."),
        as_json: bool = _JSON,
    ) -> None:
        """Exact single-arm design: critical count, actual alpha and power for each n."""

        def body():
            from cartalysis.stats import single_arm_design

            d = single_arm_design(p0, p1, alpha, power, sided, (n_min, n_max))
            rows = [{"n": int(r.n), "critical": _int(r.critical), "alpha": _num(r.alpha), "power": _num(r.power)}
                    for r in d.table.itertuples()]
            out = {"p0": p0, "p1": p1, "alpha": alpha, "power": power, "sided": sided, "smallest_n": d.smallest_n,
                   "smallest_n_stable": d.smallest_n_stable, "table": rows}
            if as_json:
                return _emit(out)
            typer.echo(f"{d.method}; p0 = {p0:g}, p1 = {p1:g}, target power {power:g}")
            _print_table(["n", "critical", "actual alpha", "power", ""],
                         [[str(r["n"]), "-" if r["critical"] is None else str(r["critical"]), _fmt(r["alpha"]),
                           _fmt(r["power"]), "*" if (r["power"] or 0) >= power else ""] for r in rows])
            typer.echo(f"* power ≥ {power:g}. Smallest n: {d.smallest_n}; "
                       f"smallest n from which every larger n (up to {n_max}) reaches it: {d.smallest_n_stable}")

        _run(body)

    @app.command()
    def cif(
        data: Path = _DATA,
        time: str = _TIME,
        status: str = typer.Option(..., "--status", help="Status column: 0 = censored, other values = cause."),
        group: str | None = _GROUP,
        conf_type: str = _CONF_TYPE,
        times: str | None = typer.Option(None, "--times", help="Times, e.g. 180,365 (default: every event time)."),
        conf_level: float = _CONF_LEVEL,
        where: str | None = _WHERE,
        by_param: bool = _BY_PARAM,
        as_json: bool = _JSON,
    ) -> None:
        """Aalen–Johansen cumulative incidence per cause (cmprsk variance) and Gray's test between groups."""

        def body(param=None):
            from cartalysis.stats import cumulative_incidence
            from cartalysis.stats._common import check_conf_type

            check_conf_type(conf_type)
            at_times = _times(times)
            csv = _Csv(data, where, param)
            frame = csv.complete(csv.need(time, status, group))
            t = csv.time(frame, time)
            st = csv.status(frame, status)
            res = cumulative_incidence(t, st, None if group is None else frame[group], conf_type, conf_level)
            curves = []
            for c in res.curves:
                at = c.at(at_times) if at_times else c.table
                curves.append({"cause": c.cause, "group": c.group,
                               "at": [{"time": _num(r.time), "cif": _num(r.cif), "se": _num(r.se),
                                       "lower": _num(r.lower), "upper": _num(r.upper)} for r in at.itertuples()]})
            out = {"conf_type": conf_type, "conf_level": conf_level, "curves": curves}
            if group is not None:
                out["gray"] = [{"cause": g.cause, "stat": _num(g.stat), "df": g.df, "p": _num(g.p_value)}
                               for g in res.gray]
            if as_json:
                return _emit(out)
            csv.header(time, status, group)
            typer.echo(f"Cumulative incidence (Aalen–Johansen, cmprsk variance), {conf_type} {_pct(conf_level)} CI")
            for c in curves:
                typer.echo(f"\ncause {c['cause']}" + (f", group {c['group']}" if c["group"] is not None else ""))
                _print_table(["time", "cif", "se", f"{_pct(conf_level)} CI"],
                             [[_fmt(a["time"], 1), _fmt(a["cif"]), _fmt(a["se"]),
                               f"{_fmt(a['lower'])} – {_fmt(a['upper'])}"] for a in c["at"]])
            for g in out.get("gray", []):
                typer.echo(f"Gray's test, cause {g['cause']}: chi-square = {_fmt(g['stat'], 3)}, df = {g['df']}, "
                           f"{_pfmt(g['p'])}")

        _run(body, (data, where, as_json) if by_param else None)
