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
    _Csv,
    _emit,
    _fmt,
    _groups,
    _num,
    _pct,
    _pfmt,
    _print_table,
    _run,
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
            res = _rmst(t, e, tau, None if group is None else frame[group].str.strip(), conf_level)
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
