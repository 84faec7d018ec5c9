"""Cellular-kinetics samples and cytokine labs for the twins.

Transgene levels follow the multiphasic model of Stein et al., CPT
Pharmacometrics Syst Pharmacol 2019;8:285 (``shared/domain.md`` §5):

* expansion, t < Tmax: C(t) = (Cmax / foldx) * exp(rho t), rho = ln(foldx) / Tmax;
* contraction, t >= Tmax: C(t) = Cmax [(1 - FB) exp(-alpha (t - Tmax)) + FB exp(-beta (t - Tmax))].

Each patient's Cmax, Tmax (a sampling day) and persistence P (the last
quantifiable day) are allocated with exact medians and ranges; alpha and beta
are then solved so that each phase contributes half of ``3 x LLOQ`` at P, and
samples after P are written as not detected (0) — loss of the transgene.
No residual error is added: Cmax, Tmax and Tlast must stay exact.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from cartalysis.twins.allocate import TargetError, ValueTarget, allocate_values, assign_within


def _target(n: int, s: dict[str, Any]) -> ValueTarget:
    return ValueTarget(n=n, median=s["median"], min=s["min"], max=s["max"], step=s.get("step", 1.0),
                       bands=tuple(tuple(b) for b in s.get("bands", ())))


def stein_profile(days: np.ndarray, cmax: float, tmax: float, persistence: float, lloq: float,
                  foldx: float, fb: float) -> np.ndarray:
    """Stein 2019 model through (Tmax, Cmax) and (P, 3 x LLOQ)."""
    c_p = 3.0 * lloq
    fb = max(fb, c_p / cmax)
    tau = persistence - tmax
    alpha = math.log(2 * (1 - fb) * cmax / c_p) / tau
    beta = math.log(2 * fb * cmax / c_p) / tau
    rho = math.log(foldx) / tmax
    t = np.asarray(days, float)
    up = cmax / foldx * np.exp(rho * np.minimum(t, tmax))
    s = np.clip(t - tmax, 0, None)
    down = cmax * ((1 - fb) * np.exp(-alpha * s) + fb * np.exp(-beta * s))
    return np.where(t < tmax, up, down)


def build(rng: np.random.Generator, t: dict[str, Any], infused: list[Any], tox: Any) -> list[dict[str, Any]]:
    """qPCR samples of every infused patient (exact Cmax, Tmax and persistence medians and ranges).

    With ``cmax_follows_toxicity`` the allocated Cmax values (same multiset) are handed out in the
    order of a noisy toxicity score (CRS grade + 1 with ICANS + uniform(0, 6)): expansion is
    "numerically higher with CRS or ICANS", as the pivotal paper reports.
    """
    k = t.get("pk")
    if not k:
        return []
    n = len(infused)
    schedule = [float(d) for d in k["schedule"]]
    pers = allocate_values(rng, _target(n, k["persistence"]))
    try:
        slots = assign_within(rng, list(pers), [p.end_day for p in infused])
        p_of = {slots[i]: float(pers[i]) for i in range(n)}
    except TargetError:
        if not k.get("cap_at_followup"):
            raise
        # Real-world follow-up can be shorter than persistence: cap it (exact medians then lost).
        order = rng.permutation(n)
        p_of = {int(order[i]): min(float(pers[i]), infused[int(order[i])].end_day - 1) for i in range(n)}
    # Tmax on the sampling grid: allocate indices into the schedule.
    tm = k["tmax"]
    idx = {d: i for i, d in enumerate(schedule)}
    try:
        t_idx = allocate_values(rng, ValueTarget(n, idx[float(tm["median"])], idx[float(tm["min"])], idx[float(tm["max"])]))
    except KeyError as e:
        raise TargetError(f"Tmax target {e} is not a sampling day") from None
    tmax_days = [schedule[int(i)] for i in t_idx]
    t_slots = assign_within(rng, tmax_days, [p_of[j] - 1 for j in range(n)])
    tmax_of = {t_slots[i]: tmax_days[i] for i in range(n)}
    cmax = allocate_values(rng, _target(n, k["cmax"]))
    if k.get("cmax_follows_toxicity"):
        score = [(tox.crs[id(p)].pattern.get("grade", 1) if id(p) in tox.crs else 0) + (id(p) in tox.icans)
                 + float(rng.uniform(0, 6)) for p in infused]
        cmax = np.sort(cmax)[np.argsort(np.argsort(score))]
    rows = []
    for j, p in enumerate(infused):
        P, T, C = p_of[j], tmax_of[j], float(cmax[j])
        days = [d for d in schedule if d < P and d < p.end_day] + [P]
        later = [d for d in schedule if P < d <= p.end_day]
        days += later[:1]  # one sample shows the loss of the transgene
        vals = stein_profile(np.array(days), C, T, P, k["lloq"], k["foldx"], k["fb"])
        for d, v in zip(days, vals):
            if d > P:
                v = 0.0
            elif d == T:
                v = C
            rows.append({"patient_id": p.pid, "day": d, "matrix": "blood", "value": round(float(v), 1),
                         "unit": "copies/ug gDNA", "lloq": k["lloq"]})
    csf = k.get("csf")
    if csf:  # CAR-T detected in the cerebrospinal fluid of some patients
        pool = [p for p in infused if all(str(p.row.get(c)) == str(v) for c, v in csf.get("where", {}).items())]
        for j in sorted(rng.choice(len(pool), size=csf["count"], replace=False)):
            p = pool[j]
            rows.append({"patient_id": p.pid, "day": float(csf["day"]), "matrix": "csf",
                         "value": round(float(rng.uniform(2, 20)) * k["lloq"], 1), "unit": "copies/ug gDNA", "lloq": k["lloq"]})
    return rows


def labs(rng: np.random.Generator, t: dict[str, Any], infused: list[Any], tox: Any) -> list[dict[str, Any]]:
    """Cytokines and inflammation markers: a peak a day after CRS onset (or a small
    bump on day 4 without CRS), back to baseline by day 28."""
    spec_ = t.get("labs")
    if not spec_:
        return []
    rows = []
    for p in infused:
        ep = tox.crs.get(id(p))
        peak_day = ep.onset + 1 if ep else 4
        for test, (base, unit, fold_crs, fold_none) in spec_["tests"].items():
            fold = fold_crs * (1 + 0.5 * ep.pattern.get("grade", 1)) if ep else fold_none
            b = base * float(rng.uniform(0.7, 1.4))
            for d in spec_["days"]:
                if d >= p.end_day:
                    break
                width = 4.0
                v = b * (1 + (fold - 1) * math.exp(-((d - peak_day) ** 2) / (2 * width**2))) if d > 0 else b
                rows.append({"patient_id": p.pid, "day": float(d), "test": test, "value": round(v, 2), "unit": unit})
    return rows
