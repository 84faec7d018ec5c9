"""Time-to-event endpoints (ADTTE-like), with declarative event and censoring sources.

Like admiral's ``derive_param_tte()``: the event is the earliest of the event sources (ties: the first listed);
censoring "end dates" (new anticancer therapy, allo-HSCT in remission) stop follow-up when they come strictly
before the event; otherwise the patient is censored at the last assessment or last-known-alive date. ``aval`` is
``adt − startdt`` days by default (day 0 = infusion; plan ``time.aval_add_one`` gives admiral's +1); months are
days / 30.4375. Definitions per endpoint: ``docs/derived-datasets.md``; sources: ELN 2017/2022, ZUMA-3 and ELIANA
reports, the pivotal Inati-cel SAP (``/work/shared/domain.md`` §4).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from cartalysis.derive._common import days_between, lookup
from cartalysis.derive.milestones import first_new_therapy
from cartalysis.derive.response import RESPONDERS

CNSR_LAST, CNSR_THERAPY, CNSR_HSCT, CNSR_NONRESP = 1, 2, 3, 4
LAST_DESC = {"last_assessment": "LAST DISEASE ASSESSMENT", "last_known_alive": "LAST KNOWN ALIVE"}
ADTTE_COLUMNS = ["patient_id", "param", "startdt", "adt", "aval", "aval_months", "cnsr", "evntcd", "evntdesc",
                 "cnsdtdsc", "group"]


@dataclass(frozen=True)
class Source:
    """A dated event or censoring source: one date per patient (NaT = none), its description (one text, or one per
    patient) and code."""

    dates: pd.Series
    desc: str | pd.Series
    code: int = 1


def _earliest(index: pd.Index, sources: list[Source]) -> tuple[pd.Series, pd.Series, pd.Series]:
    """Earliest date over sources per patient, with the winning source's description and code (ties: first listed)."""
    dt = pd.Series(pd.NaT, index=index, dtype="datetime64[ns]")
    desc = pd.Series(np.nan, index=index, dtype=object)
    code = pd.Series(np.nan, index=index, dtype=float)
    for s in sources:
        d = s.dates.reindex(index)
        better = d.notna() & (dt.isna() | (d < dt))
        dt = dt.where(~better, d)
        desc = desc.where(~better, s.desc)
        code = code.where(~better, s.code)
    return dt, desc, code


def time_to_event(param: str, origin: pd.Series, events: list[Source], cuts: list[Source], last: Source,
                  nonresponders: pd.Series | None, rule: str, plan: Any) -> pd.DataFrame:
    """One ADTTE parameter for the patients of ``origin``'s index (patients with an origin date).

    ``nonresponders`` marks patients handled by ``rule`` (plan ``nonresponders``); ``None`` = not applicable.
    ``evntcd`` holds each event source's ``code`` (1 unless set).
    """
    origin = origin.dropna()
    idx = origin.index
    ev_dt, ev_desc, ev_code = _earliest(idx, events)
    cut_dt, cut_desc, cut_code = _earliest(idx, cuts)
    last_dt = last.dates.reindex(idx)
    last_desc = last.desc.reindex(idx).to_numpy() if isinstance(last.desc, pd.Series) else last.desc
    is_event = ev_dt.notna() & (cut_dt.isna() | (ev_dt <= cut_dt))
    use_cut = ~is_event & cut_dt.notna() & (last_dt.isna() | (cut_dt <= last_dt))
    cens_dt = last_dt.where(~use_cut, cut_dt)
    cens_dt = cens_dt.where(cens_dt.notna() & (cens_dt >= origin), origin)
    out = pd.DataFrame({
        "patient_id": idx, "param": param, "startdt": origin.to_numpy(),
        "adt": np.where(is_event, ev_dt, cens_dt).astype("datetime64[ns]"),
        "cnsr": np.where(is_event, 0, np.where(use_cut, cut_code, CNSR_LAST)).astype(int),
        "evntcd": np.where(is_event, ev_code, 0).astype(int),
        "evntdesc": np.where(is_event, ev_desc, None),
        "cnsdtdsc": np.where(is_event, None, np.where(use_cut, cut_desc, last_desc)),
    }, index=idx)
    if nonresponders is not None and rule != "as_observed":
        nr = nonresponders.reindex(idx).fillna(False).astype(bool)
        if rule == "excluded":
            out = out[~nr]
        else:
            out.loc[nr, "adt"] = out.loc[nr, "startdt"]
            event = rule == "event_at_day0"
            out.loc[nr, ["cnsr", "evntcd"]] = (0, 1) if event else (CNSR_NONRESP, 0)
            out.loc[nr, "evntdesc"] = "NO RESPONSE" if event else None
            out.loc[nr, "cnsdtdsc"] = None if event else "NO RESPONSE"
    aval = days_between(out["adt"], out["startdt"]) + (1 if plan.time.aval_add_one else 0)
    out.insert(4, "aval", aval)
    out.insert(5, "aval_months", aval / plan.time.month_days)
    return out.reset_index(drop=True)


