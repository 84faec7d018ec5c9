"""Checks of the ``sap.toml`` file itself: encoding, TOML syntax, nesting depth, finite numbers, plausible ranges.

``plan.py`` turns TOML into a ``Plan`` (types, choices, cross-key rules); this module adds what a person editing
the file gets wrong: a file saved as Windows-1252, a NaN, a fever threshold in °F, a percentage written as a
fraction. Every message names the key and the unit, and ``locate`` adds the line of the key, so a problem reads
``sap.toml:12:toxicity.fever_c: 100.4 °C is not a plausible fever threshold …``.

``tomllib`` (standard library) parses; it gives no positions for keys, so ``key_lines`` finds them with a
line scan of ``[section]`` headers and ``key =`` lines (enough for the flat files a plan is; a key it cannot
find keeps an empty line field).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import re
import reprlib
import tomllib
from dataclasses import dataclass
from typing import Any

from cartalysis.study.errors import Problem, warning

BOM = "\ufeff"
MAX_DEPTH = 3  # [section] -> key -> list or inline table of plain values
_short = reprlib.Repr()
_short.maxstring, _short.maxother, _short.maxlist, _short.maxdict, _short.maxlevel = 40, 40, 6, 6, 2


def short(value: Any) -> str:
    """A value as a short ``repr`` for a message (a 10 000-element list must not become a 10 000-element line)."""
    return _short.repr(value)


def decode(data: bytes, file: str) -> tuple[str | None, list[Problem]]:
    """``sap.toml`` bytes as text: UTF-8, with or without a byte-order mark; otherwise a located error."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        column = e.start - (data.rfind(b"\n", 0, e.start) + 1) + 1
        guess = ""
        try:
            snippet = data[max(0, e.start - 10):e.start + 10].decode("cp1252").splitlines()
            guess = f" (it looks like Windows-1252 text: {' '.join(snippet)!r})" if snippet else ""
        except UnicodeDecodeError:
            pass
        return None, [Problem(file, line, None, f"not UTF-8 text: byte 0x{data[e.start]:02X} at column {column}"
                                                f"{guess}; save the file as UTF-8")]
    return text.removeprefix(BOM), []


def parse_toml(text: str, file: str) -> tuple[dict[str, Any] | None, list[Problem]]:
    """Parsed TOML, or a located syntax problem (also for nesting so deep the parser gives up)."""
    try:
        return tomllib.loads(text), []
    except tomllib.TOMLDecodeError as e:
        m = re.search(r"\(at line (\d+), column (\d+)\)", str(e))
        msg = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(e))
        line = int(m.group(1)) if m else None
        where = f" (column {m.group(2)})" if m else ""
        return None, [Problem(file, line, None, f"not valid TOML: {msg}{where}")]
    except RecursionError:
        return None, [Problem(file, None, None, f"nested too deeply to read; a plan is at most {MAX_DEPTH} levels "
                                                "deep ([section], key, list)")]


def check_depth(data: dict[str, Any], file: str) -> list[Problem]:
    """Values nested deeper than a plan ever is: ``[section]`` → key → list or inline table of plain values."""
    problems = []

    def depth(v: Any) -> int:
        if isinstance(v, dict):
            return 1 + max((depth(x) for x in v.values()), default=0)
        if isinstance(v, list):
            return 1 + max((depth(x) for x in v), default=0)
        return 0

    for name, section in data.items():
        if not isinstance(section, dict):
            continue
        for key, value in section.items():
            if depth(value) > MAX_DEPTH - 2:
                problems.append(Problem(file, None, f"{name}.{key}", f"nested too deeply ({short(value)}); a plan "
                                                                      "value is a number, text, or a flat list"))
    return problems


@dataclass(frozen=True)
class Range:
    """Plausible values of a number, with its unit. Outside ``[lo, hi]`` is an error; ``warn_below`` a warning.

    ``hint(value)`` explains a likely slip (°F for °C, a fraction for a percentage, cells/µL for 10⁹/L).
    """

    lo: float
    hi: float
    unit: str
    what: str
    warn_below: float | None = None
    lo_open: bool = False

    def fmt(self, x: float) -> str:
        return f"{x:g}{'' if not self.unit else ' ' + self.unit}"


def _fahrenheit(v: float) -> str:
    return f"; {v:g} looks like °F ({v:g} °F = {(v - 32) * 5 / 9:.1f} °C): write the threshold in °C, e.g. 38" \
        if 95 <= v <= 110 else ""


def _fraction(v: float) -> str:
    return f"; percentages are written 0-100 here ({v:g} as a fraction would be {v * 100:g} %)" if 0 < v < 1 else ""


def _per_ul(v: float) -> str:
    return f"; {v:g} looks like cells/µL: in 10⁹/L write {v / 1000:g}" if v >= 100 else ""


