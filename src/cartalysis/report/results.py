"""The results registry: every number the report shows, as one record with a stable id.

``results.json`` is a JSON array of records sorted by ``id``; each record is
``{"id", "label", "value", "unit", "n", "N", "ci": [lo, hi], "p_value", "method"}``
with absent fields omitted (``value`` is always present: ``null`` for a
median that is not reached, with the label saying so). Values are stored
unrounded, on the scale shown (percent as 70.83, not 0.7083); the report
rounds them for display (``cartalysis.report.fmt``). Ids are documented in
``docs/results.md``.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path


def _clean(x):
    """JSON-safe scalar: numpy scalars to Python, NaN/inf to None."""
    if x is None:
        return None
    if hasattr(x, "item"):
        x = x.item()
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


@dataclass(frozen=True)
class Record:
    """One reported number. ``ci`` is ``(lo, hi)``; a bound that is not reached is ``None``."""

    id: str
    label: str
    value: float | int | None
    unit: str | None = None
    n: int | None = None
    N: int | None = None
    ci: tuple[float | None, float | None] | None = None
    p_value: float | None = None
    method: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "value", _clean(self.value))
        object.__setattr__(self, "n", None if _clean(self.n) is None else int(_clean(self.n)))
        object.__setattr__(self, "N", None if _clean(self.N) is None else int(_clean(self.N)))
        object.__setattr__(self, "p_value", _clean(self.p_value))
        if self.ci is not None:
            object.__setattr__(self, "ci", (_clean(self.ci[0]), _clean(self.ci[1])))

    def to_json(self) -> dict:
        out: dict = {"id": self.id, "label": self.label, "value": self.value}
        for key in ("unit", "n", "N", "ci", "p_value", "method"):
            v = getattr(self, key)
            if v is not None and v != "":
                out[key] = list(v) if key == "ci" else v
        return out


class Registry:
    """Collects records; an id may be registered twice only with the identical record."""

    def __init__(self) -> None:
        self._records: dict[str, Record] = {}

    def add(self, record: Record) -> Record:
        old = self._records.get(record.id)
        if old is not None and old != record:
            raise ValueError(f"result id {record.id!r} registered twice with different content")
        self._records[record.id] = record
        return record

    def warn(self, rid: str, text: str) -> Record:
        """A warning about reported numbers: a record with no value, ``method`` = ``"warning"``."""
        return self.add(Record(rid, text, None, method="warning"))

    def __getitem__(self, rid: str) -> Record:
        return self._records[rid]

    def __contains__(self, rid: str) -> bool:
        return rid in self._records

    def __len__(self) -> int:
        return len(self._records)

    def records(self) -> list[Record]:
        return [self._records[k] for k in sorted(self._records)]

    def to_json(self) -> str:
        return json.dumps([r.to_json() for r in self.records()], indent=1, ensure_ascii=False, allow_nan=False) + "\n"

    def write(self, path: Path) -> Path:
        path.write_text(self.to_json(), encoding="utf-8")
        return path
