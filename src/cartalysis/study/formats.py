"""One reader for the table formats of the field: CSV, XLSX, SAS XPT (v5/v8), CDISC Dataset-JSON 1.1, Parquet.

``read_table(path)`` and ``decode_table(name, file, data, suffix)`` return a :class:`TableFile`: the cells as the
text a CSV export would hold (a ``RawTable``, so ``parse.py`` types them and quotes the user's value in a message)
plus what the file says about its variables (label, display format, stored type, length). Row numbers follow the
CSV convention everywhere (the header is row 1, the first record row 2), so a problem in record 7 of an XPT file is
reported at row 8, as in the same data exported to CSV.

Readers (see README, Design):

- CSV: ``read.parse_csv_bytes`` (strict, located problems; its fast path belongs to ``read.py``).
- XLSX: openpyxl, the first sheet (a study workbook with one sheet per table is read by ``read.py``).
- SAS XPT v5 and v8: pyreadstat (readstat), which keeps variable labels and formats and converts numbers with
  a date format to dates. Numbers are cleaned of the artefact some XPT readers and writers produce for zero:
  an IBM float with a zero mantissa but a non-zero exponent, read as about 5.4e-79 (``pandas.read_sas`` does
  this on files written by pyreadstat). No clinical value is that small, so ``|x| < 1e-70`` is read as 0.
- Dataset-JSON 1.1 (``.json``, and ``.ndjson`` with the metadata on line 1 and one row per line): the standard
  library's json. No maintained Python library reads it (CDISC publishes the schema, not a reader); the format is
  a header object with ``columns`` (name, label, dataType, targetDataType, length, displayFormat) and ``rows``.
  An integer column whose displayFormat is a SAS date format holds days since 1960-01-01 and is rendered as an
  ISO date, as pyreadstat does for XPT.
- Parquet: pyarrow (through pandas); a field's ``label`` metadata, when present, is kept.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import math
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from cartalysis.study.errors import Problem, UsageError
from cartalysis.study.read import RawTable, _assemble, _cell_text, _raw_table, parse_csv_bytes, workbook_failure

# suffix -> format name, in the order a study folder is searched for a table
SUFFIXES = {".csv": "CSV", ".xpt": "SAS XPT", ".json": "Dataset-JSON", ".ndjson": "Dataset-JSON (NDJSON)",
            ".parquet": "Parquet", ".xlsx": "XLSX", ".xlsm": "XLSX"}
FOLDER_SUFFIXES = (".csv", ".xpt", ".json", ".ndjson", ".parquet")
IBM_ZERO_ARTEFACT = 1e-70
SAS_EPOCH = dt.date(1960, 1, 1)
_SAS_DATE_FORMAT = re.compile(r"(DATE|YYMMDD|E8601DA|MMDDYY|DDMMYY|IS8601DA|B8601DA)\d*\.?", re.IGNORECASE)


@dataclass(frozen=True)
class Variable:
    """What a file says about one column: its label, display format, stored type and length (empty if unknown)."""

    name: str
    label: str = ""
    format: str = ""
    type: str = ""
    length: int | None = None

    def described(self) -> str:
        """``AVAL (Analysis Value)``, or the bare name when the file gives no label."""
        return f"{self.name} ({self.label})" if self.label else self.name


@dataclass(frozen=True)
class TableFile:
    """One table file as read: the text cells (``raw``), the dataset label and one ``Variable`` per column."""

    raw: RawTable
    format: str
    label: str
    variables: tuple[Variable, ...]

    def variable(self, name: str) -> Variable:
        return next((v for v in self.variables if v.name == name), Variable(name))

    def frame(self) -> pd.DataFrame:
        """The cells as a DataFrame of text (NaN for an empty cell), indexed by the CSV-convention row number."""
        data = {h: np.where(c == "", np.nan, c).astype(object) for h, c in zip(self.raw.header, self.raw.columns)}
        return pd.DataFrame(data, index=pd.Index(self.raw.rows, name="row"), columns=list(self.raw.header))


def read_table(path: Path | str, name: str | None = None) -> tuple[TableFile | None, list[Problem]]:
    """Read one table file of any supported format (by suffix); ``None`` with problems when it is unusable.

    Raises ``UsageError`` when the file is missing, unreadable, or of an unsupported kind.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise UsageError(f"{path}: unsupported file type {path.suffix or '(none)'!r}; "
                         f"give one of {', '.join(sorted(SUFFIXES))}")
    if not path.is_file():
        raise UsageError(f"{path}: file not found")
    try:
        data = path.read_bytes()
    except OSError as e:
        raise UsageError(f"cannot read {path}: {e.strerror or e}") from None
    return decode_table(name or path.stem, str(path), data, suffix)


