"""The data argument of the statistics commands: one table of any supported format, filtered and checked.

``DataTable`` reads the file with ``study.formats`` (CSV, XLSX, SAS XPT, Dataset-JSON, Parquet), applies
``--where`` (``study.where``: parsed, never evaluated as code) and, for ``--by-param``, one PARAMCD; its checks
raise ``Bad`` with one ``FILE:ROW:COLUMN: message`` line, ROW as a spreadsheet of the same data shows it.
``--censor CNSR`` is the ADaM alternative to ``--event``: 0 = event, 1 or more = censored (a censoring reason).
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd


class Bad(Exception):
    """One line for the user; exit status 2."""


# Cells read as missing besides empty ones: what R, pandas and SAS write for a missing value.
MISSING = ("NA", "N/A", "n/a", "NaN", "nan", "NULL", "null", "#N/A", "<NA>", ".")
# Column names that say "censoring flag" (ADaM CNSR and the usual spellings); used as --event they invert the analysis.
_CENSOR_LIKE = re.compile(r"(?i)^(.*[_.])?(cnsr|cens|censor|censored|censoring)([_.].*)?$")


def event_or_censor(event: str | None, censor: str | None) -> str:
    """The status column: exactly one of --event and --censor must be given (usage error, exit 2, otherwise)."""
    if (event is None) == (censor is None):
        typer.echo("error: give exactly one of --event COL (1 = event, 0 = censored) and --censor COL "
                   "(ADaM CNSR: 0 = event, 1 or more = censored)", err=True)
        raise typer.Exit(2)
    return event or censor  # type: ignore[return-value]


@functools.lru_cache(maxsize=2)
def _read(path: str, stamp: tuple[int, int]):
    """The table file (cached per path, modification time and size: ``--by-param`` reads the file once)."""
    import numpy as np

    from cartalysis.study.errors import UsageError
    from cartalysis.study.formats import read_table

    try:
        table, problems = read_table(path)
    except UsageError as e:
        raise Bad(str(e) if str(e).startswith(path) else f"{path}::: {e}") from None
    if table is None or problems:
        raise Bad("\n".join(str(p) for p in problems))
    return table, table.frame().replace(list(MISSING), np.nan)


class DataTable:
    """The rows of a data file selected by ``where`` (and ``param``), as text cells (NaN = missing)."""

    def __init__(self, path: Path, where: str | None = None, param: str | None = None, censor: str | None = None,
                 all_params: bool = False):
        self.name = str(path)
        self.censor = censor
        self.where = where
        stamp = (path.stat().st_mtime_ns, path.stat().st_size) if path.is_file() else (0, 0)
        self.table, df = _read(self.name, stamp)
        if df.empty:
            raise Bad(f"{path}::: empty file (no data rows)")
        self.n_read = len(df)
        if where is not None:
            df = df.loc[self._filter(df, where)]
            if df.empty:
                raise Bad(f"error: --where {where!r} selects no rows (of {self.n_read})")
        if param is not None:
            df = df.loc[df["PARAMCD"].eq(param).to_numpy()]
        elif not all_params and "PARAMCD" in df.columns and df["PARAMCD"].nunique() > 1:
            levels = ", ".join(map(str, sorted(df["PARAMCD"].dropna().unique())))
            raise Bad(f"{self.name}::PARAMCD: the rows hold several parameters ({levels}); choose one with "
                      f"--where 'PARAMCD == \"...\"' or analyse each with --by-param")
        self.df = df

    def _filter(self, df: pd.DataFrame, where: str) -> np.ndarray:
        from cartalysis.study.where import WhereError, evaluate, parse

        try:
            return evaluate(parse(where), df)
        except WhereError as e:
            if e.row is not None:
                raise Bad(f"{self.name}:{e.row}:{e.column}: --where: {e}") from None
            raise Bad(f"error: --where {where!r}: {e}") from None

    def header(self, *cols: str | None) -> None:
        """The readable output's first line when the file labels its variables or rows were filtered."""
        used = [self.table.variable(c) for c in dict.fromkeys(c for c in cols if c)]
        if not any(v.label for v in used) and self.where is None and not self.table.label:
            return
        parts = [Path(self.name).name + (f" ({self.table.label})" if self.table.label else "")]
        if self.where is not None:
            parts.append(f"where {self.where}: {len(self.df)} of {self.n_read} rows")
        described = [v.described() if v.name != self.censor else
                     f"{v.name} ({v.label + '; ' if v.label else ''}0 = event, 1 or more = censored)" for v in used]
        typer.echo("; ".join(parts) + "\nvariables: " + ", ".join(described))

    def need(self, *cols: str | None) -> list[str]:
        cols = [c for c in cols if c]
        for c in cols:
            if c not in self.df.columns:
                raise Bad(f"{self.name}::{c}: column not found (columns: "
                          f"{', '.join(self.table.variable(h).described() for h in self.df.columns)})")
        return cols

    def complete(self, cols: list[str]) -> pd.DataFrame:
        keep = self.df[cols].notna().all(axis=1)
        dropped = int((~keep).sum())
        if dropped:
            typer.echo(f"note: {dropped} row(s) with a missing value in {', '.join(cols)} dropped", err=True)
        out = self.df.loc[keep].copy()
        if out.empty:
            raise Bad(f"{self.name}::: no complete rows in {', '.join(cols)}")
        out.attrs["dropped"] = dropped
        return out

    def _where(self, frame: pd.DataFrame, mask: np.ndarray, col: str, what: str) -> None:
        import numpy as np

        i = int(np.flatnonzero(mask)[0])
        raise Bad(f"{self.name}:{int(frame.index[i])}:{col}: {what}: {frame[col].iloc[i]!r}")

    def number(self, frame: pd.DataFrame, col: str, what: str = "not a number") -> np.ndarray:
        import numpy as np
        import pandas as pd

        x = pd.to_numeric(frame[col], errors="coerce").to_numpy(dtype=float)
        if np.isnan(x).any() or np.isinf(x).any():
            self._where(frame, ~np.isfinite(x), col, what)
        return x

    def time(self, frame: pd.DataFrame, col: str) -> np.ndarray:
        x = self.number(frame, col)
        if (x < 0).any():
            self._where(frame, x < 0, col, "negative time")
        return x

    def event(self, frame: pd.DataFrame, col: str) -> np.ndarray:
        """1 = event, 0 = censored; from ``--censor`` (CNSR: 0 = event, a whole number >= 1 = censored) when ``col``
        is that column, else from ``--event`` (0/1), with a warning when the name says it is a censoring flag."""
        import numpy as np
        import pandas as pd

        x = pd.to_numeric(frame[col], errors="coerce").to_numpy(dtype=float)
        if col == self.censor:
            bad = ~((x >= 0) & (np.mod(x, 1) == 0))
            if bad.any():
                self._where(frame, bad, col, "censoring must be coded 0 (event) or a whole number >= 1 (censored)")
            return (x == 0).astype(int)
        bad = ~np.isin(x, (0.0, 1.0))
        if bad.any():
            self._where(frame, bad, col, "event must be coded 0 (censored) or 1 (event)")
        if _CENSOR_LIKE.match(col):
            typer.echo(f"warning: --event {col}: {np.mean(x == 1):.0%} of rows are counted as events (1), but the name "
                       f"looks like a censoring flag (ADaM CNSR: 0 = event); if 1 means censored, use --censor {col}",
                       err=True)
        return x.astype(int)

    def status(self, frame: pd.DataFrame, col: str) -> np.ndarray:
        """Competing-risk status: 0 = censored, anything else names a cause."""
        import numpy as np
        import pandas as pd

        s = frame[col].str.strip()
        num = pd.to_numeric(s, errors="coerce")
        return np.where(num.notna() & (num == 0), "0", s.where(num.isna(), num.map(_label))).astype(object)


