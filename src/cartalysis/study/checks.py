"""Checks across rows and tables: keys, patient references and impossible sequences.

These run on the typed tables after every cell was parsed. A cell that failed
to parse is missing in the typed frame; checks that depend on it are skipped
for that row (the cell's own problem is already reported), so one typo gives
one message, not a cascade.

Rules (each documented in ``docs/data-model.md``, "Validation checks"):

- keys: no two rows share the table's key (``spec.Table.key``);
- references: every ``patient_id`` outside ``subjects`` is in ``subjects``;
- milestones in ``subjects`` follow screening <= apheresis <= lymphodepletion
  start <= lymphodepletion end <= infusion, and apheresis <= release <=
  infusion;
- enrollment: only enrolled patients are infused; ``discontinuation_stage``
  is for patients not infused and must agree with ``enrolled``,
  ``release_date`` and ``ld_start_date``;
- events: ``detail`` of hsct/new_therapy/relapse from its list; at most one
  death; no event before infusion (infused patients) or before screening;
- nothing after death: assessments, events, adverse events, daily toxicity,
  PK and lab samples dated after the death date;
- adverse events and infections end on or after onset, medication courses on or after their start;
- PK and lab days are relative to infusion, so the patient must be infused;
- lab tests with a fixed unit (``spec.LAB_UNITS``: anc, platelets, cd19, igg) are given in that unit.

Each check finds the offending rows with whole-column operations (masks,
``reindex`` on the patient id, ``groupby``) and builds messages for those
rows only, so the cost grows with the table, not with Python per row.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import numpy as np
import pandas as pd

from cartalysis.study import plausibility
from cartalysis.study.errors import Problem
from cartalysis.study.parse import TypedTable
from cartalysis.study.spec import EVENT_DETAILS, LAB_UNITS, TABLES_BY_NAME

MILESTONES = ("screening_date", "apheresis_date", "ld_start_date", "ld_end_date", "infusion_date")


def check_study(tables: dict[str, TypedTable], data_cutoff: str | None = None,
                today: dt.date | None = None) -> list[Problem]:
    """Every cross-row and cross-table problem of a study whose cells are already typed.

    ``data_cutoff`` (ISO date, the plan's ``study.data_cutoff``): no date may be later; ``today`` (default: the
    clock): no date may be later either (``plausibility.py``)."""
    problems: list[Problem] = []
    for t in tables.values():
        problems += check_keys(t)
        problems += plausibility.check_dates(t, data_cutoff, today or dt.date.today())
        problems += plausibility.check_control_characters(t)
    subjects = tables.get("subjects")
    if subjects is None or "patient_id" not in subjects.present:
        return problems
    if len(subjects.frame) == 0:
        # Every reference would be unknown; one message says it all.
        return problems + [Problem(subjects.file, None, None, "no patients: the table has a header but no rows")]
    problems += check_milestones(subjects)
    problems += check_enrollment(subjects)
    known = known_subjects(subjects)
    others = [t for name, t in tables.items() if name != "subjects" and "patient_id" in t.present]
    for t in others:
        problems += check_references(t, known)
    events = tables.get("events")
    deaths = _no_deaths()
    if events is not None and "patient_id" in events.present:
        problems += check_event_details(events)
        problems += check_events_timing(events, known, subjects.file)
        death_problems, deaths = find_deaths(events)
        problems += death_problems
        for name in ("adverse_events", "infections"):
            if name in tables and {"event", "date"} <= events.present:  # else deaths are unknown, not absent
                problems += plausibility.check_fatal_events(tables[name], deaths, events.file)
    after_death = []
    for t in others:
        if t.name in ("pk", "labs"):
            after_death += check_samples_after_death(t, deaths, known)
        else:
            after_death += check_dated_after_death(t, deaths)
    problems += one_line_per_death(after_death, deaths)
    for name, (start, end) in _SPANS.items():
        if name in tables:
            problems += check_end_dates(tables[name], start, end)
    for name in ("pk", "labs"):
        if name in tables and "patient_id" in tables[name].present:
            problems += check_days_need_infusion(tables[name], known)
    if "labs" in tables:
        problems += check_lab_units(tables["labs"])
    return problems


def _col(t: TypedTable, column: str) -> pd.Series:
    """A column of the typed frame; all missing when the frame lacks it."""
    if column not in t.frame:
        return pd.Series(np.nan, index=t.frame.index, dtype=object)
    return t.frame[column]


def _true(mask: pd.Series | np.ndarray) -> np.ndarray:
    """A mask as a plain bool array, missing (NA) counted as False."""
    return np.asarray(pd.Series(mask).fillna(False), dtype=bool)


def _rows(t: TypedTable, mask: np.ndarray, *columns: str) -> Iterator[tuple[int, int, list]]:
    """``(position, spreadsheet_row, values)`` of the rows in ``mask``, every kind of missing as ``None``."""
    where = np.flatnonzero(mask)
    cols = [[None if pd.isna(v) else v for v in _col(t, c).iloc[where].tolist()] for c in columns]
    for k, i in enumerate(where):
        yield int(i), int(t.rows[i]), [c[k] for c in cols]


def _d(ts: pd.Timestamp) -> str:
    return ts.strftime("%Y-%m-%d")


def check_keys(t: TypedTable) -> list[Problem]:
    """Rows sharing the table key (key columns not in the file are left out of the key)."""
    key = [c for c in TABLES_BY_NAME[t.name].key if c in t.present]
    if "patient_id" not in key:
        return []
    eligible = t.frame["patient_id"].notna().to_numpy()
    for c in key:
        eligible = eligible & ~t.invalid[c]  # not in place: to_numpy() may be a read-only view (copy-on-write)
    where = np.flatnonzero(eligible)
    # groupby keeps missing values as a group of their own: two rows both without an assessor share a key
    group = t.frame[key].iloc[where].groupby(key, dropna=False, sort=False).ngroup().to_numpy()
    first = where[np.unique(group, return_index=True)[1]]  # ngroup numbers groups 0, 1, ...: first position of each
    dup = np.flatnonzero(first[group] != where)
    same = ", ".join(key)
    return [Problem(t.file, int(t.rows[where[k]]), key[0], f"duplicate of row {t.rows[first[group[k]]]} (same {same})")
            for k in dup]


def known_subjects(subjects: TypedTable) -> pd.DataFrame:
    """What other tables need to know about each patient, from the first ``subjects`` row with its id.

    Indexed by ``patient_id``: ``row`` (spreadsheet row), ``screening``, ``infusion`` and
    ``infusion_known`` (False when infusion_date is absent or failed to parse: skip checks that need it).
    """
    f = subjects.frame
    has_infusion = "infusion_date" in subjects.present
    known = pd.DataFrame({
        "patient_id": f["patient_id"],
        "row": subjects.rows,
        "screening": f["screening_date"],
        "infusion": f["infusion_date"],
        "infusion_known": has_infusion & ~subjects.invalid.get("infusion_date", np.zeros(len(f), dtype=bool)),
    })
    known = known[known["patient_id"].notna()].drop_duplicates("patient_id", keep="first")
    return known.set_index("patient_id")


def _of_patient(frame: pd.DataFrame, t: TypedTable) -> pd.DataFrame:
    """The rows of a per-patient frame for each row of ``t`` (all missing for an unknown patient)."""
    return frame.reindex(t.frame["patient_id"].to_numpy())


def check_references(t: TypedTable, known: pd.DataFrame) -> list[Problem]:
    ids = t.frame["patient_id"]
    unknown = ids.notna().to_numpy() & ~ids.isin(known.index).to_numpy()
    return [Problem(t.file, row, "patient_id", f"patient {pid!r} is not in subjects") for _, row, (pid,) in
            _rows(t, unknown, "patient_id")]


_MILESTONE_CHECKS = [(m, MILESTONES[:k], ()) for k, m in enumerate(MILESTONES)] + [
    ("release_date", ("screening_date", "apheresis_date"), ("infusion_date",))
]


def check_milestones(subjects: TypedTable) -> list[Problem]:
    """Each milestone on or after every earlier one given; the release between apheresis and infusion.

    A date that breaks the order is reported once, naming every earlier
    milestone it precedes, so the user sees which date is the odd one out.
    """
    f = subjects.frame
    flagged = np.zeros(len(f), dtype=bool)
    for name, earlier, later in _MILESTONE_CHECKS:
        for e in earlier:
            flagged |= _true(f[name] < f[e])  # NaT compares False: a missing date breaks no order
        for e in later:
            flagged |= _true(f[name] > f[e])
    problems = []
    cols = MILESTONES + ("release_date",)
    for _, row, values in _rows(subjects, flagged, *cols):
        v = dict(zip(cols, values))
        for name, earlier, later in _MILESTONE_CHECKS:
            if v[name] is None:
                continue
            before = [f"{e} {_d(v[e])}" for e in earlier if v[e] is not None and v[name] < v[e]]
            after = [f"{e} {_d(v[e])}" for e in later if v[e] is not None and v[name] > v[e]]
            if before:
                problems.append(Problem(subjects.file, row, name, f"{name} {_d(v[name])} is before {_and(before)}"))
            if after:
                problems.append(Problem(subjects.file, row, name, f"{name} {_d(v[name])} is after {_and(after)}"))
    return problems


def _and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def check_enrollment(subjects: TypedTable) -> list[Problem]:
    """Only enrolled patients are infused; the discontinuation stage agrees with the milestones."""
    f = subjects.frame
    flagged = _true(f["enrolled"] == False) & f["infusion_date"].notna().to_numpy()  # noqa: E712 - elementwise
    flagged |= f["discontinuation_stage"].notna().to_numpy()
    problems = []
    cols = ("enrolled", "infusion_date", "discontinuation_stage", "release_date", "ld_start_date")
    for _, row, (enrolled, infusion, stage, release, ld_start) in _rows(subjects, flagged, *cols):
        if enrolled is False and infusion is not None:
            problems.append(Problem(subjects.file, row, "enrolled", "patient is not enrolled but has an infusion_date"))
        if stage is None:
            continue
        message = None
        if infusion is not None:
            message = f"patient was infused on {_d(infusion)}; discontinuation_stage is only for patients not infused"
        elif stage == "screening" and enrolled is True:
            message = "'screening' means the patient was not enrolled, but enrolled = yes"
        elif stage != "screening" and enrolled is False:
            message = f"{stage!r} is for enrolled patients, but enrolled = no"
        elif stage == "before_manufacture" and release is not None:
            message = f"'before_manufacture' but the product was released on {_d(release)}"
        elif stage == "before_lymphodepletion" and ld_start is not None:
            message = f"'before_lymphodepletion' but lymphodepletion started on {_d(ld_start)}"
        if message:
            problems.append(Problem(subjects.file, row, "discontinuation_stage", message))
    return problems


def check_event_details(events: TypedTable) -> list[Problem]:
    event, detail = _col(events, "event"), _col(events, "detail")
    flagged = np.zeros(len(events.frame), dtype=bool)
    for name, allowed in EVENT_DETAILS.items():
        flagged |= _true((event == name) & detail.notna() & ~detail.isin(allowed))
    problems = []
    for _, row, (event, detail) in _rows(events, flagged, "event", "detail"):
        allowed = EVENT_DETAILS[event]
        near = [a for a in allowed if a.lower() == detail.lower()]
        hint = f" (did you mean {near[0]!r}? spelling is exact)" if near else ""
        problems.append(
            Problem(events.file, row, "detail", f"{detail!r} is not a {event} detail; allowed: {', '.join(allowed)}{hint}")
        )
    return problems


def check_events_timing(events: TypedTable, known: pd.DataFrame, subjects_file: str) -> list[Problem]:
    """Events follow infusion for infused patients, and screening for everyone."""
    s = _of_patient(known, events)
    date = events.frame["date"].to_numpy()
    infusion, screening = s["infusion"].to_numpy(), s["screening"].to_numpy()
    before_infusion = _true(s["infusion_known"] == True) & (date < infusion)  # noqa: E712 - NaT compares False
    before_screening = _true(s["infusion_known"] == True) & np.isnat(infusion) & (date < screening)  # noqa: E712
    problems = []
    for i, row, (date, event) in _rows(events, before_infusion | before_screening, "date", "event"):
        what, first = event or "event", int(s["row"].iat[i])
        if before_infusion[i]:
            when = f"the infusion on {_d(s['infusion'].iat[i])}"
        else:
            when = f"screening on {_d(s['screening'].iat[i])}"
        problems.append(
            Problem(events.file, row, "date", f"{what} on {_d(date)} is before {when} ({subjects_file} row {first})")
        )
    return problems


def _no_deaths() -> pd.DataFrame:
    return pd.DataFrame({"file": pd.Series(dtype=object), "row": pd.Series(dtype=np.int64),
                         "date": pd.Series(dtype="datetime64[ns]")}, index=pd.Index([], dtype=object))


def find_deaths(events: TypedTable) -> tuple[list[Problem], pd.DataFrame]:
    """Each patient's death (first death row with a date) and a problem for every later death row.

    The deaths are indexed by ``patient_id`` with ``file``, ``row`` and ``date``.
    """
    f = events.frame
    is_death = _true(f["event"] == "death") & f["patient_id"].notna().to_numpy()
    dated = is_death & f["date"].notna().to_numpy()
    first = pd.DataFrame({"patient_id": f["patient_id"].to_numpy()[dated], "pos": np.flatnonzero(dated)})
    first = first.drop_duplicates("patient_id", keep="first").set_index("patient_id")["pos"]
    deaths = pd.DataFrame({"file": events.file, "row": events.rows[first.to_numpy()],
                           "date": f["date"].to_numpy()[first.to_numpy()]}, index=first.index)
    first_pos = first.reindex(f["patient_id"].to_numpy()).to_numpy()
    later = is_death & (np.arange(len(f)) > np.nan_to_num(first_pos, nan=np.inf))
    problems = [
        Problem(events.file, row, "event", f"second death for patient {pid!r} (first at row {deaths.at[pid, 'row']})")
        for _, row, (pid,) in _rows(events, later, "patient_id")
    ]
    return problems, deaths


_DATED = {
    "assessments": (("date", "assessment"),),
    "events": (("date", None),),
    "adverse_events": (("onset_date", "adverse event onset"), ("end_date", "adverse event end")),
    "toxicity_daily": (("date", "toxicity observation"),),
    "infections": (("onset_date", "infection onset"), ("end_date", "infection end")),
    "concomitant_meds": (("start_date", "medication"), ("end_date", "medication course end")),
}

_SPANS = {"adverse_events": ("onset_date", "end_date"), "infections": ("onset_date", "end_date"),
          "concomitant_meds": ("start_date", "end_date")}


def one_line_per_death(found: list[tuple[str, Problem]], deaths: pd.DataFrame) -> list[Problem]:
    """Records after death, one root cause → one line: a patient with a single later record gets that record's
    problem; a patient with several gets one line at the death row, with the count per table (the death date is
    then the likelier mistake)."""
    by_patient: dict[str, list[Problem]] = {}
    for pid, p in found:
        by_patient.setdefault(pid, []).append(p)
    out = []
    for pid, ps in by_patient.items():
        if len(ps) == 1:
            out += ps
            continue
        counts: dict[str, int] = {}
        for p in ps:
            counts[p.file] = counts.get(p.file, 0) + 1
        per_table = ", ".join(f"{f.removesuffix('.csv')} {n}" for f, n in sorted(counts.items()))
        first = min(ps, key=lambda p: (p.file, p.row or 0))
        death = deaths.loc[pid]
        out.append(Problem(death["file"], int(death["row"]), "date",
                           f"patient {pid}: death date {_d(death['date'])} precedes {len(ps)} later records "
                           f"({per_table}); first: {first.file} row {first.row}"))
    return out


def check_dated_after_death(t: TypedTable, deaths: pd.DataFrame) -> list[tuple[str, Problem]]:
    """Nothing is observed after a patient's death (the death day itself is allowed); (patient, problem) pairs."""
    problems = []
    death = _of_patient(deaths, t)
    for column, what in _DATED.get(t.name, ()):
        flagged = _true(t.frame[column] > death["date"].to_numpy())
        if t.name == "events":
            flagged = flagged & ~_true(_col(t, "event") == "death")
        for i, row, (date, event, pid) in _rows(t, flagged, column, "event", "patient_id"):
            problems.append((pid,
                Problem(
                    t.file,
                    row,
                    column,
                    f"{what or event or 'event'} on {_d(date)} is after death on {_d(death['date'].iat[i])}"
                    f" ({death['file'].iat[i]} row {int(death['row'].iat[i])})",
                ))
            )
    return problems