def decode_table(name: str, file: str, data: bytes, suffix: str) -> tuple[TableFile | None, list[Problem]]:
    """Decode the bytes of one table file; ``file`` is how messages name it."""
    suffix = suffix.lower()
    if suffix == ".csv":
        raw, problems = parse_csv_bytes(name, file, data)
        return (None if raw is None else TableFile(raw, "CSV", "", tuple(Variable(h) for h in raw.header))), problems
    if not data.strip():
        return None, [Problem(file, None, None, "file is empty")]
    reader = {".xpt": _xpt, ".json": _dataset_json, ".ndjson": _dataset_ndjson, ".parquet": _parquet,
              ".xlsx": _xlsx, ".xlsm": _xlsx}[suffix]
    try:
        return reader(name, file, data)
    except _Unreadable as e:
        return None, [Problem(file, None, None, str(e))]


class _Unreadable(Exception):
    """The file as a whole cannot be read in its format (one message)."""


def _typed_table(name: str, file: str, fmt: str, label: str, frame: pd.DataFrame,
                 variables: list[Variable]) -> tuple[TableFile | None, list[Problem]]:
    """Render typed columns as text and check the header like a CSV file's (duplicate or empty names)."""
    header = [str(c) for c in frame.columns]
    columns = [_as_text(frame.iloc[:, j]) for j in range(frame.shape[1])]
    rows = np.arange(len(frame), dtype=np.int64) + 2
    raw, problems = _assemble(name, file, header, rows, np.full(len(frame), len(header)), columns)
    if raw is None:
        return None, problems
    by_name = {v.name: v for v in variables}
    return TableFile(raw, fmt, label, tuple(by_name.get(h, Variable(h)) for h in raw.header)), problems


def _as_text(column: pd.Series) -> np.ndarray:
    """Cells as the text a CSV export would hold: whole numbers without ``.0``, dates ISO, missing empty."""
    if pd.api.types.is_bool_dtype(column):
        return np.where(column.isna(), "", column.map({True: "true", False: "false"})).astype(object)
    if pd.api.types.is_numeric_dtype(column):
        x = column.to_numpy(dtype=float, na_value=np.nan)
        x = np.where(np.abs(x) < IBM_ZERO_ARTEFACT, 0.0, x)
        return np.array([_number_text(v) for v in x], dtype=object)
    if pd.api.types.is_datetime64_any_dtype(column):
        return np.array(["" if pd.isna(v) else _cell_text(v.to_pydatetime()) for v in column], dtype=object)
    return np.array([_cell_text(_clean(v)) for v in column], dtype=object)


def _clean(value: object) -> object:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NaT:
        return None
    if isinstance(value, float) and abs(value) < IBM_ZERO_ARTEFACT:
        return 0.0
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return value


def _number_text(v: float) -> str:
    """Shortest text that reads back as the same float (Python's repr), whole numbers without ``.0``."""
    v = float(v)
    if math.isnan(v):
        return ""
    if v.is_integer() and abs(v) < 2**53:
        return str(int(v))
    return repr(v)


# --------------------------------------------------------------------------------------------------------------
# the formats


def _xpt(name: str, file: str, data: bytes) -> tuple[TableFile | None, list[Problem]]:
    import pyreadstat

    try:
        frame, meta = pyreadstat.read_xport(io.BytesIO(data))
    except Exception as e:  # noqa: BLE001 - readstat raises assorted errors (ReadstatError, OverflowError) on bad files
        raise _Unreadable(f"not readable as a SAS transport (XPT) file: {str(e).splitlines()[0] if str(e) else type(e).__name__}") from None
    labels = dict(zip(meta.column_names, meta.column_labels or [None] * len(meta.column_names)))
    variables = [Variable(c, labels.get(c) or "", meta.original_variable_types.get(c) or "",
                          "number" if meta.readstat_variable_types.get(c) == "double" else "text",
                          meta.variable_storage_width.get(c)) for c in meta.column_names]
    return _typed_table(name, file, "SAS XPT", meta.file_label or "", frame, variables)


def _dataset_json(name: str, file: str, data: bytes) -> tuple[TableFile | None, list[Problem]]:
    try:
        doc = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError) as e:
        raise _Unreadable(f"not readable as JSON: {e}") from None
    if not isinstance(doc, dict):
        raise _Unreadable("not a Dataset-JSON file (expected an object with 'columns' and 'rows')")
    return _dataset(name, file, "Dataset-JSON", doc, doc.get("rows", []))


