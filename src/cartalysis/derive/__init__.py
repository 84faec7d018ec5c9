"""CAR-T clinical derivations: from a loaded study to patient-level derived datasets (ADaM-like).

``derive_all(study, plan) -> Derived`` runs every area; the per-area verbs (``derive_milestones``,
``derive_response``, ``derive_tte``, ``derive_toxicity``, ``derive_pk``, ``derive_risk``) can be used alone.
``write_derived(derived, out_dir)`` writes the CSV files documented in ``docs/derived-datasets.md``.
The statistics (KM, Cox, CIs) are done by ``cartalysis.stats`` on these datasets.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cartalysis.derive._common import Problems, days_between, lookup, table_file
from cartalysis.derive.bcells import derive_bcells, igg_course
from cartalysis.derive.crs_course import derive_crs_course
from cartalysis.derive.cytokines import cytokine_peaks
from cartalysis.derive.hematology import derive_hematology
from cartalysis.derive.infections import infection_episodes, infection_patients
from cartalysis.derive.milestones import (
    after_relapse,
    check_dates,
    derive_milestones,
    first_new_therapy,
    post_infusion_events,
)
from cartalysis.derive.pk import derive_pk
from cartalysis.derive.response import derive_response
from cartalysis.derive.risk import derive_risk
from cartalysis.derive.toxicity import derive_toxicity, teae_end_date
from cartalysis.derive.tte import derive_tte, hsct_landmark, hsct_time_dependent
from cartalysis.study.errors import Problem, StudyError
from cartalysis.study.plan import Plan
from cartalysis.study.safe_output import neutralise_cell

__all__ = [
    "Derived", "derive_all", "write_derived", "derive_milestones", "derive_response", "derive_tte", "derive_toxicity",
    "derive_pk", "derive_risk", "hsct_time_dependent", "hsct_landmark", "inotuzumab_group", "maintenance_in_remission",
    "POST_INFUSION_GROUPS", "POST_INFUSION_SWITCH_DAY",
]

FILES = {"adsl": "adsl.csv", "adrs": "adrs.csv", "adtte": "adtte.csv", "adtte_hsct": "adtte_hsct.csv", "adae": "adae.csv",
         "adtox": "adtox.csv", "tox_episodes": "adtox_episodes.csv", "adpp": "adpp.csv", "adinf": "adinf.csv"}


@dataclass(frozen=True)
class Derived:
    """The derived datasets of one study under one plan (columns: ``docs/derived-datasets.md``)."""

    adsl: pd.DataFrame
    adrs: pd.DataFrame
    adtte: pd.DataFrame
    adtte_hsct: pd.DataFrame
    adae: pd.DataFrame
    adtox: pd.DataFrame
    tox_episodes: pd.DataFrame
    adpp: pd.DataFrame
    plan: Plan
    adinf: pd.DataFrame = field(default_factory=pd.DataFrame)  # infection episodes (derive/infections.py)
    igg: pd.DataFrame = field(default_factory=pd.DataFrame)  # lowest IgG per patient and visit window


def group_labels(values: pd.Series, breaks: tuple[float, ...], right_closed: bool) -> pd.Series:
    """Labels of the intervals cut at ``breaks``: ``<40``/``>=40`` (left-closed) or ``<=25``/``>25-<=50``/... (right-closed)."""
    lo_op, hi_op = (">", "<=") if right_closed else (">=", "<")
    b = [f"{x:g}" for x in breaks]
    labels = [f"{hi_op}{b[0]}"] + [f"{lo_op}{b[i]}-{hi_op}{b[i + 1]}" for i in range(len(b) - 1)] + [f"{lo_op}{b[-1]}"]
    v = values.to_numpy(dtype=float)
    edges = np.asarray(breaks, dtype=float)
    idx = np.searchsorted(edges, v, side="left" if right_closed else "right")
    return pd.Series(np.where(np.isnan(v), None, np.asarray(labels, dtype=object)[np.minimum(idx, len(labels) - 1)]),
                     index=values.index, dtype=object)


def _hsct_in_remission(study: Any, pt: pd.DataFrame) -> pd.Series:
    """First allo-HSCT on or after the first CR/CRi and before relapse (consolidative HSCT in remission)."""
    allo = post_infusion_events(study, "hsct")
    allo = allo[allo["detail"] == "allo"]
    allo = allo.join(pt[["rem_dt", "relapse_dt"]], on="patient_id")
    ok = allo["rem_dt"].notna() & (allo["date"] >= allo["rem_dt"]) & (allo["relapse_dt"].isna() | (allo["date"] < allo["relapse_dt"]))
    return allo[ok].groupby("patient_id")["date"].min().reindex(pt.index)


def inotuzumab_group(subjects: pd.DataFrame) -> pd.Series:
    """Prior inotuzumab in three levels (ROCCA): ``naive`` (``prior_inotuzumab`` no), ``responsive`` or
    ``refractory`` (exposed, by ``inotuzumab_response``); missing when exposure is unknown or the exposed patient's
    response is ``not_assessed`` or missing, so that comparisons and complete-case models use the paper's three
    groups."""
    prior = subjects["prior_inotuzumab"].astype("boolean")
    resp = subjects["inotuzumab_response"].astype(object)
    exposed = np.where(resp.isin(["responsive", "refractory"]), resp, None)
    return pd.Series(np.where(prior.isna().to_numpy(), None,
                              np.where(prior.fillna(False).to_numpy(dtype=bool), exposed, "naive")),
                     index=subjects.index, dtype=object)


def maintenance_in_remission(study: Any, plan: Plan, ms: pd.DataFrame, resp: pd.DataFrame) -> pd.Series:
    """Start date of maintenance after response, per infused patient: the first ``new_therapy`` event whose
    ``detail`` is in *plan* ``groups.maintenance_therapies`` started while in remission, i.e. on or after the first
    CR/CRi (or the infusion, for patients in remission at infusion) and before relapse. Missing (no maintenance)
    for every other infused patient (non-responders included); ``adsl.maintenance_in_remission`` is "has a date".

    Defined by what happens after infusion: comparing it as a baseline group carries immortal-time bias
    (patients must stay alive and in remission until maintenance starts; ``/work/shared/domain.md`` §4).
    """
    start = ms["infusion_date"].where(ms["in_remission_at_infusion"].astype(bool), resp["rem_dt"])
    nt = post_infusion_events(study, "new_therapy")
    nt = nt[nt["detail"].isin(plan.groups.maintenance_therapies) & nt["patient_id"].isin(ms.index)]
    nt_start = lookup(nt["patient_id"], start)
    nt_relapse = lookup(nt["patient_id"], resp["relapse_dt"])
    ok = nt_start.notna() & (nt["date"] >= nt_start) & (nt_relapse.isna() | (nt["date"] < nt_relapse))
    return nt.loc[ok].groupby("patient_id")["date"].min().reindex(ms.index)


def derive_all(study: Any, plan: Plan | None = None) -> Derived:
    """Derive every dataset; raises ``StudyError`` listing all data that cannot support a derivation."""
    plan = plan or Plan()
    problems = Problems()
    check_dates(study, problems)
    if problems:
        raise StudyError(problems.items)
    subjects = study.tables["subjects"]
    ms = derive_milestones(study, plan)
    stop = pd.concat([ms["hsct_dt"], first_new_therapy(study, plan.response.exempt_therapies)["new_therapy_dt"].reindex(ms.index)],
                     axis=1).min(axis=1)
    adrs, resp = derive_response(study, plan, ms, stop)
    resp["hsct_in_remission_dt"] = _hsct_in_remission(study, resp)

    adsl = subjects.copy()
    adsl["ittfl"] = adsl["enrolled"].fillna(False).astype(bool)
    adsl["saffl"] = adsl["infusion_date"].notna()
    by = plan.groups.by
    check_plan_columns(study, plan)
    adsl["group"] = np.nan  # filled below, once the derived grouping columns exist
    adsl["age_group"] = group_labels(adsl["age"], plan.subgroups.age_breaks, right_closed=False)
    adsl["bm_blasts_group"] = group_labels(adsl["bm_blasts_pct"], plan.subgroups.bm_blasts_breaks, right_closed=True)
    adsl["in_remission_at_infusion"] = adsl["disease_status"].isin(plan.population.in_remission_statuses)
    adsl["inotuzumab_group"] = inotuzumab_group(adsl)

    inf = ms["infusion_date"]
    pt = pd.DataFrame(index=ms.index)
    pt["assessor"] = resp["assessor"]
    pt["bor"] = resp["bor"]
    pt["bor_dt"] = resp["bor_dt"]
    pt["bor_orr"] = resp["bor"].isin(["CR", "CRi"])
    pt["bor_cr"] = resp["bor"] == "CR"
    pt["bor_investigator"], pt["bor_irc"] = resp["bor_investigator"], resp["bor_irc"]
    pt["rem_dt"] = resp["rem_dt"]
    pt["rem_day"] = days_between(resp["rem_dt"], inf)
    pt["m3_resp"], pt["m3_dt"] = resp["m3_resp"], resp["m3_dt"]
    pt["m3_orr"] = resp["m3_resp"].isin(["CR", "CRi"])
    pt["m3_cr"] = resp["m3_resp"] == "CR"
    pt["m3_resp_investigator"], pt["m3_resp_irc"] = resp["m3_resp_investigator"], resp["m3_resp_irc"]
    pt["mrd_best"], pt["mrd_m3"] = resp["mrd_best"], resp["mrd_m3"]
    pt["relapse"] = resp["relapse_dt"].notna()
    pt["relapse_dt"] = resp["relapse_dt"]
    pt["relapse_day"] = days_between(resp["relapse_dt"], inf)
    pt["relapse_cd19"] = ms["relapse_cd19"].where(pt["relapse"])
    pt = pt.join(after_relapse(study, pt["relapse_dt"]))
    pt["hsct"] = ms["hsct_dt"].notna()
    pt["hsct_dt"], pt["hsct_type"] = ms["hsct_dt"], ms["hsct_type"]
    pt["hsct_in_remission"] = resp["hsct_in_remission_dt"].notna()
    pt["hsct_in_remission_dt"] = resp["hsct_in_remission_dt"]
    pt["hsct_in_remission_day"] = days_between(resp["hsct_in_remission_dt"], inf)
    nt = first_new_therapy(study, plan.response.exempt_therapies).reindex(ms.index)
    pt["new_therapy_dt"], pt["new_therapy"] = nt["new_therapy_dt"], nt["new_therapy"]
    maint_dt = maintenance_in_remission(study, plan, ms, resp)
    pt["maintenance_in_remission"] = maint_dt.notna()
    pt["maintenance_in_remission_dt"] = maint_dt
    pt["maintenance_in_remission_day"] = days_between(maint_dt, inf)
    pt["response_evaluable"] = ms.index.isin(adrs.loc[adrs["param"] == "OVR", "patient_id"])

    adae, adtox, episodes, tox = derive_toxicity(study, plan, ms,
                                                 teae_end_date(plan, ms["hsct_dt"], pt["new_therapy_dt"]))
    death_cols = ["death", "death_dt", "death_day", "death_cause", "death_early"]
    pt = pt.join(tox[death_cols])
    pt["lastalive_dt"] = ms["lastalive_dt"]
    pt["fu_days"] = days_between(ms["lastalive_dt"], inf)
    pt["fu_months"] = pt["fu_days"] / plan.time.month_days
    pt = pt.join(tox.drop(columns=death_cols + ["tocilizumab", "steroids"]))
    pt = pt.join(derive_crs_course(study, plan, inf, adtox, episodes, ms.index))
    stops = pt[["death_day", "relapse_day", "relapse_cd19", "fu_days"]].assign(
        hsct_day=days_between(pt["hsct_dt"], inf), new_therapy_day=days_between(pt["new_therapy_dt"], inf))
    pt = pt.join(derive_hematology(study, plan, inf, stops))
    adinf = infection_episodes(study, adae, inf, plan)
    pt = pt.join(infection_patients(adinf, stops, plan)).join(derive_bcells(study, plan, inf, stops))
    adpp, nca = derive_pk(study, plan, ms.index)
    pt = pt.join(nca).join(derive_risk(study, plan, ms.index)).join(cytokine_peaks(study.tables["labs"], plan, ms.index))

    _check_no_clash(study, set(pt.columns) | set(ADSL_ADDED))
    adsl = adsl.join(pt, on="patient_id")
    if by is not None:
        adsl["group"] = adsl[by]
    for col in ("bor_orr", "bor_cr", "m3_orr", "m3_cr", "relapse", "hsct", "hsct_in_remission", "death", "death_early",
                "crs", "crs_g3", "icans", "icans_g3", "hlh", "hypogamma", "infection", "infection_g3", "teae", "teae_g3",
                "maintenance_in_remission", "response_evaluable"):
        adsl[col] = adsl[col].astype("boolean")
    for col in ("crs_grade", "icans_grade", "hlh_grade", "hypogamma_grade", "infection_grade", "crs_episodes", "icans_episodes"):
        adsl[col] = adsl[col].astype("Int64")
    adsl = adsl.sort_values("patient_id", kind="stable").reset_index(drop=True)
    group = adsl.set_index("patient_id")["group"] if by is not None else None
    adtte = derive_tte(study, plan, ms, resp, group)
    adtte_hsct = hsct_time_dependent(adtte, adsl, add_one=plan.time.aval_add_one)
    return Derived(adsl, adrs, adtte, adtte_hsct, adae, adtox, episodes, adpp, plan, adinf,
                   igg_course(study.tables["labs"], ms.index))


ADSL_ADDED = ("ittfl", "saffl", "group", "age_group", "bm_blasts_group", "in_remission_at_infusion", "inotuzumab_group")


def _check_no_clash(study: Any, derived_columns: set[str]) -> None:
    """An extra ``subjects`` column named like a derived ADSL column would be overwritten or break the join: an error."""
    clash = [c for c in study.tables["subjects"].columns if c in derived_columns]
    if clash:
        raise StudyError([Problem(table_file(study, "subjects"), None, c,
                                  f"column {c!r} has the name of a derived ADSL column; rename it") for c in clash])


ADSL_DERIVED_GROUPS = ("age_group", "bm_blasts_group", "in_remission_at_infusion", "inotuzumab_group",
                       "maintenance_in_remission", "hsct_in_remission")
# Grouping columns defined by events after infusion: compared as baseline groups they carry immortal-time bias.
POST_INFUSION_GROUPS = ("maintenance_in_remission", "hsct_in_remission")
# ... and the ADSL column holding the day (from infusion) a patient enters the "yes" group, for the
# immortal-time-safe analyses (time-dependent Cox, landmark, Simon–Makuch, Mantel–Byar)
POST_INFUSION_SWITCH_DAY = {"maintenance_in_remission": "maintenance_in_remission_day",
                            "hsct_in_remission": "hsct_in_remission_day"}


MAX_GROUP_LEVELS = 12


def check_plan_columns(study: Any, plan: Plan) -> None:
    """Plan keys naming ADSL columns (``groups.by``, ``groups.compare``, ``subgroups.variables``,
    ``cox.candidates``/``forced``) must name a ``subjects`` column or a derived grouping column; all unknown names
    are reported at once."""
    known = set(study.tables["subjects"].columns) | set(ADSL_DERIVED_GROUPS)
    file = study.plan_path.name if getattr(study, "plan_path", None) else "sap.toml"
    named = [("groups.by", plan.groups.by)] if plan.groups.by is not None else []
    named += [("groups.compare", v) for v in plan.groups.compare]
    named += [("subgroups.variables", v) for v in plan.subgroups.variables]
    named += [("cox.candidates", v) for v in plan.cox.candidates] + [("cox.forced", v) for v in plan.cox.forced]
    problems = [Problem(file, None, key, f"column {v!r} is not in subjects") for key, v in named if v not in known]
    # a grouping makes one table column / curve / forest row per level: a continuous column cannot be one
    subjects = study.tables["subjects"]
    for key, v in named:
        if key.startswith(("groups.", "subgroups.")) and v in subjects.columns:
            levels = subjects[v].dropna().nunique()
            if levels > MAX_GROUP_LEVELS:
                problems.append(Problem(file, None, key, f"column {v!r} has {levels} distinct values; a grouping takes "
                                        f"at most {MAX_GROUP_LEVELS}: add a column of grouped values to subjects"))
    if problems:
        raise StudyError(problems)


def _csv_ready(frame: pd.DataFrame) -> pd.DataFrame:
    """Dates as ISO text, booleans as true/false, floats as ``%.12g``, missing as empty: the same frame always gives
    the same bytes.

    Each column is converted with whole-array operations (numpy's ISO date text, float text formatted once per
    distinct value), giving exactly the text ``strftime("%Y-%m-%d")`` and ``to_csv(float_format="%.12g")`` write.
    """
    out = frame.copy()
    for col in out.columns:
        s = out[col]
        if pd.api.types.is_datetime64_any_dtype(s):
            out[col] = _date_text(s)
        elif pd.api.types.is_bool_dtype(s) or str(s.dtype) == "boolean":
            out[col] = _missing_as_none(np.where(s.fillna(False).to_numpy(dtype=bool), "true", "false"), s.isna())
        elif s.dtype == np.float64:
            out[col] = _float_text(s.to_numpy())
        elif s.dtype == object and {bool, np.bool_} & set(map(type, s.to_numpy())):
            out[col] = s.map(lambda v: ("true" if v else "false") if isinstance(v, (bool, np.bool_)) else v)
        if out[col].dtype == object or isinstance(out[col].dtype, pd.StringDtype):
            out[col] = _neutralised(out[col])
    return out


def _neutralised(s: pd.Series) -> pd.Series:
    """Text cells a spreadsheet would run as a formula prefixed with ``'`` (``study/safe_output.py``); each
    distinct value checked once."""
    codes, uniques = pd.factorize(s, use_na_sentinel=True)
    fixed = [neutralise_cell(v) for v in uniques]
    if all(a is b for a, b in zip(fixed, uniques)):
        return s
    values = np.array(fixed + [None], dtype=object)[codes]
    return pd.Series(values, index=s.index, name=s.name, dtype=object)


def _missing_as_none(text: np.ndarray, missing: pd.Series | np.ndarray) -> np.ndarray:
    text = text.astype(object)
    text[np.asarray(missing, dtype=bool)] = None
    return text


def _date_text(s: pd.Series) -> np.ndarray | pd.Series:
    """``YYYY-MM-DD`` of each date; None where missing."""
    v = s.to_numpy()
    if isinstance(s.dtype, np.dtype):  # datetime64 of any unit (pandas 3 infers s/ms/us as well as ns); not tz-aware
        days = v.astype("datetime64[D]")
        known = ~np.isnat(v)
        midnight = (days == v) | ~known
        in_range = (days >= np.datetime64("1000-01-01")) & (days <= np.datetime64("9999-12-31")) | ~known
        if midnight.all() and in_range.all():  # numpy's text is then strftime's; otherwise let pandas do it
            codes, uniques = pd.factorize(days.view(np.int64))
            text = np.datetime_as_string(uniques.view("datetime64[D]"), unit="D").astype(object)
            return _missing_as_none(text[codes], ~known)
    return s.dt.strftime("%Y-%m-%d").astype(object).where(s.notna(), None)


def _float_text(v: np.ndarray) -> np.ndarray:
    """``"%.12g" % x`` of each float (what ``to_csv(float_format="%.12g")`` writes); None where missing."""
    codes, bits = pd.factorize(v.view(np.int64))  # by bit pattern, so that 0.0 and -0.0 stay apart
    text = np.array(["%.12g" % x for x in bits.view(np.float64)] + [None], dtype=object)
    return _missing_as_none(text[codes], np.isnan(v))


def write_derived(derived: Derived, out_dir: Path | str) -> dict[str, Path]:
    """Write the derived datasets as CSV into ``out_dir``; returns name → path."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = {}
    for attr, fname in FILES.items():
        path = out / fname
        write_csv(_csv_ready(getattr(derived, attr)), path)
        written[attr] = path
    return written


