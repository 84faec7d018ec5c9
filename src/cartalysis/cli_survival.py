"""Survival commands beyond the basics (rmst, followup, finegray, landmark), on any CSV.

Same conventions as ``cli_stats``: a readable table by default, JSON with ``--json`` (``null`` = not reached / not
estimable), bad input as one line ``FILE:ROW:COLUMN: message`` with exit status 2.
"""

from __future__ import annotations

from pathlib import Path

import typer

from cartalysis.cli_stats import (
    _CONF_LEVEL,
    _CONF_TYPE,
    _DATA,
    _GROUP,
    _JSON,
    _TIME,
    _covariates,
    _Csv,
    _emit,
    _fmt,
    _groups,
    _num,
    _pct,
    _pfmt,
    _print_table,
    _pval,
    _run,
    _times,
    cox_json,
    km_json,
    logrank_json,
    print_cox,
)

_EVENT = typer.Option(..., "--event", help="Event column (1 = event, 0 = censored).")


def register(app) -> None:
    """Attach the commands to the main Typer app (called by ``cli_stats.register``)."""

    @app.command()
    def rmst(
        data: Path = _DATA,
        time: str = _TIME,
        event: str = _EVENT,
        group: str | None = _GROUP,
        tau: float = typer.Option(..., "--tau", help="Horizon: the area under the KM curve from 0 to TAU."),
        conf_level: float = _CONF_LEVEL,
        as_json: bool = _JSON,
    ) -> None:
        """Restricted mean survival time per group at --tau (R survfit rmean SE); two groups: the difference."""

        def body():
            from cartalysis.stats import rmst as _rmst

            csv = _Csv(data)
            frame = csv.complete(csv.need(time, event, group))
            t, e = csv.time(frame, time), csv.event(frame, event)
            res = _rmst(t, e, tau, None if group is None else frame[group], conf_level)
            d = res.difference
            out = {"tau": res.tau,
                   "groups": [{"group": g.group, "n": g.n, "rmst": _num(g.estimate), "se": _num(g.se),
                               "lower": _num(g.lower), "upper": _num(g.upper)} for g in res.groups],
                   "difference": None if d is None else {"estimate": _num(d.estimate), "se": _num(d.se),
                                                         "lower": _num(d.lower), "upper": _num(d.upper),
                                                         "p": _num(d.p_value)}}
            if as_json:
                return _emit(out)
            typer.echo(res.groups[0].method)
            _print_table(["group", "n", "RMST", "se", f"{_pct(conf_level)} CI"],
                         [[str(g["group"] or "all"), str(g["n"]), _fmt(g["rmst"], 2), _fmt(g["se"], 2),
                           f"{_fmt(g['lower'], 2)} – {_fmt(g['upper'], 2)}"] for g in out["groups"]])
            if d is not None:
                typer.echo(f"{d.method}: {_fmt(d.estimate, 2)} ({_fmt(d.lower, 2)} – {_fmt(d.upper, 2)}), "
                           f"se {_fmt(d.se, 2)}, {_pfmt(d.p_value)}")

        _run(body)

    @app.command()
    def followup(
        data: Path = _DATA,
        time: str = _TIME,
        event: str = _EVENT,
        group: str | None = _GROUP,
        conf_type: str = _CONF_TYPE,
        conf_level: float = _CONF_LEVEL,
        as_json: bool = _JSON,
    ) -> None:
        """Median follow-up per group by the reverse Kaplan–Meier method, with its CI."""

        def body():
            from cartalysis.stats import median_followup
            from cartalysis.stats._common import check_conf_type

            check_conf_type(conf_type)
            csv = _Csv(data)
            frame = csv.complete(csv.need(time, event, group))
            t, e = csv.time(frame, time), csv.event(frame, event)
            out = {"conf_type": conf_type, "groups": []}
            for g, sel in _groups(frame, group):
                q = median_followup(t[sel], e[sel], conf_type, conf_level)
                out["groups"].append({"group": g, "n": int(sel.sum()), "median": _num(q.estimate),
                                      "median_ci": [_num(q.lower), _num(q.upper)]})
            if as_json:
                return _emit(out)
            typer.echo(f"Median follow-up (reverse Kaplan–Meier), {conf_type} {_pct(conf_level)} CI; NE = not reached")
            _print_table(["group", "n", "median", f"{_pct(conf_level)} CI"],
                         [[str(g["group"] or "all"), str(g["n"]), _fmt(g["median"], 1),
                           f"{_fmt(g['median_ci'][0], 1)} – {_fmt(g['median_ci'][1], 1)}"] for g in out["groups"]])

        _run(body)

    @app.command()
    def finegray(
        data: Path = _DATA,
        time: str = _TIME,
        status: str = typer.Option(..., "--status", help="Status column: --cencode = censored, other values = cause."),
        cause: str = typer.Option(..., "--cause", help="The cause of interest (a value of --status)."),
        cencode: str = typer.Option("0", "--cencode", help="Status value meaning censored."),
        covariates: str = typer.Option(..., "--covariates", help="Comma-separated covariate columns."),
        categorical: str | None = typer.Option(None, "--categorical",
                                               help="Comma-separated categorical columns; COL=REF sets the reference level."),
        cause_specific: bool = typer.Option(False, "--cause-specific", help="Also fit the cause-specific Cox models."),
        conf_level: float = _CONF_LEVEL,
        as_json: bool = _JSON,
    ) -> None:
        """Fine–Gray subdistribution-hazard regression for one cause (as cmprsk::crr)."""

        def body():
            from cartalysis.stats import cause_specific_cox, fine_gray

            covs, cat = _covariates(covariates, categorical)
            csv = _Csv(data)
            frame = csv.complete(list(dict.fromkeys(csv.need(time, status, *covs))))
            frame = frame.assign(**{time: csv.time(frame, time), status: csv.status(frame, status)})
            for c in covs:  # (categorical columns stay text: the reader has stripped every cell)
                if c not in cat:
                    frame[c] = csv.number(frame, c, "not a number (list the column in --categorical if it is one)")
            res = fine_gray(frame, time, status, cause.strip(), covs, categorical=cat, cencode=cencode.strip(),
                            conf_level=conf_level)

            def terms(df):
                return [{k: (r[k] if k == "term" else _num(r[k])) for k in
                         ("term", "coef", "se", "hr", "hr_lower", "hr_upper", "z", "p")} for r in df.to_dict("records")]

            out = {"n": res.n, "cause": res.cause, "terms": terms(res.terms)}
            if cause_specific:
                out["cause_specific"] = [{"cause": c, "n": f.n, "events": f.events, "terms": terms(f.terms)}
                                         for c, f in cause_specific_cox(frame, time, status, covs, cat, cencode.strip(),
                                                                        conf_level=conf_level).items()]
            if as_json:
                return _emit(out)
            typer.echo(f"{res.method}; n = {res.n}, events = {res.events}, competing events = {res.competing}")
            blocks = [("subdistribution HR", out["terms"])] + [
                (f"cause-specific HR, cause {c['cause']} ({c['events']} events)", c["terms"])
                for c in out.get("cause_specific", [])]
            for title, rows in blocks:
                typer.echo(f"\n{title}")
                _print_table(["term", "coef", "se", "HR", f"{_pct(conf_level)} CI", "z", "p"],
                             [[t["term"], _fmt(t["coef"]), _fmt(t["se"]), _fmt(t["hr"], 3),
                               f"{_fmt(t['hr_lower'], 3)} – {_fmt(t['hr_upper'], 3)}", _fmt(t["z"], 3), _pval(t["p"])]
                              for t in rows])
            if not res.converged:
                typer.echo("warning: the model did not converge; a coefficient may be infinite", err=True)

        _run(body)

    @app.command()
    def landmark(
        data: Path = _DATA,
        time: str = _TIME,
        event: str = _EVENT,
        switch: str = typer.Option(..., "--switch", help="Time the subject changes group (empty = never)."),
        at: float = typer.Option(..., "--at", help="Landmark time (same unit as --time)."),
        conf_type: str = _CONF_TYPE,
        conf_level: float = _CONF_LEVEL,
        times: str | None = typer.Option(None, "--times", help="Times after the landmark for survival rates."),
        as_json: bool = _JSON,
    ) -> None:
        """Landmark analysis: KM, log-rank and Cox of switched vs not switched by --at, time from the landmark."""

        def body():
            import numpy as np
            import pandas as pd

            from cartalysis.stats import landmark as _landmark
            from cartalysis.stats._common import check_conf_type

            check_conf_type(conf_type)
            at_times = _times(times)
            csv = _Csv(data)
            csv.need(switch)
            frame = csv.complete(csv.need(time, event))  # an empty switch time means "never switched"
            t, e = csv.time(frame, time), csv.event(frame, event)
            sw = pd.to_numeric(frame[switch], errors="coerce").to_numpy(dtype=float)
            bad = frame[switch].notna().to_numpy() & ~np.isfinite(sw)
            if bad.any():
                csv._where(frame, bad, switch, "switch time must be a number or empty (never)")
            if (sw < 0).any():
                csv._where(frame, sw < 0, switch, "negative switch time")
            res = _landmark(t, e, sw, at, conf_type, conf_level)
            out = {"at": res.at, "n": res.n, "excluded": res.excluded,
                   "km": {"conf_type": conf_type, "groups": [km_json(f, g, at_times) for g, f in res.km.items()]},
                   "logrank": None if res.logrank is None else logrank_json(res.logrank),
                   "cox": None if res.cox is None else cox_json(res.cox, 0)}
            if res.note:
                out["note"] = res.note
            if as_json:
                return _emit(out)
            typer.echo(f"{res.method}; n = {res.n}, excluded (event or censored by {at:g}) = {res.excluded}")
            _print_table(["group", "n", "events", "median", f"{_pct(conf_level)} CI"],
                         [[g["group"], str(g["n"]), str(g["events"]), _fmt(g["median"], 1),
                           f"{_fmt(g['median_ci'][0], 1)} – {_fmt(g['median_ci'][1], 1)}"] for g in out["km"]["groups"]])
            if res.note:
                typer.echo(res.note)
                return
            lr = out["logrank"]
            typer.echo(f"log-rank chi-square = {_fmt(lr['chisq'], 3)}, df = {lr['df']}, {_pfmt(lr['p'])}")
            typer.echo(f"\n{res.cox.method}")
            print_cox(res.cox, out["cox"])

        _run(body)
