"""Cell parsers: never raise; invalid text -> a message quoting it; valid text -> the value."""

from __future__ import annotations

import datetime as dt

from hypothesis import given
from hypothesis import strategies as st

from cartalysis.study.parse import (
    DATE_MAX,
    DATE_MIN,
    category_parser,
    parse_bool,
    parse_cell,
    parse_date,
    parse_float,
    parse_int,
)
from cartalysis.study.spec import ADVERSE_EVENTS, BOOL_FALSE, BOOL_TRUE, PK, SUBJECTS

PARSERS = (parse_date, parse_float, parse_int, parse_bool, category_parser(("female", "male")))


def _ok(parsed):
    value, message = parsed
    assert message is None
    return value


def _bad(parsed) -> str:
    value, message = parsed
    assert value is None and message
    return message


@given(st.text(min_size=1), st.sampled_from(PARSERS))
def test_parsers_never_raise_and_return_value_xor_message(text, parser):
    value, message = parser(text)
    assert (value is None) != (message is None)
    if message is not None:
        assert repr(text) in message


@given(st.dates(min_value=DATE_MIN, max_value=DATE_MAX))
def test_iso_dates_round_trip(d):
    assert _ok(parse_date(d.isoformat())) == d


@given(st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2100, 1, 1)))
def test_other_date_forms_are_rejected(d):
    for text in (d.strftime("%d/%m/%Y"), d.strftime("%Y%m%d"), d.strftime("%d.%m.%Y"), d.strftime("%Y-%m-%d") + "T00:00"):
        _bad(parse_date(text))


def test_date_messages():
    assert "not a valid calendar date" in _bad(parse_date("2021-02-30"))
    assert "YYYY-MM-DD" in _bad(parse_date("14/01/2021"))
    assert "time of day" in _bad(parse_date("2021-01-14 08:30:00"))
    assert "plausible range" in _bad(parse_date("0021-01-14"))
    assert "YYYY-MM-DD" in _bad(parse_date("２０２１-01-14"))  # full-width digits


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_finite_floats_round_trip(x):
    assert _ok(parse_float(repr(x))) == x


@given(st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1))
def test_integers_round_trip(n):
    assert _ok(parse_int(str(n))) == n
    assert _ok(parse_float(str(n))) == float(n)


def test_number_forms():
    assert _ok(parse_int("3.0")) == 3
    assert _ok(parse_int("1e2")) == 100
    assert _ok(parse_float("+.5")) == 0.5
    assert "whole number" in _bad(parse_int("2.5"))
    assert "decimal mark" in _bad(parse_float("1,5"))
    assert "leave the cell empty" in _bad(parse_float("NA"))
    for text in ("nan", "inf", "-Infinity", "1_000", "1,000.5", "5 mg", "0x10", "<5", "1e999", "１２"):
        _bad(parse_float(text))


@given(st.sampled_from(sorted(BOOL_TRUE | BOOL_FALSE)), st.data())
def test_bool_spellings_in_any_case(word, data):
    cased = "".join(data.draw(st.sampled_from([c.lower(), c.upper()])) for c in word)
    assert _ok(parse_bool(cased)) is (word in BOOL_TRUE)


def test_bool_rejects_other_words():
    for text in ("maybe", "2", "ja", "t", "f"):
        _bad(parse_bool(text))


def test_category_is_exact_and_suggests_case_fix():
    parse = category_parser(("female", "male"))
    assert _ok(parse("male")) == "male"
    assert "did you mean 'female'" in _bad(parse("Female"))
    assert "female, male" in _bad(parse("f"))


def test_parse_cell_applies_range_and_emptiness():
    grade = ADVERSE_EVENTS.column("grade")
    assert _ok(parse_cell("5", grade)) == 5
    assert "above the maximum 5" in _bad(parse_cell("7", grade))
    assert "below the minimum 1" in _bad(parse_cell("0", grade))
    assert "must be filled" in _bad(parse_cell("", grade))
    assert "negative" in _bad(parse_cell("-0.1", PK.column("value")))
    assert parse_cell("", PK.column("value")) == (None, None)
    assert "above the maximum 120 years" in _bad(parse_cell("121", SUBJECTS.column("age")))


@given(st.text(), st.sampled_from([c for t in (SUBJECTS, PK, ADVERSE_EVENTS) for c in t.columns]))
def test_parse_cell_never_raises(text, column):
    value, message = parse_cell(text.strip(), column)
    assert value is None or message is None
