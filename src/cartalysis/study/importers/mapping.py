"""The SDTM mapping file: which domain, test code or qualifier feeds which study column.

The default is ``sdtm_mapping.toml`` next to this module (documented there and
in ``docs/importers.md``). A user's ``--mapping FILE`` has the same shape; each
top-level table it gives (``[subjects]``, ``[events]``, ...) changes the
default key by key (the column lists ``findings``, ``milestones`` and
``medications`` column by column), so a file holding only
``[subjects.findings] ecog = "QS.ECOG"`` changes only that.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from cartalysis.study.errors import UsageError
from cartalysis.study.spec import TABLES_BY_NAME

DEFAULT = resources.files("cartalysis.study.importers") / "sdtm_mapping.toml"
COLLECTIONS = {"findings", "milestones", "medications"}  # sub-tables merged column by column; others replaced


@dataclass(frozen=True)
class Finding:
    """Rows of ``domain`` whose --TESTCD is ``testcd`` (and that match ``where``); the result is ``var``
    (default --STRESC/--STRESN, then --ORRES), translated by ``values`` when given."""

    column: str
    domain: str
    testcd: str
    where: dict[str, tuple[str, ...]]
    var: str | None
    values: dict[str, str] | None


def load_mapping(path: Path | None) -> dict[str, Any]:
    """The default mapping, overlaid with ``path``; ``UsageError`` naming the file and key when malformed."""
    base = tomllib.loads(DEFAULT.read_text(encoding="utf-8"))
    if path is None:
        return base
    try:
        user = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as e:
        raise UsageError(f"cannot read the mapping {path}: {e.strerror or e}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise UsageError(f"{Path(path).name}: not a valid TOML file ({e})") from None
    for key, value in user.items():
        if key not in base:
            raise UsageError(f"{Path(path).name}:{key}: unknown table; known: {', '.join(base)}")
        if not isinstance(value, dict):
            raise UsageError(f"{Path(path).name}:{key}: must be a table")
        for sub, v in value.items():
            if sub in COLLECTIONS and isinstance(v, dict) and isinstance(base[key].get(sub), dict):
                base[key][sub] = {**base[key][sub], **v}
            else:
                base[key][sub] = v
    _check(base, Path(path).name)
    return base


def _check(m: dict[str, Any], file: str) -> None:
    for table in ("subjects", "assessments", "toxicity_daily"):
        for col, spec in m[table].get("findings", {}).items():
            if col not in TABLES_BY_NAME[table].names:
                raise UsageError(f"{file}:{table}.findings.{col}: not a column of {table}")
            finding(col, spec, f"{file}:{table}.findings.{col}")


def where_of(spec: dict[str, Any]) -> dict[str, tuple[str, ...]]:
    w = spec.get("where", {}) or {}
    return {k.upper(): tuple(v) if isinstance(v, list) else (str(v),) for k, v in w.items()}


def finding(column: str, spec: Any, where: str = "mapping") -> Finding:
    """Parse ``"DOMAIN.TESTCD"`` or ``{domain, testcd, where, var, values}``."""
    if isinstance(spec, str):
        if spec.count(".") != 1:
            raise UsageError(f"{where}: {spec!r} is not DOMAIN.TESTCD")
        dom, code = spec.split(".")
        return Finding(column, dom.upper(), code, {}, None, None)
    if not isinstance(spec, dict) or not isinstance(spec.get("domain"), str) or not isinstance(spec.get("testcd"), str):
        raise UsageError(f"{where}: needs domain and testcd")
    values = spec.get("values")
    if values is not None and not isinstance(values, dict):
        raise UsageError(f"{where}.values: must be a table of source value = model value")
    return Finding(column, spec["domain"].upper(), spec["testcd"], where_of(spec), spec.get("var"),
                   {str(k): str(v) for k, v in values.items()} if values else None)