def check_samples_after_death(t: TypedTable, deaths: pd.DataFrame, known: pd.DataFrame) -> list[tuple[str, Problem]]:
    """PK and lab samples (``day`` counted from infusion) are not taken after death; (patient, problem) pairs."""
    death, s = _of_patient(deaths, t), _of_patient(known, t)
    # (death - infusion) in whole days; dates are whole days, so this is the Timedelta's .days
    span = death["date"].to_numpy() - s["infusion"].to_numpy()
    day = t.frame["day"].to_numpy(dtype=np.float64)
    valid = ~np.isnat(span) & ~np.isnan(day)
    death_day = np.where(valid, span, np.timedelta64(0, "D")) // np.timedelta64(1, "D")
    flagged = valid & (np.floor(np.where(valid, day, 0)) > death_day)
    return [
        (pid, Problem(
            t.file,
            row,
            "day",
            f"day {day:g} is after death on {_d(death['date'].iat[i])}, day {int(death_day[i])}"
            f" ({death['file'].iat[i]} row {int(death['row'].iat[i])})",
        ))
        for i, row, (day, pid) in _rows(t, flagged, "day", "patient_id")
    ]


def check_end_dates(t: TypedTable, start: str, end: str) -> list[Problem]:
    """An adverse event, infection or medication course ends on or after it starts."""
    f = t.frame
    return [
        Problem(t.file, row, end, f"{end} {_d(e)} is before {start} {_d(s)}")
        for _, row, (s, e) in _rows(t, _true(f[end] < f[start]), start, end)
    ]


