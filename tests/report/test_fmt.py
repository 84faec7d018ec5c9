"""Journal number formatting: SAS-style rounding (half away from zero on the decimal repr), CI and P values."""

import re
from decimal import ROUND_HALF_UP, Decimal

import pytest
from hypothesis import given, strategies as st

from cartalysis.report import fmt


@pytest.mark.parametrize(
    "x, digits, expected",
    [
        (0.125, 2, "0.13"),  # binary 0.125 is exact: half-even would give 0.12
        (2.675, 2, "2.68"),  # the float is 2.67499999...; its repr "2.675" rounds up as SAS does
        (70.83333333333334, 1, "70.8"),
        (83.04692013717953, 1, "83.0"),  # pivotal month-3 ORR upper bound: exact value prints 83.0
        (55.936522008592334, 1, "55.9"),
        (0.05, 1, "0.1"),
        (-0.05, 1, "-0.1"),  # away from zero
        (-0.04, 1, "0.0"),  # never "-0.0"
        (12.5, 0, "13"),
        (13.5, 0, "14"),
        (1e-7, 2, "0.00"),
        (175000.0, 0, "175,000"),  # five or more digits grouped by thousands (cellular kinetics)
        (1650000.0, 0, "1,650,000"),
        (-12345.678, 2, "-12,345.68"),
        (9999.4, 0, "9999"),  # four digits stay ungrouped
        (9999.5, 0, "10,000"),  # grouping follows the rounded number
    ],
)
def test_num_rounds_half_away_from_zero(x, digits, expected):
    assert fmt.num(x, digits) == expected


def test_python_round_differs_so_we_do_not_use_it():
    assert f"{2.675:.2f}" == "2.67" and round(0.125, 2) == 0.12
    assert fmt.num(2.675, 2) == "2.68" and fmt.num(0.125, 2) == "0.13"


def test_missing_and_not_reached():
    assert fmt.num(None) == "NR"
    assert fmt.num(float("nan")) == "NR"
    assert fmt.ci(14.29, None) == "14.3–NR"
    assert fmt.est_ci(None, 13.0, None) == "NR (13.0–NR)"


def test_huge_values_print_in_exponent_form():
    """A diverging Cox term has an HR like exp(700); a decimal quantize cannot hold it at 2 decimals."""
    assert fmt.num(1.0142320547350045e304, 2) == "1.01e+304"
    assert fmt.num(-2.5e15, 1) == "-2.50e+15"
    assert fmt.num(999_999_999_999_999.0, 0) == "999,999,999,999,999"


def test_journal_shapes():
    assert fmt.n_pct(34, 70.83333333333334) == "34 (70.8)"
    assert fmt.est_ci(70.83333333333334, 55.936522008592334, 83.04692013717953) == "70.8 (55.9–83.0)"
    assert fmt.ci(55.9, 83.1) == "55.9\u201383.1"


@pytest.mark.parametrize(
    "p, expected",
    [(3.35e-11, "< .0001"), (0.0000999, "< .0001"), (0.0001, ".0001"), (0.00044, ".0004"), (0.013, ".013"),
     (0.0496, ".050"), (0.051, ".051"), (0.51, ".51"), (0.125, ".13"), (0.995, "> .99"), (1.0, "> .99"),
     (None, "")],
)
def test_pvalue(p, expected):
    assert fmt.pvalue(p) == expected


@given(st.decimals(min_value=-10**6, max_value=10**6, places=4, allow_nan=False, allow_infinity=False),
       st.integers(0, 3))
def test_round_half_up_is_decimal_rounding_of_the_printed_number(d, digits):
    x = float(d)
    expected = Decimal(repr(x)).quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP)
    assert fmt.round_half_up(x, digits) == expected
    # the shown text parses back to within half a unit of the last digit; commas group thousands exactly when the
    # rounded number has five or more integer digits
    text = fmt.num(x, digits)
    assert abs(float(text.replace(",", "")) - x) <= 0.5 * 10**-digits + 1e-9 * max(1, abs(x))
    grouped = re.fullmatch(r"-?\d{1,3}(?:,\d{3})+(?:\.\d+)?", text) is not None
    assert grouped == (abs(expected) >= 10_000), text
    assert "," in text or re.fullmatch(r"-?\d+(?:\.\d+)?", text)


def _r_rounding():
    import csv
    from pathlib import Path

    path = Path(__file__).parents[1] / "fixtures" / "r" / "ref_rounding.csv"
    with path.open() as f:
        return [(float(r["x"]), int(r["digits"]), r["sprintf"]) for r in csv.DictReader(f)]


@pytest.mark.parametrize("x, digits, r_text", _r_rounding())
def test_half_even_mode_prints_what_r_prints(x, digits, r_text):
    with fmt.rounding_mode("half_even"):
        assert fmt.num(x, digits) == r_text


def test_rounding_modes_differ_only_at_ties_and_reset():
    assert fmt.num(6.25) == "6.3"  # SAS (default)
    with fmt.rounding_mode("half_even"):
        assert fmt.num(6.25) == "6.2"  # R, as the post-HSCT paper printed it
        assert fmt.pvalue(0.0625) == ".062"  # 0.0625 is an exact binary tie
        assert fmt.est_ci(70.83333, 55.9365, 83.0469) == "70.8 (55.9–83.0)"
    assert fmt.num(6.25) == "6.3" and fmt.pvalue(0.0625) == ".063"
    with pytest.raises(ValueError):
        with fmt.rounding_mode("banker"):
            pass


@given(st.floats(min_value=-1e6, max_value=1e6, allow_nan=False), st.integers(0, 4))
def test_half_even_equals_python_format(x, digits):
    # Python's format rounds the exact binary value with ties to even, like C's printf that R's sprintf calls
    with fmt.rounding_mode("half_even"):
        got = fmt.num(x, digits).replace(",", "")
    want = f"{x:.{digits}f}"
    if want.startswith("-") and float(want) == 0:
        want = want[1:]
    assert got == want
