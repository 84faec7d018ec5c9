"""Table 3: response rates (ORR, CR, CRi, MRD negativity among responders) at best response and month 3, with the
ITT rates; the month-3 ORR tested against the plan's historical control when ``efficacy.orr = "test"``.

Needs: response assessments (assessments.csv) and a non-empty response population (plan
``response.denominator``). Plan: not shown when ``efficacy.orr = "none"`` (patients infused in remission).
"""

from __future__ import annotations

import pandas as pd

from cartalysis import stats
from cartalysis.report import fmt
from cartalysis.report import records as R
from cartalysis.report.model import Cell, Row, Table, c_header_N, c_n_of_N_pct, c_p, empty, label
from cartalysis.report.results import Record
from cartalysis.report.units.base import (
    CATEGORICAL_TEST_TEXT,
    DASH_CELL,
    Ctx,
    Unit,
    categorical_test,
    flag,
    labels,
    rows_in,
    rows_of,
    safe,
)


def orr_is_endpoint(ctx: Ctx) -> bool:
    return ctx.plan.efficacy.orr != "none"


NEEDS = (
    rows_in("assessments", "response assessments"),
    rows_of(lambda ctx: ctx.infused[flag(ctx.infused["response_evaluable"])],
            "no infused patient has a response assessment after infusion in assessments.csv"),
    rows_of(lambda ctx: ctx.response_pop, "no patients in the response population (plan response.denominator)"),
)


def _response_records(ctx: Ctx, df: pd.DataFrame, suffix: str, label_suffix: str) -> dict[str, Record | None]:
    """ORR/CR/CRi at best response and month 3, MRD negativity among responders, for one set of patients."""
    reg = ctx.reg
    n = len(df)
    out: dict[str, Record | None] = {}
    eff = ctx.plan.efficacy
    for when, resp_col in (("best", "bor"), ("m3", "m3_resp")):
        resp = df[resp_col].astype(object)
        orr = resp.isin(["CR", "CRi"])
        for key, mask, text in ((f"orr_{when}", orr, "ORR (CR + CRi)"), (f"cr_{when}", resp == "CR", "CR"),
                                (f"cri_{when}", resp == "CRi", "CRi")):
            lab = f"{text}, {'best response' if when == 'best' else 'month 3'}{label_suffix}"
            if n == 0:
                out[key] = None
                continue
            if key == "orr_m3" and not suffix and eff.orr == "test":
                alt = "greater" if eff.sided == "one" else "two-sided"
                bt = stats.binom_test(int(mask.sum()), n, eff.null_rate, alternative=alt, conf_level=ctx.conf)
                out[key] = R.proportion(reg, f"response.{key}{suffix}", lab, bt)
            else:
                out[key] = R.proportion(reg, f"response.{key}{suffix}", lab, ctx.prop(int(mask.sum()), n))
        mrd_col = "mrd_best" if when == "best" else "mrd_m3"
        nresp = int(orr.sum())
        neg = int((df.loc[orr, mrd_col].astype(object) == "negative").sum())
        out[f"mrd_neg_{when}"] = (
            R.proportion(reg, f"response.mrd_neg_{when}{suffix}",
                         f"MRD negative among responders, {'best response' if when == 'best' else 'month 3'}"
                         f"{label_suffix}", ctx.prop(neg, nresp)) if nresp else None
        )
    return out