def write_csv(frame: pd.DataFrame, path: Path) -> None:
    """``frame.to_csv(path, index=False, lineterminator="\\n", float_format="%.12g")``, byte for byte, faster.

    pandas' writer converts and writes cell by cell; when every column of a frame made by ``_csv_ready`` is plain
    text, integers or nullable integers and no name or text needs CSV quoting, the lines are joined here instead.
    Anything else (quoting, other dtypes, a single column or no rows, where the csv module has special cases) is
    left to pandas.
    """
    fields = _plain_fields(frame) if len(frame) and frame.shape[1] > 1 else None
    if fields is None:
        frame.to_csv(path, index=False, lineterminator="\n", float_format="%.12g")
        return
    header = ",".join(map(str, frame.columns))
    with open(path, "w", encoding="utf-8", newline="") as f:
        f.write(header + "\n")
        f.write("\n".join(map(",".join, zip(*fields))))
        f.write("\n")


def _needs_quotes(text: list[str]) -> bool:
    return any(c in t for t in text for c in (",", '"', "\n", "\r"))


def _plain_fields(frame: pd.DataFrame) -> list[list[str]] | None:
    """Each column's cells as the text pandas would write (missing as empty); None when pandas must write it."""
    names = list(frame.columns)
    if not all(isinstance(n, str) for n in names) or _needs_quotes(names):
        return None
    fields = []
    for j in range(frame.shape[1]):
        s = frame.iloc[:, j]
        if s.dtype == np.int64:
            codes, uniques = pd.factorize(s.to_numpy())  # format each distinct integer once
            fields.append(np.array([str(x) for x in uniques.tolist()], dtype=object)[codes].tolist())
            continue
        if str(s.dtype) == "Int64":
            values = s.to_numpy(dtype=object, na_value="")
        elif s.dtype == object or isinstance(s.dtype, pd.StringDtype):  # text: object (pandas 2) or str (pandas 3)
            values = s.to_numpy(dtype=object)
        else:
            return None
        missing = pd.isna(values)
        kinds = set(map(type, values[~missing]))
        if not kinds <= {str, int}:
            return None
        text = np.where(missing, "", values).tolist()
        if str in kinds and _needs_quotes([t for t in set(text) if type(t) is str]):
            return None
        fields.append(list(map(str, text)) if int in kinds else text)
    return fields
