"""Shared loaders for the R reference fixtures (tests/fixtures/r, made by make_references.R)."""

from pathlib import Path

import numpy as np
import pandas as pd

R = Path(__file__).resolve().parents[1] / "fixtures" / "r"
RTOL = 1e-6


def ref(name: str) -> pd.DataFrame:
    return pd.read_csv(R / f"ref_{name}.csv", keep_default_na=True, dtype={"group": str, "cause": str})


def data(name: str) -> pd.DataFrame:
    return pd.read_csv(R / f"data_{name}.csv")


def close(actual, expected, rtol: float = RTOL) -> None:
    """Relative 1e-6, NaN where R has NA; an absolute 1e-12 floor for values that are 0 in R."""
    np.testing.assert_allclose(np.asarray(actual, dtype=float), np.asarray(expected, dtype=float),
                               rtol=rtol, atol=1e-12, equal_nan=True)
