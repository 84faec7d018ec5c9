"""Daily toxicity observations that grade, through ASTCT 2019, to the target
CRS and ICANS episodes; and adverse events with exact counts by grade.

Construction (Lee et al., BBMT 2019;25:625; ``docs/twins.md``):

* a CRS episode of ``duration`` days from day ``onset``: fever (>= 38.0 C) on
  every day of the episode and not on the days around it, so onset = first
  febrile day and duration = number of CRS days;
* the episode's pattern decides its grade on its peak days (day 2 and 3 of the
  episode): grade 1 fever only; grade 2 fever + hypotension without
  vasopressor and/or low-flow oxygen; grade 3 fever + one vasopressor and/or
  high-flow oxygen;
* tocilizumab on the first peak day, corticosteroids on the second;
* ICANS from a list of daily ICE scores (and a seizure on the first day when
  the pattern says so): grade = worst ICE/seizure domain.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import numpy as np

from cartalysis.twins.allocate import TargetError, ValueTarget, allocate_values, assign_within


MONITORED_DAYS = 28  # daily observations from infusion to day 28 (longer while CRS/ICANS last)


@dataclass
class Episode:
    onset: int
    duration: int
    pattern: dict[str, Any]
    tocilizumab: bool = False
    steroids: bool = False


@dataclass
class Toxicity:
    crs: dict[int, Episode] = field(default_factory=dict)  # by id(patient)
    icans: dict[int, tuple[int, dict[str, Any]]] = field(default_factory=dict)  # onset day, pattern

    def daily(self, rng: np.random.Generator, infused: list[Any]) -> list[dict[str, Any]]:
        rows = []
        for p in infused:
            rows += self._patient_days(rng, p)
        return rows

    def _patient_days(self, rng: np.random.Generator, p: Any) -> list[dict[str, Any]]:
        ep = self.crs.get(id(p))
        ic = self.icans.get(id(p))
        last = MONITORED_DAYS
        if ep:
            last = max(last, ep.onset + ep.duration + 2)
        if ic:
            last = max(last, ic[0] + len(ic[1]["ice"]) + 2)
        last = min(last, int(p.end_day) - 1)
        d0 = p.row["infusion_date"]
        out = []
        for day in range(0, last + 1):
            r = {
                "patient_id": p.pid, "date": d0 + timedelta(days=day),
                "temp_max_c": round(float(rng.uniform(36.3, 37.6)), 1), "hypotension": False, "vasopressors": 0,
                "oxygen": "none", "ice_score": 10, "consciousness": "alert", "seizure": "none",
                "motor_weakness": False, "cerebral_edema": "none", "tocilizumab": False, "steroids": False,
            }
            if ep and ep.onset <= day < ep.onset + ep.duration:
                k = day - ep.onset
                r["temp_max_c"] = round(float(rng.uniform(38.1, 39.9)), 1)
                peak = k in (1, 2) if ep.duration >= 3 else k == 0
                if peak:
                    hyp = ep.pattern.get("hypotension", "none")
                    if hyp == "fluids" or (hyp == "vasopressor" and k == 2):
                        r["hypotension"] = True
                    elif hyp == "vasopressor":
                        r["hypotension"] = True
                        r["vasopressors"] = 1
                    r["oxygen"] = ep.pattern.get("oxygen", "none")
                # drugs on the peak days (the last day of a short episode)
                r["tocilizumab"] = ep.tocilizumab and k == min(1, ep.duration - 1)
                r["steroids"] = ep.steroids and k == min(2, ep.duration - 1)
            if ic and ic[0] <= day < ic[0] + len(ic[1]["ice"]):
                k = day - ic[0]
                r["ice_score"] = int(ic[1]["ice"][k])
                if k == 0 and ic[1].get("seizure"):
                    r["seizure"] = ic[1]["seizure"]
                if r["ice_score"] <= 6:
                    r["consciousness"] = "awakens_to_voice" if r["ice_score"] <= 2 else "awakens_spontaneously"
                # steroids for ICANS only in patients counted as steroid-treated (exact counts)
                r["steroids"] = r["steroids"] or (k <= 1 and "steroids" in p.tags)
            out.append(r)
        return out


def _target(n: int, s: dict[str, Any]) -> ValueTarget:
    return ValueTarget(n=n, median=s["median"], min=s["min"], max=s["max"], step=s.get("step", 1.0))


def build(rng: np.random.Generator, t: dict[str, Any], infused: list[Any]) -> Toxicity:
    """Choose CRS/ICANS patients, patterns, onsets and durations (exact counts)."""
    tox = Toxicity()
    crs = t.get("crs")
    if not crs:
        return tox
    pool = [p for p in infused if _has(p, crs.get("among", "infused"))]
    # Constrained patterns first (grade >= 3, or "avoid" a baseline value), each
    # drawing its patients at random among those still free and allowed.
    patterns = sorted(crs["pattern"], key=lambda pt: -(pt.get("grade", 1) >= 3) - bool(pt.get("avoid")))
    pattern_of: dict[int, dict[str, Any]] = {}
    for pat in patterns:
        elig = [p for p in pool if id(p) not in pattern_of and _allowed(p, pat) and _has(p, pat.get("among", []))]
        if pat["count"] > len(elig):
            raise TargetError(f"CRS pattern {pat}: {pat['count']} patients needed, {len(elig)} eligible")
        for j in sorted(rng.choice(len(elig), size=pat["count"], replace=False)):
            pattern_of[id(elig[j])] = pat
    chosen = [p for p in pool if id(p) in pattern_of]
    chosen_pat = [pattern_of[id(p)] for p in chosen]
    n = len(chosen)
    onsets = allocate_values(rng, _target(n, crs["onset"]))
    durations = allocate_values(rng, _target(n, crs["duration"]))
    ends = [o + d for o, d in zip(onsets, durations)]
    slots = assign_within(rng, ends, [p.end_day - 1 for p in chosen])
    for i, slot in enumerate(slots):
        p = chosen[slot]
        pat = chosen_pat[slot]
        tox.crs[id(p)] = Episode(int(onsets[i]), int(durations[i]), pat)
        p.tags.add("crs")
        p.tags.update(pat.get("tags", []))
    # Tocilizumab/steroid counts inside each pattern.
    for pat in crs["pattern"]:
        members = [p for p in chosen if tox.crs[id(p)].pattern is pat]
        for drug in ("tocilizumab", "steroids"):
            k = pat.get(drug, 0)
            for j in rng.permutation(len(members))[:k]:
                setattr(tox.crs[id(members[j])], drug, True)
                members[j].tags.add(drug)
    for pat in t.get("icans", {}).get("pattern", []):
        # the whole ICANS episode must fall before death or last contact
        room = pat["after_crs_onset"][1] + len(pat["ice"])
        pool = [p for p in chosen if _has(p, pat.get("among", "crs")) and id(p) not in tox.icans and _allowed(p, pat)
                and tox.crs[id(p)].onset + room < p.end_day - 1]
        if pat["count"] > len(pool):
            raise TargetError("more ICANS patients than eligible")
        for j in rng.permutation(len(pool))[: pat["count"]]:
            p = pool[j]
            onset = tox.crs[id(p)].onset + int(rng.integers(pat["after_crs_onset"][0], pat["after_crs_onset"][1] + 1))
            tox.icans[id(p)] = (onset, pat)
            p.tags.add("icans")
    return tox


MILD = "no_severe_ae"  # fate tag: no adverse event of grade >= 3 (e.g. "97.9% had grade >= 3")


def _has(p: Any, among: str | list[str]) -> bool:
    """Does the patient carry the tag (or every tag of a list)?"""
    return all(t in p.tags for t in ([among] if isinstance(among, str) else among))


def _allowed(p: Any, pat: dict[str, Any]) -> bool:
    """May patient ``p`` have this CRS/ICANS pattern? Not if it is grade >= 3 and the
    patient is tagged ``no_severe_ae``, nor if the patient matches the pattern's ``avoid``
    (baseline values, e.g. ``{ emd = "yes" }``)."""
    if pat.get("grade", 1) >= 3 and MILD in p.tags:
        return False
    avoid = pat.get("avoid", {})
    return not (avoid and all(_level(p.row.get(k)) == str(v) for k, v in avoid.items()))


def _level(v: Any) -> str:
    return ("yes" if v else "no") if isinstance(v, bool) else str(v)


def _grade_split(rng: np.random.Generator, spec_: dict[str, Any], n_g5: int) -> list[int]:
    g34, g4 = spec_.get("g34", 0), spec_.get("g4", 0)
    n12 = spec_["all"] - g34 - n_g5
    if n12 < 0 or g4 > g34:
        raise TargetError(f"AE {spec_['term']}: grade counts do not add up")
    g1 = spec_.get("g1", (n12 + 1) // 2)
    grades = [1] * g1 + [2] * (n12 - g1) + [3] * (g34 - g4) + [4] * g4
    rng.shuffle(grades)
    return grades


def adverse_events(rng: np.random.Generator, t: dict[str, Any], infused: list[Any], tox: Toxicity) -> list[dict[str, Any]]:
    """One row per patient and term at the worst grade, exact counts per grade.

    Grade 5 rows belong to the patients whose fate lists the term in ``grade5``
    (their death); the others are drawn among the infused patients (or those
    with the ``among`` tag) who are followed beyond the onset window.
    """
    rows = []
    for a in t.get("ae", []):
        g5 = [p for p in infused if a["term"] in (p.fate or {}).get("grade5", [])]
        if len(g5) != a.get("g5", 0):
            raise TargetError(f"AE {a['term']}: {len(g5)} fates die of it but g5 = {a.get('g5', 0)}")
        grades = _grade_split(rng, a, len(g5))
        pool = [p for p in infused if p not in g5 and _has(p, a.get("among", "infused"))]
        if len(grades) > len(pool):
            raise TargetError(f"AE {a['term']}: {len(grades)} patients needed, {len(pool)} eligible")
        n = len(grades)
        onsets = _draws(rng, a["onset"], n)
        durations = _draws(rng, a["duration"], n)  # inclusive: end = onset + duration - 1
        ends = [int(onsets[i]) + int(durations[i]) - 1 for i in range(n)]
        # Severe grades first, among patients who may have them; then the others. Each
        # event must end before the patient's death or last contact.
        severe = [i for i in range(n) if grades[i] >= 3]
        mild = [i for i in range(n) if grades[i] < 3]
        pool_s = [p for p in pool if MILD not in p.tags]
        slots_s = assign_within(rng, [ends[i] for i in severe], [p.end_day - 1 for p in pool_s])
        taken = {id(pool_s[k]) for k in slots_s}
        pool_m = [p for p in pool if id(p) not in taken]
        slots_m = assign_within(rng, [ends[i] for i in mild], [p.end_day - 1 for p in pool_m])
        placed = [(i, pool_s[k]) for i, k in zip(severe, slots_s)] + [(i, pool_m[k]) for i, k in zip(mild, slots_m)]
        for i, p in placed:
            rows.append(_ae_row(a, p, int(onsets[i]), ends[i], grades[i]))
        for p in g5:
            end = int(p.end_day)
            onset = max(1, end - int(rng.integers(1, 8)))
            rows.append(_ae_row(a, p, onset, end, 5))
    return rows


def _draws(rng: np.random.Generator, s: Any, n: int) -> np.ndarray:
    if isinstance(s, dict):
        return allocate_values(rng, _target(n, s))
    return rng.integers(int(s[0]), int(s[1]) + 1, size=n).astype(float)


def _ae_row(a: dict[str, Any], p: Any, onset: int, end: int | None, grade: int) -> dict[str, Any]:
    d0 = p.row["infusion_date"]
    return {
        "patient_id": p.pid, "term": a["term"], "soc": a.get("soc"),
        "onset_date": d0 + timedelta(days=onset), "end_date": None if end is None else d0 + timedelta(days=end),
        "grade": grade, "serious": grade >= 3, "related": a.get("related", True),
    }
