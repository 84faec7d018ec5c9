"""Reading SDTM datasets for the importer: rows by domain and selection, their patients, SUPPxx qualifiers,
findings keyed as a study table needs them, and the tally of every row (``import-report.md``)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cartalysis.study.importers.common import ImportLog, iso_date, to_model
from cartalysis.study.importers.domains import Domain, find_domains, read_domain
from cartalysis.study.importers.mapping import Finding, where_of
from cartalysis.study.spec import TABLES_BY_NAME

_ELTM = re.compile(r"(-)?P(?:(\d+(?:\.\d+)?)D)?(?:T(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?)?")


def eltm_days(text: str) -> float | None:
    """ISO 8601 elapsed time (``P28D``, ``PT6H``, ``P0.25D``, ``-P1D``, SDTM --ELTM) in days; None if not one."""
    m = _ELTM.fullmatch(text.strip())
    if not m or not any(m.group(i) for i in range(2, 6)):
        return None
    d, h, mi, s = (float(m.group(i) or 0) for i in range(2, 6))
    days = d + h / 24 + mi / 1440 + s / 86400
    return -days if m.group(1) else days


@dataclass
class Source:
    """A domain being read, with the subject each row belongs to."""

    dom: Domain
    pids: list[str | None]

    @property
    def file(self) -> str:
        return self.dom.file


class SdtmSource:
    """The SDTM folder being imported: datasets read on demand, rows joined to patients through DM, and the
    tally of what each row was used for (or why not)."""

    def __init__(self, folder: Path, mapping: dict[str, Any]):
        self.folder = folder
        self.m = mapping
        self.files = find_domains(folder)
        self.log = ImportLog(str(folder))
        self._cache: dict[str, Source | None] = {}
        self.sources: dict[str, str] = {}
        self.usubjid: dict[str, str] = {}

    # ---------------------------------------------------------------- access

    def source(self, name: str) -> Source | None:
        name = name.upper()
        if name not in self._cache:
            path = self.files.get(name)
            if path is None:
                self._cache[name] = None
            else:
                dom = read_domain(path)
                t = self.log.tally(dom.file)
                pids: list[str | None] = []
                t.rows = list(dom.numbers)
                for i, r in zip(dom.numbers, dom.rows):
                    u = r.get("USUBJID", "")
                    pid = self.usubjid.get(u) if name != "DM" else None
                    if name != "DM" and pid is None:
                        t.skip(i, f"USUBJID {u!r} is not in DM" if u else "USUBJID is empty")
                    pids.append(pid)
                self._cache[name] = Source(dom, pids)
        return self._cache[name]

    def rows(self, domain: str, where: dict[str, tuple[str, ...]]):
        """(record number, pid, row) of the rows of ``domain`` with a known subject matching ``where``."""
        src = self.source(domain)
        if src is None:
            return
        for i, r, pid in zip(src.dom.numbers, src.dom.rows, src.pids):
            if pid is None:
                continue
            if all(r.get(k, "").upper() in {v.upper() for v in vals} for k, vals in where.items()):
                yield i, pid, r

    def use(self, domain: str, row: int) -> None:
        src = self.source(domain)
        if src is not None:
            self.log.tally(src.file).use(row)

    def skip(self, domain: str, row: int, reason: str) -> None:
        src = self.source(domain)
        if src is not None:
            self.log.tally(src.file).skip(row, reason)

    def problem(self, domain: str, row: int, var: str, message: str) -> None:
        src = self.source(domain)
        self.log.problem(src.file if src else domain, row, var, message)
        self.skip(domain, row, f"{var}: value does not fit (see the values that did not fit)")

    def date(self, domain: str, row: int, r: dict[str, str], var: str) -> str | None:
        text = r.get(var, "")
        if not text:
            self.skip(domain, row, f"{var} is empty")
            return None
        d, why = iso_date(text)
        if why:
            self.problem(domain, row, var, why)
        return d

    def supp(self, domain: str) -> dict[tuple[str, str, str], dict[str, tuple[int, str]]]:
        """SUPPxx qualifiers: (USUBJID, IDVAR, IDVARVAL) -> QNAM -> (record, QVAL)."""
        out: dict[tuple[str, str, str], dict[str, tuple[int, str]]] = {}
        for i, pid, r in self.rows(f"SUPP{domain}", {}):
            out.setdefault((r.get("USUBJID", ""), r.get("IDVAR", "").upper(), r.get("IDVARVAL", "")), {})[r.get("QNAM", "").upper()] = (i, r.get("QVAL", ""))
        return out

    # ---------------------------------------------------------------- findings

    def findings(self, f: Finding, table: str, key_of) -> dict[tuple, tuple[str, str, int]]:
        """Values of one finding keyed by ``key_of(pid, domain, row, r)`` -> (text, file, record)."""
        col = TABLES_BY_NAME[table].column(f.column)
        dom = f.domain
        where = {**f.where, f"{dom}TESTCD": (f.testcd,)}
        out: dict[tuple, tuple[str, str, int]] = {}
        numeric = col.dtype in ("int", "float") and not f.values
        for i, pid, r in self.rows(dom, where):
            var = f.var or next((v for v in ((f"{dom}STRESN", f"{dom}STRESC") if numeric else (f"{dom}STRESC", f"{dom}STRESN"))
                                 if r.get(v, "")), f"{dom}ORRES")
            text = r.get(var, "")
            if text == "":
                self.skip(dom, i, f"{dom}TESTCD={f.testcd}: no result")
                continue
            key = key_of(pid, dom, i, r)
            if key is None:
                continue
            value, why = to_model(text, col, f.values)
            if why:
                self.problem(dom, i, var, f"{table}.{f.column}: {why}")
                continue
            if key in out and out[key][0] != value:
                self.problem(dom, i, var, f"{table}.{f.column}: a second, different value {value!r} for the same "
                             f"{'patient' if len(key) == 1 else 'patient and date'} (first: record {out[key][2]})")
                continue
            self.use(dom, i)
            out.setdefault(key, (value, self.source(dom).file, i))
        self.sources[f"{table}.{f.column}"] = f"{dom} {dom}TESTCD={f.testcd}" + (f" {f.var}" if f.var else "")
        return out

    # ---------------------------------------------------------------- tables


def where_text(spec: dict[str, Any]) -> str:
    return ", ".join(f"{k}={'/'.join(v)}" for k, v in where_of(spec).items()) or "all rows"