RANGES: dict[str, Range] = {
    "time.month_days": Range(28, 31, "days", "month length"),
    "efficacy.null_rate": Range(0, 1, "", "null response rate (a proportion)", lo_open=True),
    "efficacy.alpha": Range(0, 0.5, "", "significance level", lo_open=True),
    "efficacy.conf_level": Range(0.5, 1, "", "confidence level (a proportion, e.g. 0.95)"),
    "efficacy.target_rate": Range(0, 1, "", "target response rate (a proportion)", lo_open=True),
    "efficacy.power": Range(0.5, 1, "", "power (a proportion, e.g. 0.9)"),
    "efficacy.landmarks_months": Range(0, 240, "months", "landmark time", lo_open=True),
    "response.blasts_threshold_pct": Range(0, 100, "%", "blast threshold", warn_below=1, lo_open=True),
    "response.anc_min": Range(0, 50, "× 10⁹/L", "neutrophil count"),
    "response.platelets_min": Range(0, 1000, "× 10⁹/L", "platelet count"),
    "response.bor_window_days": Range(0, 3650, "days", "best-response window", lo_open=True),
    "response.m3_target_day": Range(1, 365, "days", "month-3 target day"),
    "response.m3_window_days": Range(0, 365, "days", "month-3 window day"),
    "response.mrd_visit_days": Range(0, 3650, "days", "MRD visit day"),
    "response.mrd_visit_window_days": Range(0, 365, "days", "MRD visit window"),
    "toxicity.fever_c": Range(37, 42, "°C", "fever threshold"),
    "toxicity.teae_window_days": Range(0, 3650, "days", "treatment-emergent window"),
    "toxicity.early_death_days": Range(1, 365, "days", "early-death window", lo_open=False),
    "pk.auc_end_day": Range(0, 3650, "days", "AUC end day", lo_open=True),
    "risk.baseline_window_days": Range(-365, 30, "days", "baseline window day"),
    "subgroups.age_breaks": Range(0, 120, "years", "age cut point"),
    "subgroups.bm_blasts_breaks": Range(0, 100, "%", "blast cut point", warn_below=1, lo_open=True),
    "cox.threshold": Range(0, 1, "", "screening P-value threshold", lo_open=True),
    "cox.min_events_per_level": Range(1, 1000, "events", "minimum events per level"),
}
_HINTS = {"toxicity.fever_c": _fahrenheit, "response.blasts_threshold_pct": _fraction,
          "subgroups.bm_blasts_breaks": _fraction, "response.anc_min": _per_ul}


def check_numbers(data: dict[str, Any], file: str) -> list[Problem]:
    """Every number finite (NaN and ±inf are valid TOML but never a valid setting) and within its plausible range."""
    problems: list[Problem] = []
    for name, section in data.items():
        if not isinstance(section, dict):
            continue
        for key, value in section.items():
            full = f"{name}.{key}"
            values = value if isinstance(value, list) else [value]
            numbers = [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
            bad = [v for v in numbers if not math.isfinite(v)]
            if bad:
                problems.append(Problem(file, None, full, f"{bad[0]} is not a number a plan can use (NaN and inf "
                                                          "are not allowed)"))
                continue
            r = RANGES.get(full)
            if r is None:
                continue
            for v in numbers:
                below = v <= r.lo if r.lo_open else v < r.lo
                if below or v > r.hi:
                    hint = _HINTS.get(full, lambda _: "")(v)
                    bound = "above" if r.lo_open else "from"
                    problems.append(Problem(file, None, full, f"{r.fmt(v)} is not a plausible {r.what}: expected "
                                                              f"{bound} {r.fmt(r.lo)} to {r.fmt(r.hi)}{hint}"))
                    break
                if r.warn_below is not None and v < r.warn_below:
                    problems.append(warning(file, None, full, f"{r.fmt(v)} is below {r.fmt(r.warn_below)}"
                                                              f"{_HINTS.get(full, lambda _: '')(v)}"))
                    break
    return problems


def parse_date(value: Any) -> dt.date | None:
    """A TOML date (``2023-06-30``) or an ISO date string; ``None`` when it is neither."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value.strip()):
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError:
            return None
    return None


_HEADER = re.compile(r"^\s*\[\s*([A-Za-z0-9_.\-\s\"']+?)\s*\]\s*(#.*)?$")
_KEY = re.compile(r"^\s*([A-Za-z0-9_\-]+|\"[^\"]*\"|'[^']*')\s*(\.\s*[A-Za-z0-9_\-]+\s*)*=")


def key_lines(text: str) -> dict[str, int]:
    """``"section.key"`` (and ``"section"``) → the 1-based line where it is set, from a scan of the text."""
    lines: dict[str, int] = {}
    section = ""
    for n, line in enumerate(text.splitlines(), start=1):
        if m := _HEADER.match(line):
            section = re.sub(r"\s+", "", m.group(1)).replace('"', "").replace("'", "")
            lines.setdefault(section, n)
        elif m := _KEY.match(line):
            key = m.group(1).strip("\"'")
            lines.setdefault(f"{section}.{key}" if section else key, n)
    return lines


def locate(problems: list[Problem], text: str | None, file: str) -> list[Problem]:
    """The problems of ``file`` with the line of their key filled in where the scan finds it."""
    if text is None:
        return problems
    lines = key_lines(text)
    out = []
    for p in problems:
        if p.file == file and p.row is None and p.column:
            line = lines.get(p.column) or lines.get(p.column.split(".")[0])
            p = dataclasses.replace(p, row=line)
        out.append(p)
    return out
