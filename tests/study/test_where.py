"""The --where filter language: parsed by hand, evaluated on text cells, located errors, never a crash."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cartalysis.study.where import WhereError, columns, evaluate, parse

FRAME = pd.DataFrame({"PARAMCD": ["OS", "PFS", "OS", np.nan, "DOR"],
                      "AVAL": ["1", "2.5", "10", np.nan, "7"],
                      "ADT": ["2021-01-01", "2021-06-30", "2022-01-01", "2020-12-31", np.nan]},
                     index=[2, 3, 4, 5, 6])


def rows(expr):
    return [int(i) for i in FRAME.index[evaluate(parse(expr), FRAME)]]


@pytest.mark.parametrize("expr,expected", [
    ('PARAMCD == "OS"', [2, 4]),
    ("PARAMCD == 'OS'", [2, 4]),
    ('PARAMCD != "OS"', [3, 5, 6]),  # a missing cell satisfies != (pandas, SAS where)
    ('PARAMCD in ("OS", "DOR")', [2, 4, 6]),
    ('PARAMCD not in ("OS", "DOR")', [3, 5]),
    ('not PARAMCD in ("OS")', [3, 5, 6]),
    ("AVAL > 2", [3, 4, 6]),
    ("AVAL >= 2.5 and AVAL < 10", [3, 6]),
    ("AVAL <= 1 or AVAL == 10", [2, 4]),
    ('ADT >= "2021-06-30"', [3, 4]),  # ISO dates compare as text
    ('(PARAMCD == "OS" or PARAMCD == "PFS") and not AVAL > 5', [2, 3]),
    ('PARAMCD == "OS" OR PARAMCD == "DOR" AND AVAL > 100', [2, 4]),  # and binds tighter than or
    ("AVAL in (1, 7)", [2, 6]),
    ("AVAL == 1e1", [4]),
])
def test_filters(expr, expected):
    assert rows(expr) == expected


@pytest.mark.parametrize("expr,message", [
    ('PARAMCD = "OS"', "character 9: unexpected '='; use == to compare"),
    ("PARAMCD == OS", "character 12: found 'OS', expected a value (quote text values)"),
    ('PARAMCD == "OS" AVAL', "character 17: unexpected 'AVAL' (an 'and' or 'or' may be missing)"),
    ('(PARAMCD == "OS"', "character 17: the expression ends, expected ')'"),
    ("PARAMCD in ()", "character 13: found ')', expected a value"),
    ("   ", "the expression is empty"),
    ('PARAMCD == "OS', "character 12: unexpected '\"'; quote text with"),
    ("__import__('os')", "character 11: found '(', expected a comparison"),
    ('AVAL in (1, "x")', "mix numbers and quoted text"),
    ('XX == "a"', "column 'XX' not found (columns: PARAMCD, AVAL, ADT)"),
])
def test_errors_say_where(expr, message):
    with pytest.raises(WhereError) as e:
        evaluate(parse(expr), FRAME)
    assert message in str(e.value)


def test_a_text_cell_compared_with_a_number_is_located():
    frame = FRAME.assign(AVAL=["1", "x", "3", np.nan, "4"])
    with pytest.raises(WhereError) as e:
        evaluate(parse("AVAL > 2"), frame)
    assert (e.value.row, e.value.column) == (3, "AVAL") and "'x' is not a number" in str(e.value)


def test_columns_used():
    assert columns(parse('A == "1" and (B > 2 or not A in ("x"))')) == ["A", "B"]


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list('PARAMCDVL "\'()=!<>,.0123456789andortinx_')), max_size=40))
def test_any_text_parses_or_says_why(expr):
    try:
        node = parse(expr)
    except WhereError:
        return
    try:
        mask = evaluate(node, FRAME)
    except WhereError:
        return
    assert mask.dtype == bool and mask.shape == (len(FRAME),)