def _cuts(study: Any, rule: Any, hsct_rem_dt: pd.Series) -> list[Source]:
    cuts = []
    if rule.censor_at_new_therapy:
        cuts.append(Source(first_new_therapy(study, rule.exempt_therapies)["new_therapy_dt"], "NEW ANTICANCER THERAPY", CNSR_THERAPY))
    if rule.censor_at_allo_hsct_in_remission:
        cuts.append(Source(hsct_rem_dt, "ALLO-HSCT IN REMISSION", CNSR_HSCT))
    return cuts


def _last(ms: pd.DataFrame, rule: Any) -> Source:
    col = "last_assessment_dt" if rule.censor_last == "last_assessment" else "lastalive_dt"
    return Source(ms[col], LAST_DESC[rule.censor_last])


def _last_past_hsct(ms: pd.DataFrame, rule: Any, hsct_rem_dt: pd.Series) -> Source:
    """The censoring date of an analysis that follows responders past allo-HSCT in remission (DOR_NOHSCT).

    After a transplant, remission is followed by the transplant centre and reported as contact: marrow
    assessments usually stop while a later relapse or death is still recorded. Censoring a transplanted
    responder at the last pre-transplant marrow while counting the events of the others after it shortens the
    curve (informative censoring); so a patient with allo-HSCT in remission is censored at the later of the last
    assessment and the last-known-alive date ("last contact in remission"); the others as ``rule.censor_last``.
    """
    last = _last(ms, rule)
    if rule.censor_last != "last_assessment":
        return last
    past = hsct_rem_dt.reindex(ms.index).notna()
    later = pd.concat([ms["last_assessment_dt"], ms["lastalive_dt"]], axis=1).max(axis=1)
    desc = pd.Series(np.where(past, "LAST CONTACT IN REMISSION AFTER ALLO-HSCT", last.desc), index=ms.index)
    return Source(last.dates.where(~past, later), desc)


def marrow_relapse_dt(study: Any, ms: pd.DataFrame, plan: Any) -> pd.Series:
    """First post-infusion assessment with marrow blasts ≥ threshold (any assessor), per patient."""
    ass = study.tables["assessments"]
    ass = ass[ass["date"].notna() & (ass["date"] > lookup(ass["patient_id"], ms["infusion_date"]))]
    hit = ass[ass["bm_blasts_pct"] >= plan.response.blasts_threshold_pct]
    return hit.groupby("patient_id")["date"].min()


