"""Tables 5.j and Figures 3.x: the plan's ``groups.compare`` comparisons — for each ADSL column, Kaplan–Meier by
level with the log-rank P for each of ``groups.compare_endpoints``.

Needs: at least one infused patient; per end point, at least two levels with data (else a note says so).
"""

from __future__ import annotations

from cartalysis import stats
from cartalysis.derive import POST_INFUSION_GROUPS
from cartalysis.report import figures as F
from cartalysis.report import records as R
from cartalysis.report.model import Note, Row, Table, c_count, c_median, c_p, c_rate, empty, label
from cartalysis.report.units.base import DASH_CELL, Ctx, Unit, event, infused, labels, safe
from cartalysis.report.units.labels import ENDPOINT_LABELS, levels_of, months_label, short_var_label, show, var_label
from cartalysis.report.units.tte import km_curve, risk_times_for


def run(ctx: Ctx) -> list:
    """Plan ``groups.compare``: for each ADSL column, a Kaplan–Meier figure by level with the log-rank P for each
    of ``groups.compare_endpoints``, and one table of per-level N, events, median and landmark rates.

    Patients with the column missing are left out of that comparison. Record ids:
    ``tte.<endpoint>.<column>.<level>.{n,events,median,rate_<L>m}`` and ``tte.<endpoint>.<column>.logrank``.
    """
    gp = ctx.plan.groups
    reg = ctx.reg
    eff = ctx.plan.efficacy
    conf = f"{eff.conf_level:.0%}"
    landmarks = list(eff.landmarks_months)
    adtte = ctx.d.adtte
    blocks: list = []
    notes: list = []
    for j, var in enumerate(gp.compare, start=1):
        vs, vlabel = R.slug(var), var_label(var)
        start = len(blocks)  # the table goes before its figures
        values = labels(ctx.adsl.set_index("patient_id")[var])
        header = [label("End point / group"), label("N"), label("Events"), label(f"Median, months ({conf} CI)")]
        header += [label(f"{months_label(m)}-month rate, % ({conf} CI)") for m in landmarks]
        header.append(label("Log-rank P"))
        rows: list[Row] = []
        for param in gp.compare_endpoints:
            pid, title = ENDPOINT_LABELS[param]
            if param not in ctx.plan.endpoints.params:
                notes.append(Note(f"{title} by {vlabel}: {param} is not in plan endpoints.params, no comparison."))
                continue
            df = adtte[adtte["param"] == param]
            g = df["patient_id"].map(values)
            df, g = df[g.notna()], g[g.notna()]
            levels = levels_of(var, g)
            if len(levels) < 2:
                notes.append(Note(f"{title} by {vlabel}: fewer than two groups with data, no comparison."))
                continue
            lr = safe(notes, stats.logrank, df["aval_months"], event(df), g)
            p_cell = (c_p(R.test(reg, f"tte.{pid}.{vs}.logrank", f"{title}: log-rank test by {var}", lr))
                      if lr is not None else empty())
            rows.append(Row((label(title),) + tuple(empty() for _ in header[1:-1]) + (p_cell,)))
            risk_times = risk_times_for(float(df["aval_months"].max()))
            curves = []
            for level in levels:
                sub = df[g == level]
                km = safe(notes, stats.kaplan_meier, sub["aval_months"], event(sub), conf_type="log-log",
                           conf_level=eff.conf_level)
                if km is None:
                    continue
                rid, lab = f"tte.{pid}.{vs}.{R.slug(level)}", f"{title}, {var} = {level}"
                n_rec = R.count(reg, f"{rid}.n", f"{lab}: patients", km.n)
                e_rec = R.count(reg, f"{rid}.events", f"{lab}: events", km.events, unit="events")
                med = R.quantile(reg, f"{rid}.median", f"{lab}: median", km.median, "months", n=km.n)
                cells = [label(show(level)), c_count(n_rec), c_count(e_rec), c_median(med, km.events)]
                for m, (_, row) in zip(landmarks, km.at(landmarks).iterrows()):
                    rr = R.rate(reg, f"{rid}.rate_{months_label(m)}m", f"{lab}: {months_label(m)}-month rate", row,
                                km.method, int(row["n_risk"]))
                    cells.append(c_rate(rr) if rr.value is not None else DASH_CELL)
                rows.append(Row(tuple(cells) + (empty(),), indent=1))
                curves.append(km_curve(km, show(level), risk_times))
            if curves:
                annotation = (f"Log-rank P {'= ' if not p_cell.text.startswith(('<', '>')) else ''}{p_cell.text}"
                              if p_cell.text else "")
                blocks.append(ctx.figure(
                    f"f03_km_{pid}_by_{vs}", f"Figure 3.{ctx.next_figure('3')}. {title} by {vlabel[:1].lower() + vlabel[1:]}",
                    F.step_figure(curves, xlabel="Months since " + ("first CR/CRi" if param.startswith("DOR") else
                                                                    "infusion"),
                                  ylabel=f"{title.split(' (')[0]} (%)", risk_times=risk_times, annotation=annotation,
                                  legend_title=short_var_label(var)),
                    f"Kaplan–Meier estimate by {vlabel} with {conf} pointwise CI band (log-log); number at risk below "
                    "the axis."))
        if not rows:
            continue
        foot = [f"Comparison {j} of plan groups.compare: {var}. Kaplan–Meier estimates ({conf} CI: Greenwood variance "
                "with log-log transform; median: Brookmeyer–Crowley); log-rank P: unweighted log-rank test across the "
                f"groups (R survdiff). Patients with {var} missing are not in this comparison."]
        if var in POST_INFUSION_GROUPS:
            foot.append(f"{vlabel} is defined by events after infusion but compared here as if known at infusion, as "
                        "registry publications do: its patients had to stay alive and in remission until it started, "
                        "which favours the 'yes' group (immortal-time bias). A time-dependent Cox model or a landmark "
                        "analysis avoids it.")
        table_title = f"Table 5.{j}. Time-to-event end points by {vlabel[:1].lower() + vlabel[1:]}"
        blocks.insert(start, Table(f"t05_tte_by_{vs}", table_title, tuple(header), tuple(rows), tuple(foot)))
    return notes + blocks


UNITS = (Unit("tte.compare", "time-to-event comparisons (groups.compare)", run, needs=(infused(),),
              when=lambda ctx: bool(ctx.plan.groups.compare)),)
