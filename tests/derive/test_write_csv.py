"""``write_derived``'s fast CSV writing gives the bytes of the plain pandas formulation.

Reference: dates by ``strftime("%Y-%m-%d")``, booleans as true/false, then
``to_csv(index=False, lineterminator="\\n", float_format="%.12g")``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from cartalysis.derive import _csv_ready, write_csv


def _reference(frame: pd.DataFrame, path) -> None:
    out = frame.copy()
    for col in out.columns:
        s = out[col]
        if pd.api.types.is_datetime64_any_dtype(s):
            out[col] = s.dt.strftime("%Y-%m-%d").astype(object).where(s.notna(), None)
        elif pd.api.types.is_bool_dtype(s) or str(s.dtype) == "boolean":
            out[col] = s.map({True: "true", False: "false"}).astype(object).where(s.notna(), None)
        elif s.dtype == object:
            out[col] = s.map(lambda v: ("true" if v else "false") if isinstance(v, (bool, np.bool_)) else v)
    out.to_csv(path, index=False, lineterminator="\n", float_format="%.12g")


_floats = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.sampled_from([0.0, -0.0, 1 / 3, 1e-300, 2.5]))
_texts = st.one_of(st.none(), st.sampled_from(["a", "b c", "x,y", 'q"uote', "line\nbreak", "", "é"]))
_dates = st.one_of(st.none(), st.datetimes(min_value=pd.Timestamp("1900-01-01").to_pydatetime(),
                                           max_value=pd.Timestamp("2199-12-31").to_pydatetime()))

try:  # pandas 3's default text dtype "str" (NaN for missing), available from pandas 2.3; "string" has pd.NA
    _STRING_DTYPES = ["string", pd.StringDtype(na_value=np.nan)]
except TypeError:
    _STRING_DTYPES = ["string"]


@st.composite
def frames(draw):
    n = draw(st.integers(0, 8))
    cols = {}
    for k, kind in enumerate(draw(st.lists(st.sampled_from(
            ["float", "int", "Int64", "bool", "boolean", "date", "day", "day_s", "text", "str", "mixed"]),
            min_size=1, max_size=6))):
        if kind == "float":
            v = pd.Series(draw(st.lists(_floats, min_size=n, max_size=n)), dtype=np.float64)
        elif kind == "int":
            v = pd.Series(draw(st.lists(st.integers(-10**12, 10**12), min_size=n, max_size=n)), dtype=np.int64)
        elif kind == "Int64":
            v = pd.Series(draw(st.lists(st.one_of(st.none(), st.integers(-999, 999)), min_size=n, max_size=n)),
                          dtype="Int64")
        elif kind == "bool":
            v = pd.Series(draw(st.lists(st.booleans(), min_size=n, max_size=n)), dtype=bool)
        elif kind == "boolean":
            v = pd.Series(draw(st.lists(st.one_of(st.none(), st.booleans()), min_size=n, max_size=n)), dtype="boolean")
        elif kind in ("date", "day"):
            d = pd.Series(draw(st.lists(_dates, min_size=n, max_size=n)), dtype="datetime64[ns]")
            v = d.dt.normalize() if kind == "day" else d
        elif kind == "day_s":  # pandas 3 infers second (or other) resolutions where pandas 2 gave ns
            v = pd.Series(draw(st.lists(_dates, min_size=n, max_size=n)), dtype="datetime64[ns]").dt.normalize()
            v = v.astype(f"datetime64[{draw(st.sampled_from(['s', 'ms', 'us']))}]")
        elif kind == "text":
            v = pd.Series(draw(st.lists(_texts, min_size=n, max_size=n)), dtype=object)
        elif kind == "str":
            v = pd.Series(draw(st.lists(_texts, min_size=n, max_size=n)), dtype=draw(st.sampled_from(_STRING_DTYPES)))
        else:
            v = pd.Series(draw(st.lists(st.one_of(_texts, st.booleans(), st.integers(0, 9)), min_size=n, max_size=n)),
                          dtype=object)
        cols[f"c{k}"] = v
    return pd.DataFrame(cols)


@settings(max_examples=200, deadline=None)
@given(frames())
def test_write_csv_matches_pandas(tmp_path_factory, frame):
    d = tmp_path_factory.mktemp("csv")
    write_csv(_csv_ready(frame), d / "fast.csv")
    _reference(frame, d / "ref.csv")
    assert (d / "fast.csv").read_bytes() == (d / "ref.csv").read_bytes()


def test_signed_zero_and_dates_before_1970(tmp_path):
    frame = pd.DataFrame({"x": [0.0, -0.0, np.nan, 1 / 3, 1e16], "n": [1, 2, 3, 4, 5],
                          "d": pd.to_datetime(["1969-12-31", None, "1900-01-01", "2199-12-31", "1970-01-01"])})
    write_csv(_csv_ready(frame), tmp_path / "fast.csv")
    _reference(frame, tmp_path / "ref.csv")
    assert (tmp_path / "fast.csv").read_text() == (tmp_path / "ref.csv").read_text()
    assert (tmp_path / "fast.csv").read_text().splitlines()[1:3] == ["0,1,1969-12-31", "-0,2,"]
