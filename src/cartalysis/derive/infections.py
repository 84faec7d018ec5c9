"""Infections after CAR-T: episodes with pathogen class, grade and time window; first severe infection.

Episodes come from the ``infections`` table when it has rows (onset on or after infusion); otherwise from the
treatment-emergent ``adverse_events`` rows of the infection category (plan ``toxicity.infection_socs``/``terms``),
whose pathogen class is then ``unknown`` and site empty. Windows (plan ``safety.infection_windows`` = [30, 90]):
day 0–30, 31–90, > 90 (onset day from infusion). An infection death is an episode of grade 5.

First severe infection (grade ≥ ``safety.severe_infection_grade``): time from infusion to its onset; death without
one is the competing event; otherwise censored at the last date known alive (cumulative incidence, Aalen–Johansen).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from cartalysis.derive._common import days_between, lookup

EPISODE_COLUMNS = ["patient_id", "onset_day", "grade", "pathogen_class", "site", "serious", "related", "window", "source"]


def window_labels(day: pd.Series, breaks: tuple[float, ...]) -> pd.Series:
    """``0–30``, ``31–90``, ``>90`` for breaks (30, 90): a day d falls in the first window with d ≤ its break."""
    b = [f"{x:g}" for x in breaks]
    labels = [f"0–{b[0]}"] + [f"{int(float(b[i])) + 1}–{b[i + 1]}" for i in range(len(b) - 1)] + [f">{b[-1]}"]
    idx = np.searchsorted(np.asarray(breaks, dtype=float), day.to_numpy(dtype=float), side="left")
    return pd.Series(np.where(day.isna(), None, np.asarray(labels, dtype=object)[np.minimum(idx, len(labels) - 1)]),
                     index=day.index, dtype=object)


def window_order(breaks: tuple[float, ...]) -> list[str]:
    return list(window_labels(pd.Series([0.0] + [b + 1 for b in breaks]), breaks))


def infection_episodes(study: Any, adae: pd.DataFrame, infusion: pd.Series, plan: Any) -> pd.DataFrame:
    """One row per post-infusion infection of an infused patient (``EPISODE_COLUMNS``)."""
    if study.has("infections"):
        inf = study.tables["infections"]
        inf = inf[inf["patient_id"].isin(infusion.index)]
        day = days_between(inf["onset_date"], lookup(inf["patient_id"], infusion))
        ep = pd.DataFrame({"patient_id": inf["patient_id"], "onset_day": day, "grade": inf["grade"].astype(int),
                           "pathogen_class": inf["pathogen_class"], "site": inf["site"], "serious": inf["serious"],
                           "related": inf["related"], "source": "infections"})
        ep = ep[ep["onset_day"] >= 0]
    else:
        rows = adae[adae["trtemfl"] & (adae["category"] == "infection") & adae["patient_id"].isin(infusion.index)]
        ep = pd.DataFrame({"patient_id": rows["patient_id"], "onset_day": rows["asty"], "grade": rows["grade"].astype(int),
                           "pathogen_class": "unknown", "site": None, "serious": rows["serious"],
                           "related": rows["related"], "source": "adverse_events"})
    ep = ep.assign(window=window_labels(ep["onset_day"], plan.safety.infection_windows))
    return ep.reindex(columns=EPISODE_COLUMNS).sort_values(["patient_id", "onset_day"], kind="stable").reset_index(drop=True)


def infection_patients(ep: pd.DataFrame, pt: pd.DataFrame, plan: Any) -> pd.DataFrame:
    """Per infused patient (``pt`` holds ``death_day`` and ``fu_days``): severe infection, infection death and the
    time/status of the first severe infection (1 = severe infection, 2 = death first, 0 = censored)."""
    severe = ep[ep["grade"] >= plan.safety.severe_infection_grade]
    first = severe.groupby("patient_id")["onset_day"].min().reindex(pt.index)
    out = pd.DataFrame(index=pt.index)
    out["infection_episodes"] = ep.groupby("patient_id").size().reindex(pt.index).fillna(0).astype("Int64")
    out["infection_death"] = pt.index.isin(ep.loc[ep["grade"] == 5, "patient_id"])
    death = pt["death_day"]
    status = np.where(first.notna(), 1, np.where(death.notna(), 2, 0))
    out["sev_inf_time"] = np.where(status == 1, first, np.where(status == 2, death, pt["fu_days"]))
    out["sev_inf_status"] = pd.array(status, dtype="Int64")
    return out