def run(ctx: Ctx) -> list:
    notes: list = []
    reg = ctx.reg
    eff = ctx.plan.efficacy
    tested = eff.orr == "test"
    recs = _response_records(ctx, ctx.response_pop, "", "")
    itt = ctx.enrolled
    itt_recs = {}
    # ITT: responders among all enrolled patients (not-infused patients count as non-responders)
    for key, col, text in (("orr_m3_itt", "m3_resp", "ORR at month 3, ITT"), ("orr_best_itt", "bor", "Best ORR, ITT")):
        x = int((flag(itt["saffl"]) & itt[col].astype(object).isin(["CR", "CRi"])).sum())
        p = ctx.prop(x, len(itt))
        itt_recs[key] = R.proportion(reg, f"response.{key}", text, p) if p else None
    conf = f"{eff.conf_level:.0%}"
    lines = [
        ("Best overall response", None, True),
        ("ORR (CR + CRi)", recs["orr_best"], False), ("CR", recs["cr_best"], False), ("CRi", recs["cri_best"], False),
        ("MRD negative among responders", recs["mrd_neg_best"], False),
        ("Response at month 3" + (" (primary end point)" if tested else ""), None, True),
        ("ORR (CR + CRi)", recs["orr_m3"], False), ("CR", recs["cr_m3"], False), ("CRi", recs["cri_m3"], False),
        ("MRD negative among responders", recs["mrd_neg_m3"], False),
        ("Intention to treat (all enrolled)", None, True),
        ("ORR at month 3", itt_recs["orr_m3_itt"], False), ("Best ORR", itt_recs["orr_best_itt"], False),
    ]
    grouped = bool(ctx.groups)
    grecs = {}
    if grouped:
        for g in ctx.groups:
            df = ctx.response_pop[ctx.group_of(ctx.response_pop) == g]
            grecs[g] = _response_records(ctx, df, f".{R.slug(g)}", f", {ctx.group_by} = {g}")
    header = [label("Response")]
    if grouped:
        header += [c_header_N(ctx.group_title(g), ctx.n_group(g)) for g in ctx.groups]
        header += [c_header_N("Total", ctx.n_infused), label(f"{conf} CI"), label("P value")]
    else:
        header += [label("n/N (%)"), label(f"{conf} CI")]
        if tested:
            header.append(label(f"P value vs {eff.null_rate:.0%}"))
    rows = []
    gvals = ctx.group_of(ctx.response_pop)
    for text, rec, heading in lines:
        if heading:
            rows.append(Row((label(text),) + tuple(empty() for _ in header[1:]), heading=True))
            continue
        cells = [label(text)]
        if grouped:
            key = next((k for k, v in recs.items() if v is rec), None)
            for g in ctx.groups:
                r = grecs[g].get(key) if key else None
                cells.append(c_n_of_N_pct(r) if r else DASH_CELL)
        if rec is None:
            cells += [DASH_CELL, DASH_CELL]
        else:
            cells += [c_n_of_N_pct(rec), Cell(fmt.ci(*rec.ci), (rec.id,))]
        if grouped or tested:
            cells.append(c_p(rec) if rec is not None and rec.p_value is not None else empty())
        if grouped:
            cells[-1] = empty()
            key = next((k for k, v in recs.items() if v is rec), None)
            if key in ("orr_best", "orr_m3"):
                col = "bor" if key == "orr_best" else "m3_resp"
                yes = labels(ctx.response_pop[col].astype(object).isin(["CR", "CRi"]))
                t = safe(notes, stats.compare_categorical, yes, gvals, **categorical_test(ctx))
                if t is not None:
                    cells[-1] = c_p(R.test(reg, f"response.{key}.test", f"{text}: between-group test", t))
        rows.append(Row(tuple(cells), indent=1))
    foot = [f"{conf} CI, Clopper–Pearson (exact)."]
    if tested:
        foot.append(f"Month-3 ORR tested against the historical control rate of {eff.null_rate:.0%} with an exact "
                    f"binomial test ({'one-sided' if eff.sided == 'one' else 'two-sided'}; significance level "
                    f"{eff.alpha:g}).")
    foot.append(f"Denominator of the best-response and month-3 rates (plan response.denominator): "
                f"{ctx.response_pop_text}; ITT rates: all enrolled patients.")
    foot += ["Response: CR or CRi by bone-marrow morphology; MRD negative: < 0.01% (flow cytometry) at the "
            "responding assessment; percentages of MRD negativity are among responders."]
    if grouped:
        foot.append(f"Between-group P values: {CATEGORICAL_TEST_TEXT[ctx.plan.tables.categorical_test]}.")
    who = "evaluable" if ctx.plan.response.denominator == "evaluable" else "infused"
    return notes + [Table("t03_response", f"Table 3. Response in {who} patients", tuple(header), tuple(rows),
                          tuple(foot))]


UNITS = (Unit("response.orr", "response rates", run, needs=NEEDS, when=orr_is_endpoint),)
