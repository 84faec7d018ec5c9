"""Builders for hand-made studies: typed frames exactly as ``load_study`` hands them over (spec dtypes)."""

from __future__ import annotations

from pathlib import Path

import pytest

from cartalysis.study.load import Study
from cartalysis.study.parse import _typed
from cartalysis.study.spec import TABLES

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
        import pandas as pd

        data = {c.name: _typed([r.get(c.name) for r in rows], c.dtype) for c in spec.columns}
        for k in dict.fromkeys(extra):
            data[k] = _typed([r.get(k) for r in rows], "str")
        frames[spec.name] = pd.DataFrame(data, index=pd.RangeIndex(len(rows)))
    return Study("test", Path("test"), frames, {}, None)


@pytest.fixture
def build():
    return make_study
