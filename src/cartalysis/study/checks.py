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
- adverse events end on or after onset;
- PK and lab days are relative to infusion, so the patient must be infused.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import pandas as pd

from cartalysis.study.errors import Problem
from cartalysis.study.parse import TypedTable
from cartalysis.study.spec import EVENT_DETAILS, TABLES_BY_NAME

MILESTONES = ("screening_date", "apheresis_date", "ld_start_date", "ld_end_date", "infusion_date")


@dataclass(frozen=True)
class Subject:
    """What other tables need to know about one patient (first subjects row with that id)."""

    row: int
    screening: pd.Timestamp | None
    infusion: pd.Timestamp | None
    infusion_known: bool  # False when infusion_date is absent or failed to parse: skip checks that need it


@dataclass(frozen=True)
class Death:
    file: str
    row: int
    date: pd.Timestamp


def check_study(tables: dict[str, TypedTable]) -> list[Problem]:
    """Every cross-row and cross-table problem of a study whose cells are already typed."""
    problems: list[Problem] = []
    for t in tables.values():
        problems += check_keys(t)
    subjects = tables.get("subjects")
    if subjects is None or "patient_id" not in subjects.present:
        return problems
    if len(subjects.frame) == 0:
        # Every reference would be unknown; one message says it all.
        return problems + [Problem(subjects.file, None, None, "no patients: the table has a header but no rows")]
    problems += check_milestones(subjects)
    problems += check_enrollment(subjects)
    known = _subjects(subjects)
    others = [t for name, t in tables.items() if name != "subjects" and "patient_id" in t.present]
    for t in others:
        problems += check_references(t, known)
    events = tables.get("events")
    deaths: dict[str, Death] = {}
    if events is not None and "patient_id" in events.present:
        problems += check_event_details(events)
        problems += check_events_timing(events, known, subjects.file)
        death_problems, deaths = find_deaths(events)
        problems += death_problems
    for t in others:
        if t.name in ("pk", "labs"):
            problems += check_samples_after_death(t, deaths, known)
        else:
            problems += check_dated_after_death(t, deaths)
    if "adverse_events" in tables:
        problems += check_ae_dates(tables["adverse_events"])
    for name in ("pk", "labs"):
        if name in tables and "patient_id" in tables[name].present:
            problems += check_days_need_infusion(tables[name], known)
    return problems


def _values(t: TypedTable, column: str) -> list:
    """Column values with every kind of missing as ``None``."""
    if column not in t.frame:
        return [None] * len(t.frame)
    s = t.frame[column]
    return [None if pd.isna(v) else v for v in s.tolist()]


def _rows(t: TypedTable, *columns: str) -> Iterator[tuple[int, int, list]]:
    """``(position, spreadsheet_row, values)`` for each row."""
    cols = [_values(t, c) for c in columns]
    for i, row in enumerate(t.rows):
        yield i, row, [c[i] for c in cols]


def _d(ts: pd.Timestamp) -> str:
    return ts.strftime("%Y-%m-%d")


def check_keys(t: TypedTable) -> list[Problem]:
    """Rows sharing the table key (key columns not in the file are left out of the key)."""
    key = [c for c in TABLES_BY_NAME[t.name].key if c in t.present]
    if "patient_id" not in key:
        return []
    problems = []
    first: dict[tuple, int] = {}
    for i, row, values in _rows(t, *key):
        if any((i, c) in t.invalid for c in key) or values[0] is None:
            continue
        k = tuple(values)
        if k in first:
            same = ", ".join(key)
            problems.append(Problem(t.file, row, key[0], f"duplicate of row {first[k]} (same {same})"))
        else:
            first[k] = row
    return problems


def _subjects(subjects: TypedTable) -> dict[str, Subject]:
    known: dict[str, Subject] = {}
    has_infusion = "infusion_date" in subjects.present
    for i, row, (pid, screening, infusion) in _rows(subjects, "patient_id", "screening_date", "infusion_date"):
        if pid is not None and pid not in known:
            known[pid] = Subject(row, screening, infusion, has_infusion and (i, "infusion_date") not in subjects.invalid)
    return known


def check_references(t: TypedTable, known: dict[str, Subject]) -> list[Problem]:
    return [
        Problem(t.file, row, "patient_id", f"patient {pid!r} is not in subjects")
        for _, row, (pid,) in _rows(t, "patient_id")
        if pid is not None and pid not in known
    ]