def derive_tte(study: Any, plan: Any, ms: pd.DataFrame, pt: pd.DataFrame, group: pd.Series | None = None) -> pd.DataFrame:
    """All ADTTE parameters listed in plan ``endpoints.params``."""
    inf = ms["infusion_date"]
    responder = pt["bor"].isin(RESPONDERS)
    nonresp = ~responder
    rem = pt["rem_dt"].where(responder)
    death = Source(ms["death_dt"], "DEATH")
    relapse = Source(pt["relapse_dt"], "RELAPSE")
    hsct_rem = pt["hsct_in_remission_dt"]
    params = plan.endpoints.params
    parts: list[pd.DataFrame] = []

    def add(param: str, origin: pd.Series, events: list[Source], rule: Any, cut_rule: Any = None, nr: pd.Series | None = None) -> None:
        if param in params:
            parts.append(time_to_event(param, origin, events, _cuts(study, cut_rule or rule, hsct_rem), _last(ms, rule),
                                       nr, rule.nonresponders, plan))

    add("OS", inf, [death], plan.os)
    add("RFS", inf, [relapse, death], plan.rfs, nr=nonresp)
    add("DOR", rem, [relapse, death], plan.dor)
    if "DOR_NOHSCT" in params:
        no_hsct = dataclasses.replace(plan.dor, censor_at_allo_hsct_in_remission=False)
        parts.append(time_to_event("DOR_NOHSCT", rem, [relapse, death], _cuts(study, no_hsct, hsct_rem),
                                   _last_past_hsct(ms, no_hsct, hsct_rem), None, no_hsct.nonresponders, plan))
    add("EFS", inf, [relapse, death], plan.efs, nr=nonresp)
    add("PFS", inf, [relapse, death], plan.pfs, nr=nonresp)  # a non-responder's progression is a `relapse` event
    dfs_pop = study.tables["subjects"].set_index("patient_id")["disease_status"].reindex(ms.index).isin(plan.population.dfs_statuses)
    marrow = pd.concat([marrow_relapse_dt(study, ms, plan).reindex(ms.index), ms["relapse_event_dt"]], axis=1).min(axis=1)
    add("DFS", inf[dfs_pop], [Source(marrow, "MARROW RELAPSE"), death], plan.dfs)
    add("CIR", rem, [Source(pt["relapse_dt"], "RELAPSE", 1), Source(ms["death_dt"], "DEATH WITHOUT RELAPSE", 2)], plan.cir)
    if "FU" in params:
        os_rows = time_to_event("FU", inf, [death], [], Source(ms["lastalive_dt"], "LAST KNOWN ALIVE"), None, "as_observed", plan)
        died = os_rows["cnsr"] == 0
        os_rows["cnsr"] = died.astype(int)
        os_rows["evntcd"] = (~died).astype(int)
        os_rows["evntdesc"] = np.where(died, None, "LAST KNOWN ALIVE")
        os_rows["cnsdtdsc"] = np.where(died, "DEATH", None)
        parts.append(os_rows)
    out = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=ADTTE_COLUMNS)
    out["group"] = out["patient_id"].map(group) if group is not None else np.nan
    order = {p: i for i, p in enumerate(plan.endpoints.params)}
    out = out.assign(_o=out["param"].map(order)).sort_values(["patient_id", "_o"], kind="stable").drop(columns="_o")
    return out[ADTTE_COLUMNS].reset_index(drop=True)


def hsct_time_dependent(adtte: pd.DataFrame, adsl: pd.DataFrame, params: tuple[str, ...] = ("OS", "RFS"),
                        add_one: bool = False) -> pd.DataFrame:
    """Counting-process rows splitting follow-up at a post-infusion allo-HSCT in remission (immortal-time-safe).

    For a time-dependent Cox model, Mantel–Byar test or Simon–Makuch plot (Kim et al., TCT 2021;27:125): HSCT is a
    covariate that switches from 0 to 1 on the HSCT day. Rows ``(tstart, tstop]`` in days from infusion.
    """
    t = adtte[adtte["param"].isin(params) & (adtte["startdt"].notna())].copy()
    h = t["patient_id"].map(adsl.set_index("patient_id")["hsct_in_remission_day"]) + (1 if add_one else 0)
    status = (t["cnsr"] == 0).astype(int)
    split = h.notna() & (h > 0) & (h < t["aval"])
    before = pd.DataFrame({"patient_id": t["patient_id"], "param": t["param"], "tstart": 0.0,
                           "tstop": np.where(split, h, t["aval"]), "hsct": 0, "status": np.where(split, 0, status)})
    after = pd.DataFrame({"patient_id": t["patient_id"], "param": t["param"], "tstart": h, "tstop": t["aval"],
                          "hsct": 1, "status": status})[split.to_numpy()]
    out = pd.concat([before, after], ignore_index=True)
    return out.sort_values(["patient_id", "param", "tstart"], kind="stable").reset_index(drop=True)


def hsct_landmark(adtte: pd.DataFrame, adsl: pd.DataFrame, param: str, landmark_days: float) -> pd.DataFrame:
    """Landmark analysis input: patients still event-free and followed after ``landmark_days``, grouped by HSCT by then.

    Anderson, Cain & Gelber (JCO 1983): the clock restarts at the landmark (``aval_lm``, days), so no patient is
    credited with time survived before the grouping was known.
    """
    t = adtte[(adtte["param"] == param) & (adtte["aval"] > landmark_days)].copy()
    h = t["patient_id"].map(adsl.set_index("patient_id")["hsct_in_remission_day"])
    t["hsct_by_landmark"] = h.notna() & (h <= landmark_days)
    t["aval_lm"] = t["aval"] - landmark_days
    return t.reset_index(drop=True)