def check_lab_units(labs: TypedTable) -> list[Problem]:
    """Tests compared with fixed cut-offs must be in their unit (an empty unit means that unit)."""
    f = labs.frame
    test = _col(labs, "test").astype(object).where(_col(labs, "test").notna(), "").astype(str).str.strip().str.lower()
    unit = _col(labs, "unit").astype(object).where(_col(labs, "unit").notna(), "").astype(str).str.strip()
    problems = []
    for code, units in LAB_UNITS.items():
        bad = (test == code).to_numpy() & ~unit.isin(("",) + units).to_numpy()
        for _, row, (u,) in _rows(labs, bad, "unit"):
            problems.append(Problem(labs.file, row, "unit", f"{code} is given in {units[0]}, not {u!r}; convert the value"))
        negative = (test == code).to_numpy() & _true(f["value"] < 0)
        for _, row, (v,) in _rows(labs, negative, "value"):
            problems.append(Problem(labs.file, row, "value", f"{code} {v:g} is negative"))
    return problems


def check_days_need_infusion(t: TypedTable, known: pd.DataFrame) -> list[Problem]:
    """``day`` counts from infusion, so a sample needs an infused patient."""
    s = _of_patient(known, t)
    flagged = _true(s["infusion_known"] == True) & s["infusion"].isna().to_numpy()  # noqa: E712 - elementwise
    flagged &= t.frame["day"].notna().to_numpy()
    return [
        Problem(t.file, row, "day", "day is counted from infusion, but this patient has no infusion_date")
        for _, row, _ in _rows(t, flagged)
    ]
