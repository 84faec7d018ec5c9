"""The results registry: record JSON shape, stable order, duplicate ids."""

import json

import numpy as np
import pytest

from cartalysis.report.results import Record, Registry


def test_absent_fields_omitted_value_always_present():
    r = Record("tte.os.median", "Overall survival: median (not reached)", None, unit="months", N=48,
               ci=(13.0, None), method="KM")
    assert r.to_json() == {"id": "tte.os.median", "label": "Overall survival: median (not reached)", "value": None,
                           "unit": "months", "N": 48, "ci": [13.0, None], "method": "KM"}


def test_numpy_and_nan_become_json_values():
    r = Record("x", "x", np.float64(1.5), n=np.int64(3), N=np.int64(4), ci=(np.float64(0.1), float("nan")),
               p_value=np.float64(0.02))
    out = r.to_json()
    assert out == {"id": "x", "label": "x", "value": 1.5, "n": 3, "N": 4, "ci": [0.1, None], "p_value": 0.02}
    assert type(out["value"]) is float and type(out["n"]) is int


def test_registry_sorted_and_duplicates():
    reg = Registry()
    reg.add(Record("b", "B", 2))
    reg.add(Record("a", "A", 1))
    reg.add(Record("a", "A", 1))  # the same record twice is fine
    with pytest.raises(ValueError, match="registered twice"):
        reg.add(Record("a", "A", 2))
    data = json.loads(reg.to_json())
    assert [d["id"] for d in data] == ["a", "b"]
    assert reg.to_json() == reg.to_json()
