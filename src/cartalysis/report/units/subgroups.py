"""Table 4 and Figure 2: best overall response rate by subgroup (plan ``[subgroups] variables``), with a forest plot.

Needs: as the response table (``response.NEEDS``). A subgroup variable without values or with a single level is
left out.
"""

from __future__ import annotations

from cartalysis.report import figures as F
from cartalysis.report import fmt
from cartalysis.report import records as R
from cartalysis.report.model import Cell, Row, Table, c_n_of_N_pct, empty, label
from cartalysis.report.results import Record
from cartalysis.report.units.base import Ctx, Unit, labels
from cartalysis.report.units.labels import levels_of, show, var_label
from cartalysis.report.units.response import NEEDS, orr_is_endpoint


def run(ctx: Ctx) -> list:
    reg = ctx.reg
    tested = ctx.plan.efficacy.orr == "test"
    inf = ctx.response_pop
    orr = inf["bor"].astype(object).isin(["CR", "CRi"])
    all_rec = R.proportion(reg, "response.orr_best.subgroup.all", f"Best ORR, all {ctx.response_pop_text}",
                           ctx.prop(int(orr.sum()), len(inf)))
    rows = [Row((label("All infused patients"), c_n_of_N_pct(all_rec), Cell(fmt.ci(*all_rec.ci), (all_rec.id,))))]
    frows = [F.ForestRow("All infused", all_rec.value, *all_rec.ci, _forest_text(all_rec))]
    for var in ctx.plan.subgroups.variables:
        if var not in inf or inf[var].notna().sum() == 0:
            continue
        levels = levels_of(var, inf[var])
        if len(levels) < 2:
            continue
        rows.append(Row((label(var_label(var)), empty(), empty()), heading=True))
        frows.append(F.ForestRow(var_label(var), None, None, None, "", heading=True))
        labs = labels(inf[var])
        for level in levels:
            m = labs == level
            r = R.proportion(reg, f"response.orr_best.subgroup.{var}.{R.slug(level)}", f"Best ORR, {var} = {level}",
                             ctx.prop(int((orr & m).sum()), int(m.sum())))
            rows.append(Row((label(show(level)), c_n_of_N_pct(r), Cell(fmt.ci(*r.ci), (r.id,))), indent=1))
            frows.append(F.ForestRow(show(level), r.value, *r.ci, _forest_text(r), indent=True))
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



UNITS = (Unit("response.subgroups", "response rate by subgroup", run, needs=NEEDS, when=orr_is_endpoint),)
