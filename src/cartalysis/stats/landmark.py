"""Immortal-time-safe comparisons of a group that patients enter after time zero (e.g. transplant, maintenance):
the landmark analysis, Simon–Makuch curves and the Mantel–Byar test.

Comparing "ever switched" against "never switched" from time zero credits the switched group with the time its
patients had to survive to switch (immortal-time bias; Anderson, Cain & Gelber 1983, J Clin Oncol 1:710). The
landmark method fixes the groups at a landmark time among those still event-free then; Simon–Makuch and
Mantel–Byar let patients move between groups at the switch time (Simon & Makuch 1984, Stat Med 3:35; Mantel &
Byar 1974, JASA 69:81). Only generic inputs (times, 0/1 events, switch times); built on kaplan_meier, logrank, cox.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from cartalysis.stats._common import StatsInputError, as_event, as_labels, as_time, numeric, sorted_levels
from cartalysis.stats.compare import LogRank, logrank
from cartalysis.stats.cox import CoxResult, cox
from cartalysis.stats.survival import KaplanMeier, kaplan_meier

SWITCHED, NOT_SWITCHED = "switched", "not switched"


@dataclass(frozen=True, eq=False)
class Landmark:
    """Landmark analysis at ``at``. ``cohort`` (one row per included subject, in input order) has ``row`` (the
    input position), ``time`` (from the landmark), ``event`` and ``group`` ("switched" by the landmark or "not
    switched"); ``excluded`` subjects had the event or were censored by the landmark. ``km``/``logrank``/``cox``
    are None when the cohort lacks one of the groups or has no event (said in ``note``)."""

    at: float
    n: int
    excluded: int
    cohort: pd.DataFrame
    km: dict[str, KaplanMeier]
    logrank: LogRank | None
    cox: CoxResult | None
    note: str | None
    method: str


def _switch_times(switch, n: int) -> np.ndarray:
    sw = numeric(switch)
    if sw.size != n:
        raise StatsInputError(f"switch: length {sw.size} differs from time length {n}")
    bad = np.isinf(sw) | (sw < 0)
    if bad.any():
        raise StatsInputError(f"switch: negative or infinite time at position {int(np.flatnonzero(bad)[0])}")
    return sw  # NaN = never switched


def landmark(time, event, switch, at: float, conf_type: str = "log-log", conf_level: float = 0.95,
             ties: str = "efron") -> Landmark:
    """Landmark analysis (Anderson, Cain & Gelber 1983): subjects event-free and still followed after ``at``
    (time > at), grouped by whether they switched (switch ≤ at) by then, time counted from ``at``; Kaplan–Meier
    per group, log-rank, and Cox with the switched group against the not-switched one. Switches after the
    landmark are ignored (the subject stays in the group of the landmark: the intention-to-treat view of it)."""
    t = as_time(time)
    e = as_event(event, t.size)
    sw = _switch_times(switch, t.size)
    if not (np.isfinite(at) and at >= 0):
        raise StatsInputError(f"landmark time must be a non-negative number, got {at}")
    keep = t > at
    grp = np.where(sw[keep] <= at, SWITCHED, NOT_SWITCHED)  # NaN (never) compares False
    cohort = pd.DataFrame({"row": np.flatnonzero(keep), "time": t[keep] - at, "event": e[keep], "group": grp})
    method = (f"landmark analysis at {at:g}: subjects event-free and followed beyond {at:g}, grouped by a switch "
              f"on or before {at:g}, time from the landmark")
    km = {g: kaplan_meier(cohort.time[cohort.group == g], cohort.event[cohort.group == g], conf_type, conf_level)
          for g in (NOT_SWITCHED, SWITCHED) if (cohort.group == g).any()}
    note, lr, cx = None, None, None
    if len(km) < 2:
        note = f"no comparison: every subject in the landmark cohort is {'switched' if SWITCHED in km else 'not switched'}" \
            if km else "no subject is event-free and followed beyond the landmark"
    elif cohort.event.sum() == 0:
        note = "no comparison: no event after the landmark"
    else:
        lr = logrank(cohort.time, cohort.event, cohort.group)
        cx = cox(cohort, "time", "event", ["group"], categorical={"group": NOT_SWITCHED}, ties=ties,
                 conf_level=conf_level)
    return Landmark(float(at), int(keep.sum()), int((~keep).sum()), cohort, km, lr, cx, note, method)


def switch_rows(time, event, switch) -> pd.DataFrame:
    """Counting-process rows of a group entered at the switch time: (0, switch] not switched, (switch, time]
    switched; one row (0, time] when never switched or switched at/after the time; switched from the start when
    switch ≤ 0. Columns ``row`` (input position), ``start``, ``stop``, ``event`` (only on the last row), ``group``."""
    t = as_time(time)
    e = as_event(event, t.size)
    sw = _switch_times(switch, t.size)
    idx = np.arange(t.size)
    mid = np.isfinite(sw) & (sw > 0) & (sw < t)
    first = np.isfinite(sw) & (sw <= 0)
    pre = pd.DataFrame({"row": idx, "start": 0.0, "stop": np.where(mid, sw, t), "event": np.where(mid, 0, e),
                        "group": np.where(first, SWITCHED, NOT_SWITCHED)})
    post = pd.DataFrame({"row": idx[mid], "start": sw[mid], "stop": t[mid], "event": e[mid], "group": SWITCHED})
    return pd.concat([pre, post]).sort_values(["row", "start"], kind="stable").reset_index(drop=True)


def split_at_switches(data: pd.DataFrame, time: str, event: str, switches: Mapping[str, str],
                      first_start: float = 0.0) -> pd.DataFrame:
    """Counting-process rows for 0/1 covariates that switch on at a time: ``switches`` maps each covariate to
    the column of its switch time (missing = never). Each row of ``data`` is cut at its switch times inside
    (0, time); on every interval the covariate is 1 from its switch on (a switch ≤ 0: 1 from the start), and ``event`` stays on the last interval only. Returns ``data``'s columns with ``start`` and
    ``stop`` added (``time`` kept) and ``row`` = input position. ``first_start`` < 0 keeps subjects with time 0
    (e.g. an event on day 0) in the risk set at 0, as in the right-censored model."""
    t = as_time(data[time], time)
    rows = data.reset_index(drop=True).assign(row=np.arange(len(data)), start=float(first_start), stop=t)
    sw = {}
    for cov, col in switches.items():
        sw[cov] = col
        s = numeric(rows[col])
        cut = np.isfinite(s) & (s > 0) & (s > rows["start"].to_numpy()) & (s < rows["stop"].to_numpy())
        before = rows[cut].assign(stop=s[cut], **{event: 0})
        after = rows[cut].assign(start=s[cut])
        rows = pd.concat([rows[~cut], before, after], ignore_index=True)
    for cov, col in sw.items():
        s = numeric(rows[col])
        rows[cov] = (np.isfinite(s) & ((s <= 0) | (rows["start"].to_numpy() >= s))).astype(float)
    return rows.sort_values(["row", "start"], kind="stable").reset_index(drop=True)


def simon_makuch(start, stop, event, group, conf_type: str = "log-log", conf_level: float = 0.95) -> dict[str, KaplanMeier]:
    """Simon–Makuch estimate: Kaplan–Meier per group from counting-process rows, a subject counting in the risk
    set of the group it is in at each time (Simon & Makuch 1984; R ``survfit(Surv(start, stop, event) ~ group)``).
    Keys in R's level order."""
    t1 = as_time(stop, "stop")
    t0, e = numeric(start), as_event(event, t1.size)
    g = as_labels(group, t1.size, "group")
    return {lv: kaplan_meier(t1[g == lv], e[g == lv], conf_type, conf_level, entry=t0[g == lv])
            for lv in sorted_levels(g)}


def mantel_byar(start, stop, event, group) -> LogRank:
    """Mantel–Byar test: the log-rank test with each subject counted, at each event time, in the group it is in
    then (counting-process rows); R has no function for it, the reference is its definition (Mantel & Byar 1974)."""
    res = logrank(stop, event, group, entry=start)
    return LogRank(res.chisq, res.df, res.p_value, res.groups,
                   "Mantel–Byar test (log-rank with time-dependent group membership; n counts rows)")
