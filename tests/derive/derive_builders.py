"""Builders for hand-made studies: typed frames exactly as ``load_study`` hands them over (spec dtypes)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from cartalysis.study.load import Study
from cartalysis.study.parse import _typed
from cartalysis.study.parse import typed_frame as frame_of
from cartalysis.study.spec import TABLES, TABLES_BY_NAME

SUBJECT_DEFAULTS = {"site": "S1", "sex": "female", "age": 35.0, "screening_date": "2021-12-01", "enrolled": True,
                    "pb_blasts": False, "emd": False, "motor_weakness": False, "tocilizumab": False, "steroids": False}


def make_study(**tables: list[dict]) -> Study:
    """A ``Study`` from lists of row dicts (dates as ISO text); unspecified spec columns are missing.

    ``subjects`` rows get defaults for the required columns; ``assessments`` rows default to no circulating
    blasts and no EMD; ``toxicity_daily`` rows default to no motor weakness, no tocilizumab or steroids.
    """
    frames = {}
    for spec in TABLES:
        rows = tables.get(spec.name, [])
        rows = [{**{k: v for k, v in SUBJECT_DEFAULTS.items() if k in spec.names}, **r} for r in rows]
        extra = [k for r in rows for k in r if k not in spec.names]
        data = {c.name: _typed([r.get(c.name) for r in rows], c.dtype) for c in spec.columns}
        for k in dict.fromkeys(extra):
            data[k] = _typed([r.get(k) for r in rows], "str")
        frames[spec.name] = frame_of(data, len(rows))
    return Study("test", Path("test"), frames, {}, None)


def typed_frame(table: str, n: int, **columns) -> pd.DataFrame:
    """A spec-typed frame of ``n`` rows from column arrays (fast path for large synthetic studies)."""
    out = {}
    for c in TABLES_BY_NAME[table].columns:
        v = columns.get(c.name)
        if v is None:
            out[c.name] = _typed([None] * n, c.dtype)
        elif c.dtype == "date":
            out[c.name] = np.asarray(v, dtype="datetime64[ns]")
        elif c.dtype == "bool":
            out[c.name] = pd.array(v, dtype="boolean")
        elif c.dtype == "int":
            out[c.name] = pd.array(v, dtype="Int64")
        elif c.dtype == "float":
            out[c.name] = np.asarray(v, dtype=float)
        else:
            out[c.name] = np.asarray(v, dtype=object)
    return frame_of(out, n)


# Hand-built patients for the response and endpoint tests: one patient P1 infused on INF, days counted from it.
INF = "2022-01-01"


def day(n: int) -> str:
    return str((pd.Timestamp(INF) + pd.Timedelta(days=n)).date())


def ass(n: int, blasts: float = 1.0, anc: float = 2.0, plt: float = 150.0, pid: str = "P1", **kw) -> dict:
    return {"patient_id": pid, "date": day(n), "bm_blasts_pct": blasts, "anc": anc, "platelets": plt, **kw}


def ev(n: int, event: str, detail: str | None = None, pid: str = "P1") -> dict:
    return {"patient_id": pid, "date": day(n), "event": event, "detail": detail}


def run(build, assessments, events=(), plan=None, subject=None):
    """Derive one patient P1 (``build`` is the ``build`` fixture: ``make_study``)."""
    from cartalysis.derive import derive_all
    from cartalysis.study.plan import Plan

    study = build(subjects=[{"patient_id": "P1", "infusion_date": INF, **(subject or {})}],
                  assessments=list(assessments), events=list(events))
    return derive_all(study, plan or Plan())