def _dataset_ndjson(name: str, file: str, data: bytes) -> tuple[TableFile | None, list[Problem]]:
    try:
        lines = [json.loads(line) for line in data.decode("utf-8-sig").splitlines() if line.strip()]
    except (UnicodeDecodeError, ValueError) as e:
        raise _Unreadable(f"not readable as NDJSON: {e}") from None
    if not lines or not isinstance(lines[0], dict):
        raise _Unreadable("not a Dataset-JSON NDJSON file (line 1 must be the metadata object)")
    return _dataset(name, file, "Dataset-JSON (NDJSON)", lines[0], lines[1:])


def _dataset(name: str, file: str, fmt: str, doc: dict, rows: object) -> tuple[TableFile | None, list[Problem]]:
    """Check the Dataset-JSON 1.1 structure (columns with names; rows as lists of the columns' length)."""
    version = str(doc.get("datasetJSONVersion", ""))
    if "clinicalData" in doc or "referenceData" in doc:
        raise _Unreadable("this is Dataset-JSON 1.0; convert it to 1.1 (top-level 'columns' and 'rows')")
    columns = doc.get("columns")
    if not isinstance(columns, list) or not columns or not all(isinstance(c, dict) and c.get("name") for c in columns):
        raise _Unreadable("not a Dataset-JSON file: 'columns' must be a list of objects with a 'name'")
    if version and not version.startswith("1.1"):
        raise _Unreadable(f"Dataset-JSON version {version} is not supported (1.1 is)")
    if not isinstance(rows, list):
        raise _Unreadable("'rows' must be a list of rows")
    width = len(columns)
    problems = [Problem(file, i + 2, None, f"row has {len(r) if isinstance(r, list) else 'no'} values but "
                                           f"'columns' has {width}")
                for i, r in enumerate(rows) if not isinstance(r, list) or len(r) != width]
    if problems:
        return None, problems
    variables = [Variable(str(c["name"]), str(c.get("label") or ""), str(c.get("displayFormat") or ""),
                          str(c.get("dataType") or ""), c.get("length")) for c in columns]
    frame = pd.DataFrame([[_json_cell(v, var) for v, var in zip(r, variables)] for r in rows],
                         columns=[v.name for v in variables], dtype=object)
    return _typed_table(name, file, fmt, str(doc.get("label") or ""), frame, variables)