def _label(v) -> str:
    return str(int(v)) if float(v).is_integer() else str(v)


def by_param(body: Callable[[str | None], None], data: Path, where: str | None, as_json: bool) -> None:
    """Run ``body`` once per PARAMCD of the selected rows (``--by-param``), in sorted order.

    JSON: one list, an object per PARAMCD ``{"paramcd", "param", ...the command's JSON...}`` or, when that
    parameter cannot be analysed, ``{"paramcd", "param", "error"}``. Readable: a heading per PARAMCD, then the
    command's output or the reason. If no parameter can be analysed, the first reason is the error (exit 2).
    """
    from cartalysis.stats import StatsInputError

    global _collected
    rows = DataTable(data, where, all_params=True)
    rows.need("PARAMCD")
    params = rows.df.dropna(subset=["PARAMCD"])
    labels = {} if "PARAM" not in params else params.groupby("PARAMCD")["PARAM"].first().to_dict()
    out, errors = [], []
    for p in sorted(params["PARAMCD"].unique()):
        label = labels.get(p)
        if not as_json:
            typer.echo(f"\n=== PARAMCD {p}" + (f": {label}" if isinstance(label, str) else "") + " ===")
        _collected = []
        try:
            body(p)
            result = _collected[0] if _collected else {}
        except (Bad, StatsInputError) as e:
            message = str(e) if isinstance(e, Bad) else f"error: {e}"
            errors.append(message)
            result = {"error": message}
            if not as_json:
                typer.echo(f"not analysed: {message}")
        finally:
            _collected = None
        out.append({"paramcd": p, "param": label if isinstance(label, str) else None, **result})
    if len(errors) == len(out):
        raise Bad(errors[0] if errors else f"{data}::PARAMCD: no parameter to analyse")
    if as_json:
        emit(out)


_collected: list | None = None


def emit(obj) -> None:
    """Print one command's JSON, or keep it for the list ``--by-param`` prints."""
    if _collected is not None:
        _collected.append(obj)
        return
    typer.echo(json.dumps(obj, indent=2, allow_nan=False))
