"""Response in B-ALL after CAR-T: per-assessment response, best response, month-3 response, MRD.

Criteria (NCCN ALL response criteria; CIBMTR "ALL Response Criteria"; ELIANA/ZUMA-3 endpoint conventions, see
``docs/derived-datasets.md``): CR = marrow blasts < 5%, no circulating blasts, no extramedullary disease, ANC ≥ 1.0
and platelets ≥ 100 ×10^9/L; CRi = the same without count recovery; relapse = after CR/CRi, marrow blasts ≥ 5%,
circulating blasts or EMD. NCCN writes "> 5%" for relapse; the issue and the trials use ≥ 5% (the complement of the
CR threshold), which we follow so that every assessment is either in remission or not.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from cartalysis.derive._common import days_between, flag, lookup

RANK = {"NE": 0, "NR": 1, "CRi": 2, "CR": 3}
RESPONDERS = ("CR", "CRi")


def overall_response(ass: pd.DataFrame, in_remission_at_infusion: pd.Series, plan: Any) -> pd.DataFrame:
    """Add ``ovr`` (CR, CRi, NR, relapse, NE) and ``source`` to post-infusion assessments.

    ``ass`` must be sorted by patient, assessor, date. Relapse needs a preceding CR/CRi of the same assessor (or
    remission at infusion); an explicit ``response`` is kept as given.
    """
    r = plan.response
    bm = ass["bm_blasts_pct"].to_numpy(dtype=float)
    pb, emd = flag(ass["pb_blasts"]), flag(ass["emd"])
    with np.errstate(invalid="ignore"):
        remission = (bm < r.blasts_threshold_pct) & ~pb & ~emd
        disease = (bm >= r.blasts_threshold_pct) | pb | emd
        recovered = (ass["anc"].to_numpy(dtype=float) >= r.anc_min) & (ass["platelets"].to_numpy(dtype=float) >= r.platelets_min)
    derived = np.where(remission, np.where(recovered, "CR", "CRi"), np.where(disease, "NR", "NE"))
    explicit = ass["response"].notna().to_numpy()
    ovr = np.where(explicit, ass["response"].to_numpy(dtype=object), derived)
    out = ass.assign(ovr=ovr, source=np.where(explicit, "explicit", "derived"))
    in_rem = pd.Series(np.isin(ovr, RESPONDERS).astype(int), index=out.index)
    earlier = in_rem.groupby([out["patient_id"], out["assessor"]]).cummax().groupby(
        [out["patient_id"], out["assessor"]]).shift(1, fill_value=0).astype(bool)
    at_infusion = out["patient_id"].map(in_remission_at_infusion).fillna(False).astype(bool)
    relapse = (earlier | at_infusion) & (out["ovr"] == "NR") & ~explicit
    out.loc[relapse, "ovr"] = "relapse"
    return out


def _closest(rows: pd.DataFrame, target: pd.Series | float, keys: list[str]) -> pd.DataFrame:
    """Per ``keys`` group, the row whose ``ady`` is closest to ``target`` (ties: the later)."""
    dist = (rows["ady"] - target).abs()
    return rows.assign(_dist=dist, _neg=-rows["ady"]).sort_values(keys + ["_dist", "_neg"], kind="stable").drop_duplicates(
        keys, keep="first").drop(columns=["_dist", "_neg"])


def _mrd_text(neg: pd.Series) -> pd.Series:
    return neg.map({True: "negative", False: "positive"}).astype(object)


def patient_response(ovr: pd.DataFrame, ms: pd.DataFrame, stop_dt: pd.Series, plan: Any) -> pd.DataFrame:
    """Best response, first remission, month-3 response and MRD per patient from one set of assessments.

    ``ovr``: assessments with ``ovr`` and ``ady``; ``ms``: milestones (infused patients); ``stop_dt``: first HSCT or
    non-exempt new therapy. Returns one row per infused patient.
    """
    r = plan.response
    pt = pd.DataFrame(index=ms.index)
    rel_ass = ovr[ovr["ovr"] == "relapse"].groupby("patient_id")["date"].min()
    pt["relapse_dt"] = pd.concat([ms["relapse_event_dt"], rel_ass.reindex(ms.index)], axis=1).min(axis=1)

    a = ovr.join(pt["relapse_dt"], on="patient_id").join(stop_dt.rename("stop_dt"), on="patient_id")
    eligible = (a["relapse_dt"].isna() | (a["date"] < a["relapse_dt"])) & (a["stop_dt"].isna() | (a["date"] <= a["stop_dt"]))
    if r.bor_window_days is not None:
        eligible &= a["ady"] <= r.bor_window_days
    e = a[eligible & a["ovr"].isin(RANK)].assign(rank=lambda d: d["ovr"].map(RANK))
    best = e.sort_values(["patient_id", "rank", "date"], ascending=[True, False, True], kind="stable").drop_duplicates("patient_id")
    best = best.set_index("patient_id")
    pt["bor"] = best["ovr"].reindex(ms.index).fillna("NE")
    pt["bor_dt"] = best["date"]
    resp = e[e["ovr"].isin(RESPONDERS)]
    pt["rem_dt"] = resp.groupby("patient_id")["date"].min()

    m = plan.response.mrd_method
    tested = resp[resp["mrd_negative"].notna() & ((m == "any") | (resp["mrd_method"] == m))]
    neg = tested["mrd_negative"].astype(bool).groupby(tested["patient_id"]).any()
    pt["mrd_best"] = _mrd_text(neg.reindex(ms.index))

    lo, hi = r.m3_window_days
    win = a[(a["ady"] >= lo) & (a["ady"] <= hi)]
    m3 = _closest(win, r.m3_target_day, ["patient_id"]).set_index("patient_id").reindex(ms.index)
    ok = (m3["ovr"].isin(RESPONDERS) & (pt["relapse_dt"].isna() | (pt["relapse_dt"] > m3["date"]))
          & (m3["stop_dt"].isna() | (m3["stop_dt"] >= m3["date"])))
    window_end = ms["infusion_date"] + pd.Timedelta(days=hi)
    failed_before = pd.concat([pt["relapse_dt"], ms["death_dt"], stop_dt.reindex(ms.index)], axis=1).min(axis=1) <= window_end
    pt["m3_resp"] = np.where(m3["date"].notna(), np.where(ok, m3["ovr"], "NR"), np.where(failed_before, "NR", "NE"))
    pt["m3_dt"] = m3["date"]
    m3_tested = m3["mrd_negative"].notna() & ((m == "any") | (m3["mrd_method"] == m)) & ok
    pt["mrd_m3"] = _mrd_text(m3["mrd_negative"].where(m3_tested).astype(object))
    return pt


def mrd_by_visit(ass: pd.DataFrame, plan: Any) -> pd.DataFrame:
    """MRD per patient, visit and assay: the tested assessment closest to each nominal visit day within the window."""
    r = plan.response
    tested = ass[ass["mrd_negative"].notna() & ass["mrd_method"].notna()]
    tested = tested.drop_duplicates(["patient_id", "date", "mrd_method"])
    parts = []
    for visit, day in zip(r.mrd_visits, r.mrd_visit_days):
        rows = tested[(tested["ady"] - day).abs() <= r.mrd_visit_window_days]
        parts.append(_closest(rows, day, ["patient_id", "mrd_method"]).assign(visit=visit))
    if not parts or all(p.empty for p in parts):
        return pd.DataFrame(columns=["patient_id", "visit", "mrd_method", "adt", "ady", "avalc"])
    out = pd.concat(parts, ignore_index=True)
    return pd.DataFrame({"patient_id": out["patient_id"], "visit": out["visit"], "mrd_method": out["mrd_method"],
                         "adt": out["date"], "ady": out["ady"], "avalc": _mrd_text(out["mrd_negative"].astype(bool))})


def derive_response(study: Any, plan: Any, ms: pd.DataFrame, stop_dt: pd.Series) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return ``(adrs, per-patient response)``; see ``docs/derived-datasets.md`` for the rules."""
    ass = study.tables["assessments"]
    ass = ass[ass["patient_id"].isin(ms.index) & ass["date"].notna()].copy()
    ass["assessor"] = ass["assessor"].fillna("investigator")
    ass["ady"] = days_between(ass["date"], lookup(ass["patient_id"], ms["infusion_date"]))
    ass = ass[ass["ady"] > 0].sort_values(["patient_id", "assessor", "date"], kind="stable")
    ovr = overall_response(ass, ms["in_remission_at_infusion"], plan)

    has = ovr.groupby(["patient_id", "assessor"]).size().unstack(fill_value=0).reindex(index=ms.index, columns=["investigator", "irc"], fill_value=0) > 0
    primary = plan.response.primary_assessor
    other = "investigator" if primary == "irc" else "irc"
    chosen = pd.Series(np.where(has[primary], primary, np.where(has[other], other, None)), index=ms.index, dtype=object)
    ovr["primary"] = ovr["assessor"] == ovr["patient_id"].map(chosen)

    pt = patient_response(ovr[ovr["primary"]], ms, stop_dt, plan)
    pt["assessor"] = chosen
    by = {}
    for who in ("investigator", "irc"):
        by[who] = patient_response(ovr[ovr["assessor"] == who], ms, stop_dt, plan)
        seen = has[who]
        pt[f"bor_{who}"] = by[who]["bor"].where(seen)
        pt[f"m3_resp_{who}"] = by[who]["m3_resp"].where(seen)

    rows = [pd.DataFrame({"patient_id": ovr["patient_id"], "param": "OVR", "assessor": ovr["assessor"],
                          "primary": ovr["primary"], "adt": ovr["date"], "ady": ovr["ady"], "avalc": ovr["ovr"],
                          "mrd_method": ovr["mrd_method"], "mrd": _mrd_text(ovr["mrd_negative"].astype(object)),
                          "source": ovr["source"]})]
    for who, res in by.items():
        seen = pt[f"bor_{who}"].notna()
        res = res[seen]
        is_primary = (chosen[seen] == who)
        inf = ms["infusion_date"][seen]
        rows.append(pd.DataFrame({"patient_id": res.index, "param": "BOR", "assessor": who, "primary": is_primary.to_numpy(),
                                  "adt": res["bor_dt"].to_numpy(), "ady": days_between(res["bor_dt"], inf).to_numpy(),
                                  "avalc": res["bor"].to_numpy()}))
        rows.append(pd.DataFrame({"patient_id": res.index, "param": "M3RESP", "assessor": who, "primary": is_primary.to_numpy(),
                                  "adt": res["m3_dt"].to_numpy(), "ady": days_between(res["m3_dt"], inf).to_numpy(),
                                  "avalc": res["m3_resp"].to_numpy()}))
    for param, col, dcol in (("MRDBEST", "mrd_best", "bor_dt"), ("MRDM3", "mrd_m3", "m3_dt")):
        s = pt[pt[col].notna()]
        rows.append(pd.DataFrame({"patient_id": s.index, "param": param, "assessor": s["assessor"].to_numpy(), "primary": True,
                                  "adt": s[dcol].to_numpy(), "ady": days_between(s[dcol], ms["infusion_date"][s.index]).to_numpy(),
                                  "avalc": s[col].to_numpy()}))
    vis = mrd_by_visit(ovr, plan)
    rows.append(vis.assign(param="MRDVIS", primary=True))
    adrs = pd.concat([r for r in rows if not r.empty], ignore_index=True) if any(not r.empty for r in rows) else rows[0]
    adrs = adrs.reindex(columns=["patient_id", "param", "assessor", "primary", "visit", "adt", "ady", "avalc",
                                 "mrd_method", "mrd", "source"])
    order = {"OVR": 0, "BOR": 1, "M3RESP": 2, "MRDBEST": 3, "MRDM3": 4, "MRDVIS": 5}
    adrs = adrs.assign(_o=adrs["param"].map(order)).sort_values(
        ["patient_id", "_o", "assessor", "visit", "mrd_method", "adt"], kind="stable", na_position="first").drop(columns="_o")
    return adrs.reset_index(drop=True), pt