def _json_cell(value: object, var: Variable) -> object:
    """A Dataset-JSON value as a Python value: SAS day numbers with a date format become dates."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, (int, float)) and _SAS_DATE_FORMAT.fullmatch(var.format or ""):
        try:
            return SAS_EPOCH + dt.timedelta(days=int(value))
        except (OverflowError, ValueError):  # not a plausible day number: keep the number for the date parser to reject
            return _number_text(float(value))
    if isinstance(value, float):
        return _number_text(0.0 if abs(value) < IBM_ZERO_ARTEFACT else value)
    if isinstance(value, int):
        return str(value)
    return value


def _parquet(name: str, file: str, data: bytes) -> tuple[TableFile | None, list[Problem]]:
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(io.BytesIO(data))
    except Exception as e:  # noqa: BLE001 - pyarrow raises ArrowInvalid/OSError variants on damaged files
        raise _Unreadable(f"not readable as Parquet: {str(e).splitlines()[0]}") from None
    variables = [Variable(f.name, (f.metadata or {}).get(b"label", b"").decode("utf-8", "replace"), "", str(f.type))
                 for f in table.schema]
    return _typed_table(name, file, "Parquet", "", table.to_pandas(), variables)


def _xlsx(name: str, file: str, data: bytes) -> tuple[TableFile | None, list[Problem]]:
    import openpyxl

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # openpyxl warns about features it skips (validation, styles)
            wb = openpyxl.load_workbook(io.BytesIO(data), data_only=True, read_only=True)
            records = [[_cell_text(v) for v in row] for row in wb.worksheets[0].iter_rows(values_only=True)]
    except Exception as e:  # noqa: BLE001 - any failure of the xlsx parser means the workbook is unreadable
        raise _Unreadable(f"cannot open as an .xlsx workbook: {workbook_failure(data, e)}") from None
    if not any(any(c.strip() for c in r) for r in records):
        raise _Unreadable("the first sheet is empty (expected a header row)")
    raw, problems = _raw_table(name, file, records)
    return (None if raw is None else TableFile(raw, "XLSX", "", tuple(Variable(h) for h in raw.header))), problems



# --------------------------------------------------------------------------------------------------------------
# writing: SAS XPT v5 and Dataset-JSON 1.1, with labels, for datasets we produce


@dataclass(frozen=True)
class Column:
    """A column to write: ``kind`` is ``text``, ``number`` or ``date`` (a SAS date: days since 1960-01-01)."""

    name: str
    label: str
    kind: str = "text"

    @property
    def format(self) -> str:
        return "DATE9." if self.kind == "date" else ""


def write_xpt(path: Path, frame: pd.DataFrame, columns: list[Column], name: str, label: str, created: dt.datetime) -> None:
    """SAS transport v5 by pyreadstat (names <= 8 characters, labels <= 40, as v5 requires; checked by the caller).

    Dates are written as SAS day numbers with the DATE9. format. readstat stamps the header with the clock; the
    stamps are set to ``created`` so the same data give the same bytes.
    """
    import pyreadstat

    data = pd.DataFrame({c.name: _sas_values(frame[c.name], c.kind) for c in columns}, columns=[c.name for c in columns])
    pyreadstat.write_xport(data, str(path), file_format_version=5, table_name=name, file_label=label,
                           column_labels=[c.label for c in columns],
                           variable_format={c.name: c.format for c in columns if c.format} or None)
    stamp = created.strftime("%d%b%y:%H:%M:%S").upper().encode("ascii")
    raw = path.read_bytes()
    cut = raw.find(b"HEADER RECORD*******OBS")
    path.write_bytes(re.sub(rb"\d{2}[A-Z]{3}\d{2}:\d{2}:\d{2}:\d{2}", stamp, raw[:cut]) + raw[cut:])


def _sas_values(values: pd.Series, kind: str) -> pd.Series:
    if kind == "date":
        days = (pd.to_datetime(values) - pd.Timestamp(SAS_EPOCH)).dt.days
        return days.astype("float64")
    if kind == "number":
        return pd.to_numeric(values, errors="coerce").astype("float64")
    return values.map(lambda v: "" if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA else str(v))


def text_lengths(frame: pd.DataFrame, columns: list[Column]) -> dict[str, int]:
    """Stored length of each column: 8 for numbers and dates, the longest UTF-8 text (at least 1) otherwise."""
    return {c.name: 8 if c.kind != "text" else
            max([1] + [len(v.encode("utf-8")) for v in _sas_values(frame[c.name], "text")]) for c in columns}


def write_dataset_json(path: Path, frame: pd.DataFrame, columns: list[Column], name: str, label: str,
                       study_oid: str, created: dt.datetime) -> None:
    """CDISC Dataset-JSON 1.1: ``columns`` (itemOID, name, label, dataType, length, displayFormat) and ``rows``.

    Dates are ``dataType`` date (ISO text) with ``targetDataType`` integer (a SAS date in XPT), as the standard
    describes; numbers are ``double`` and missing values ``null``.
    """
    lengths = text_lengths(frame, columns)
    meta = []
    for c in columns:
        col = {"itemOID": f"IT.{name}.{c.name}", "name": c.name, "label": c.label,
               "dataType": {"text": "string", "number": "double", "date": "date"}[c.kind]}
        if c.kind == "date":
            col.update(targetDataType="integer", displayFormat="DATE9.")
        if c.kind == "text":
            col["length"] = lengths[c.name]
        meta.append(col)
    cells = []
    for c in columns:
        v = frame[c.name]
        if c.kind == "date":
            d = pd.to_datetime(v)
            cells.append([None if pd.isna(x) else x.date().isoformat() for x in d])
        elif c.kind == "number":
            x = pd.to_numeric(v, errors="coerce").astype("float64")
            cells.append([None if not math.isfinite(n) else (int(n) if n.is_integer() else n) for n in x])
        else:
            cells.append([s if s != "" else None for s in _sas_values(v, "text")])
    doc = {"datasetJSONCreationDateTime": created.strftime("%Y-%m-%dT%H:%M:%S"), "datasetJSONVersion": "1.1.0",
           "fileOID": f"cartalysis.{study_oid}.{name}", "originator": "cartalysis",
           "sourceSystem": {"name": "cartalysis", "version": "1"}, "studyOID": study_oid,
           "metaDataVersionOID": "MDV.1", "itemGroupOID": f"IG.{name}", "records": len(frame), "name": name,
           "label": label, "columns": meta, "rows": [list(r) for r in zip(*cells)] if cells else []}
    path.write_text(json.dumps(doc, ensure_ascii=False, allow_nan=False) + "\n", encoding="utf-8")