def check_milestones(subjects: TypedTable) -> list[Problem]:
    """Each milestone on or after every earlier one given; the release between apheresis and infusion.

    A date that breaks the order is reported once, naming every earlier
    milestone it precedes, so the user sees which date is the odd one out.
    """
    problems = []
    cols = MILESTONES + ("release_date",)
    for _, row, values in _rows(subjects, *cols):
        v = dict(zip(cols, values))
        checks = [(m, MILESTONES[:k], ()) for k, m in enumerate(MILESTONES)]
        checks.append(("release_date", ("screening_date", "apheresis_date"), ("infusion_date",)))
        for name, earlier, later in checks:
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
    problems = []
    cols = ("enrolled", "infusion_date", "discontinuation_stage", "release_date", "ld_start_date")
    for _, row, (enrolled, infusion, stage, release, ld_start) in _rows(subjects, *cols):
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
    problems = []
    for _, row, (event, detail) in _rows(events, "event", "detail"):
        allowed = EVENT_DETAILS.get(event or "")
        if not allowed or detail is None or detail in allowed:
            continue
        near = [a for a in allowed if a.lower() == detail.lower()]
        hint = f" (did you mean {near[0]!r}? spelling is exact)" if near else ""
        problems.append(
            Problem(events.file, row, "detail", f"{detail!r} is not a {event} detail; allowed: {', '.join(allowed)}{hint}")
        )
    return problems


def check_events_timing(events: TypedTable, known: dict[str, Subject], subjects_file: str) -> list[Problem]:
    """Events follow infusion for infused patients, and screening for everyone."""
    problems = []
    for _, row, (pid, date, event) in _rows(events, "patient_id", "date", "event"):
        s = known.get(pid)
        if s is None or date is None or not s.infusion_known:
            continue
        what = event or "event"
        if s.infusion is not None and date < s.infusion:
            problems.append(
                Problem(
                    events.file,
                    row,
                    "date",
                    f"{what} on {_d(date)} is before the infusion on {_d(s.infusion)} ({subjects_file} row {s.row})",
                )
            )
        elif s.infusion is None and s.screening is not None and date < s.screening:
            problems.append(
                Problem(
                    events.file,
                    row,
                    "date",
                    f"{what} on {_d(date)} is before screening on {_d(s.screening)} ({subjects_file} row {s.row})",
                )
            )
    return problems


def find_deaths(events: TypedTable) -> tuple[list[Problem], dict[str, Death]]:
    """Each patient's death (first death row); a second death row is a problem."""
    problems = []
    deaths: dict[str, Death] = {}
    for _, row, (pid, date, event) in _rows(events, "patient_id", "date", "event"):
        if event != "death" or pid is None:
            continue
        if pid in deaths:
            problems.append(
                Problem(events.file, row, "event", f"second death for patient {pid!r} (first at row {deaths[pid].row})")
            )
        elif date is not None:
            deaths[pid] = Death(events.file, row, date)
    return problems, deaths


_DATED = {
    "assessments": (("date", "assessment"),),
    "events": (("date", None),),
    "adverse_events": (("onset_date", "adverse event onset"), ("end_date", "adverse event end")),
    "toxicity_daily": (("date", "toxicity observation"),),
}


def check_dated_after_death(t: TypedTable, deaths: dict[str, Death]) -> list[Problem]:
    """Nothing is observed after a patient's death (the death day itself is allowed)."""
    problems = []
    for column, what in _DATED.get(t.name, ()):
        for _, row, (pid, date, event) in _rows(t, "patient_id", column, "event"):
            death = deaths.get(pid)
            if death is None or date is None or date <= death.date or (t.name == "events" and event == "death"):
                continue
            problems.append(
                Problem(
                    t.file,
                    row,
                    column,
                    f"{what or event or 'event'} on {_d(date)} is after death on {_d(death.date)}"
                    f" ({death.file} row {death.row})",
                )
            )
    return problems


def check_samples_after_death(t: TypedTable, deaths: dict[str, Death], known: dict[str, Subject]) -> list[Problem]:
    """PK and lab samples (``day`` counted from infusion) are not taken after death."""
    problems = []
    for _, row, (pid, day) in _rows(t, "patient_id", "day"):
        death, s = deaths.get(pid), known.get(pid)
        if death is None or day is None or s is None or s.infusion is None:
            continue
        death_day = (death.date - s.infusion).days
        if math.floor(day) > death_day:
            problems.append(
                Problem(
                    t.file,
                    row,
                    "day",
                    f"day {day:g} is after death on {_d(death.date)}, day {death_day} ({death.file} row {death.row})",
                )
            )
    return problems


def check_ae_dates(ae: TypedTable) -> list[Problem]:
    return [
        Problem(ae.file, row, "end_date", f"end_date {_d(end)} is before onset_date {_d(onset)}")
        for _, row, (onset, end) in _rows(ae, "onset_date", "end_date")
        if onset is not None and end is not None and end < onset
    ]


def check_days_need_infusion(t: TypedTable, known: dict[str, Subject]) -> list[Problem]:
    """``day`` counts from infusion, so a sample needs an infused patient."""
    problems = []
    for _, row, (pid, day) in _rows(t, "patient_id", "day"):
        s = known.get(pid)
        if s is not None and s.infusion_known and s.infusion is None and day is not None:
            problems.append(
                Problem(t.file, row, "day", "day is counted from infusion, but this patient has no infusion_date")
            )
    return problems
