"""The vectorised reader and converter give exactly what the reference cell-by-cell code gives.

``parse_csv_bytes`` splits files without :mod:`csv` when no quote is needed to read them (none, or only
quotes enclosing whole plain cells) and ``convert_column`` parses
each distinct text once with numpy/pandas; both must agree with :mod:`csv` (strict) and
``parse_cell`` on every input, including the odd ones hypothesis finds.
"""

from __future__ import annotations

import csv
import io

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cartalysis.study.errors import Problem
from cartalysis.study.parse import convert_column, parse_cell
from cartalysis.study.read import _raw_table, csv_error_problem, parse_csv_bytes
from cartalysis.study.spec import TABLES

COLUMNS = [c for t in TABLES for c in t.columns]

_cell = st.one_of(
    st.sampled_from(["", " ", "a", " a ", "x,", "\t", ";", "1", "2021-01-01", ",,", "\u00a0", "\u2028", "\x0b", "é",
                     "\ufeff", "\ufeffa", "\x1a", "#", "'",
                     '"a"', '""', '" a "', '"a,b"', 'a"b', '"a""b"', '"', '"\n"', '\r""\n']),
    st.text(alphabet=' ,;\tab1\r\n\x0c\x1c\x85\ufeff"', max_size=6),
)


def _csv_reference(data: bytes):
    """What the strict csv module makes of the bytes (the reader before the fast path)."""
    text = data.decode("utf-8-sig")
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        return _raw_table("t", "t.csv", list(reader))
    except csv.Error as e:
        return None, [csv_error_problem("t.csv", text, reader.line_num, e)]


def _same(a, b) -> None:
    (ta, pa), (tb, pb) = a, b
    assert pa == pb
    assert (ta is None) == (tb is None)
    if ta is not None:
        assert ta.header == tb.header
        assert ta.rows.tolist() == tb.rows.tolist()
        assert [c.tolist() for c in ta.columns] == [c.tolist() for c in tb.columns]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.lists(_cell, min_size=0, max_size=5), min_size=1, max_size=8),
       st.sampled_from(["\n", "\r\n", "\r"]), st.booleans())
def test_fast_split_matches_csv_module(records, newline, trailing):
    data = (newline.join(",".join(r) for r in records) + (newline if trailing else "")).encode("utf-8")
    if not data.decode("utf-8-sig").strip():
        return  # an empty file is reported before any reading
    _same(parse_csv_bytes("t", "t.csv", data), _csv_reference(data))


@pytest.mark.parametrize("text", [
    "patient_id,age,,x\n\nP1,3,,1\n  , ,\nP2,4\nP3,5,,1,extra\n,,v,\n",
    '"patient_id","age"\r\n"P1",3\r\n"P2",""\r\n',  # R write.csv style: quotes dropped, same cells
    '"h1","h2"\n"a","b"\r""\n"c",d\n',  # an empty quoted line between \r and \n is a record of its own
    '"h1","h2"\n"a,b",c\n',  # a comma inside quotes: csv path
    '"h1","h2"\n"a""b",c\n',
])
def test_special_files_match_csv_module(text):
    _same(parse_csv_bytes("t", "t.csv", text.encode()), _csv_reference(text.encode()))


_texts = st.one_of(
    st.sampled_from(["", "2021-01-01", "2021-02-30", "1899-12-31", "2199-12-31", "2200-01-01", "0000-01-01",
                     "2021-01-01 10:00", "1e400", "-0", "0", "3.0", "3e2", "1,5", "+4", ".5", "5.", "9007199254740992",
                     "9007199254740991", "NA", "n/a", "Yes", "y", "TRUE", "0", "maybe", "Male", "male", "CR", "cr",
                     "-0.1", "120", "120.0000001", "١", "inf", "nan", "1_000", "0x10"]),
    st.from_regex(r"[+-]?\d{1,4}(\.\d{0,3})?([eE][+-]?\d{1,3})?", fullmatch=True),
    st.from_regex(r"\d{4}-\d{2}-\d{2}", fullmatch=True),
    st.text(max_size=5),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(_texts, min_size=0, max_size=12), st.sampled_from(COLUMNS))
def test_convert_column_matches_parse_cell(texts, column):
    texts = [t.strip() for t in texts]
    values, messages = convert_column(np.array(texts, dtype=object), column)
    expected = [parse_cell(t, column) for t in texts]
    assert list(messages) == [m for _, m in expected]
    got = pd.Series(values)
    for (value, _), v in zip(expected, got.tolist()):
        if value is None:
            assert pd.isna(v)
        elif column.dtype == "date":
            assert v == pd.Timestamp(value)
        else:
            assert v == value and type(v) in (type(value), float if column.dtype == "float" else type(value))


def test_duplicate_keys_compare_values_as_python_does(small_study):
    """Day ``-0`` is day ``0`` (equal numbers), and two rows both without an assessor share a key."""
    from cartalysis.study.validate import validate_study

    pk = small_study / "pk.csv"
    pk.write_text(pk.read_text() + "P01,-0,blood,1,copies/ug gDNA,50\n", encoding="utf-8")
    problems = [str(p) for p in validate_study(small_study)]
    assert "pk.csv:8:patient_id: duplicate of row 2 (same patient_id, day, matrix)" in problems
    a = small_study / "assessments.csv"
    a.write_text(a.read_text() + "P02,2021-09-09,,1,no,1,100,no,flow,yes,\n" * 2, encoding="utf-8")
    rows = len(a.read_text().splitlines())
    assert f"assessments.csv:{rows}:patient_id: duplicate of row {rows - 1} (same patient_id, date, assessor)" in [
        str(p) for p in validate_study(small_study)]
