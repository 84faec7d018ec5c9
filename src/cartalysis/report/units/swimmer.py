"""Figure 7: swimmer plot of infused patients (follow-up lanes with response, MRD negativity, HSCT, relapse and
death markers; a systematic sample of 200 lanes in large registries).

Needs: at least one infused patient.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cartalysis.report import figures as F
from cartalysis.report.model import Note
from cartalysis.report.units.base import Ctx, Unit, flag, infused


def run(ctx: Ctx) -> list:
    inf = ctx.infused
    md = ctx.plan.time.month_days
    adrs = ctx.d.adrs
    mrd = adrs[(adrs["param"] == "MRDBEST") & (adrs["avalc"] == "negative") & flag(adrs["primary"])]
    mrd_day = mrd.groupby("patient_id")["ady"].min()
    inf = inf.sort_values(["fu_months", "patient_id"], ascending=[False, True])
    limit = 200
    note = []
    if len(inf) > limit:
        # an evenly spaced sample along the follow-up order keeps short and long lanes in proportion; the
        # longest follow-ups alone would show almost only responders
        keep = np.unique(np.linspace(0, len(inf) - 1, limit).round().astype(int))
        note.append(Note(f"{len(inf)} infused patients: the plot shows {len(keep)} of them, evenly spaced in "
                         "the order of follow-up (a systematic sample)."))
        inf = inf.iloc[keep]
    lanes = []
    # infused in remission (efficacy.orr = "none"): no response to mark or colour by, one neutral lane colour
    in_remission = ctx.plan.efficacy.orr == "none"
    for _, p in inf.iterrows():
        marks = []
        orr = str(p["bor"]) in ("CR", "CRi")
        if orr and pd.notna(p["rem_day"]) and not in_remission:
            marks.append(("response", float(p["rem_day"]) / md))
        if p["patient_id"] in mrd_day.index and pd.notna(mrd_day[p["patient_id"]]):
            marks.append(("mrd_negative", float(mrd_day[p["patient_id"]]) / md))
        if pd.notna(p.get("hsct_dt")) and pd.notna(p.get("infusion_date")):
            marks.append(("hsct", (p["hsct_dt"] - p["infusion_date"]).days / md))
        if bool(flag(pd.Series([p["relapse"]])).iloc[0]) and pd.notna(p["relapse_day"]):
            cd19 = str(p["relapse_cd19"]) if pd.notna(p["relapse_cd19"]) else "unknown"
            kind = {"cd19_pos": "relapse_cd19_pos", "cd19_neg": "relapse_cd19_neg"}.get(cd19, "relapse_unknown")
            marks.append((kind, float(p["relapse_day"]) / md))
        dead = bool(flag(pd.Series([p["death"]])).iloc[0])
        if dead and pd.notna(p["death_day"]):
            marks.append(("death", float(p["death_day"]) / md))
        lanes.append(F.Lane(str(p["patient_id"]), float(p["fu_months"]) if pd.notna(p["fu_months"]) else 0.0,
                            not dead, "in_remission" if in_remission else "responder" if orr else "non_responder",
                            tuple(marks)))
    lane_text = ("patients infused in remission: response is not an end point" if in_remission
                 else "blue: responder (best response CR/CRi), grey: non-responder")
    fig = ctx.figure("f07_swimmer", "Figure 7. Swimmer plot of infused patients",
                     F.swimmer_figure(lanes, xlabel="Months since infusion"),
                     f"One lane per infused patient from infusion to last contact or death ({lane_text}); "
                     f"markers: {'' if in_remission else 'first CR/CRi, '}first MRD negativity, HSCT, relapse by CD19 "
                     "status, death; arrow: alive at last contact.")
    return note + [fig]


UNITS = (Unit("swimmer", "swimmer plot", run, needs=(infused(),)),)
