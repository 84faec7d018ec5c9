"""Table 6 and Figure 4: cumulative incidence of relapse and non-relapse mortality among responders
(Aalen–Johansen, competing risks; Gray's test by group).

Needs: the plan's ``CIR`` end point and at least one responder (CIR rows in ADTTE).
"""

from __future__ import annotations

from cartalysis import stats
from cartalysis.report import figures as F
from cartalysis.report import records as R
from cartalysis.report.model import Cell, Row, Table, c_p, c_rate, empty, label
from cartalysis.report.units.base import DASH_CELL, Ctx, Unit, rows_of, safe
from cartalysis.report.units.labels import months_label, show
from cartalysis.report.units.tte import risk_times_for


def cir_rows(ctx: Ctx):
    adtte = ctx.d.adtte
    return adtte[adtte["param"] == "CIR"]


def run(ctx: Ctx) -> list:
    notes: list = []
    reg = ctx.reg
    df = cir_rows(ctx)
    eff = ctx.plan.efficacy
    conf = f"{eff.conf_level:.0%}"
    res = safe(notes, stats.cumulative_incidence, df["aval_months"], df["evntcd"].astype(int),
                conf_type="log-log", conf_level=eff.conf_level)
    if res is None:
        return notes
    names = {"1": ("cir", "Relapse"), "2": ("nrm", "Non-relapse mortality")}
    risk_times = risk_times_for(float(df["aval_months"].max()))
    grouped = bool(ctx.groups)
    by_group = None
    if grouped:
        by_group = safe(notes, stats.cumulative_incidence, df["aval_months"], df["evntcd"].astype(int),
                         group=ctx.group_of(df), conf_type="log-log", conf_level=eff.conf_level)
    curves, rows = [], []

    def rate_cells(c, pid: str, name: str, suffix: str, lab_sfx: str) -> list[Cell]:
        cells = []
        for m, (_, row) in zip(eff.landmarks_months, c.at(list(eff.landmarks_months)).iterrows()):
            rr = R.rate(reg, f"tte.{pid}.rate_{months_label(m)}m{suffix}",
                        f"Cumulative incidence of {name.lower()} at {months_label(m)} months{lab_sfx}", row, c.method)
            cells.append(c_rate(rr) if rr.value is not None else DASH_CELL)
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
            curves.append(curve(cg, f"{name}, {show(g)}"))
    header = (label("Event"),) + tuple(label(f"{months_label(m)} months, % ({conf} CI)")
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
    return notes + [table, fig]


UNITS = (Unit("tte.cif", "cumulative incidence of relapse", run,
              needs=(rows_of(cir_rows, "no responders (CIR not derived)"),),
              when=lambda ctx: "CIR" in ctx.plan.endpoints.params),)
