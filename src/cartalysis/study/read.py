"""Reading a study's raw tables: every cell as text, every row with its spreadsheet row number.

A study is a folder of CSV files named after the tables (``subjects.csv``, ...;
a table may instead be SAS XPT, Dataset-JSON or Parquet: ``subjects.xpt``, read by
``formats.py``) or one ``.xlsx`` workbook whose sheets carry the table names. Nothing is typed
here: ``parse.py`` converts cells per the spec so that its messages can quote
the user's text. Problems that make a whole file unusable (empty, not UTF-8,
not CSV) are data problems of that file; a study that cannot be opened at all
(missing path, permission, unreadable workbook) raises ``UsageError``.

The reference reader is :mod:`csv` (strict), not ``pandas.read_csv``: pandas
renames duplicate headers, raises on ragged rows and is lenient with stray
quotes, where we want to report each against the exact spreadsheet row. For
speed, a file that needs no quote to be read (none, or quotes that only
enclose whole cells free of commas, quotes and line breaks: ``_unquoted``)
and whose rows all have the header's width is split by pandas' C tokenizer
instead: a record of such a file is exactly one line cut at the commas, so
both readers give the same cells (the header row, ragged rows and blank rows
are found on the raw lines first).
Workbooks are read with openpyxl and each cell is rendered as the text a CSV
export of it would hold.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import gc
import hashlib
import io
import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from cartalysis.study.errors import Problem, UsageError
from cartalysis.study.spec import TABLES

XLSX_SUFFIXES = (".xlsx", ".xlsm")


@dataclass(frozen=True)
class RawTable:
    """One table as read: header names and data columns as text.

    ``rows[i]`` is the spreadsheet row of data row ``i``; wholly empty rows are
    dropped. ``columns[j]`` holds the stripped cells of column ``header[j]``
    (object array, ``""`` for an empty cell or one missing from a short row).
    ``file`` is how messages name the table (``subjects.csv`` or
    ``study.xlsx[subjects]``).
    """

    name: str
    file: str
    header: tuple[str, ...]
    rows: np.ndarray
    columns: tuple[np.ndarray, ...]


@dataclass(frozen=True)
class RawStudy:
    """All tables found in a study, with file-level problems and input checksums."""

    name: str
    path: Path
    tables: dict[str, RawTable]
    checksums: dict[str, str]
    plan_path: Path | None
    problems: tuple[Problem, ...]


def read_study(path: Path | str) -> RawStudy:
    """Read a study folder or workbook; raise ``UsageError`` if it cannot be opened at all."""
    path = Path(path)
    if not path.exists():
        raise UsageError(f"study not found: {path}")
    if path.is_dir():
        return _read_folder(path)
    if path.suffix.lower() in XLSX_SUFFIXES:
        return _read_workbook(path)
    if path.suffix.lower() == ".xls":
        raise UsageError(f"{path}: old .xls workbooks are not supported; save it as .xlsx")
    raise UsageError(f"{path} is not a study folder or an .xlsx workbook")


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except PermissionError:
        raise UsageError(f"cannot read {path}: permission denied") from None
    except OSError as e:
        raise UsageError(f"cannot read {path}: {e.strerror or e}") from None


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _read_folder(folder: Path) -> RawStudy:
    try:
        present = {p.name: p for p in folder.iterdir()}
    except OSError as e:
        raise UsageError(f"cannot list {folder}: {e.strerror or e}") from None
    tables: dict[str, RawTable] = {}
    checksums: dict[str, str] = {}
    problems: list[Problem] = []
    from cartalysis.study.formats import FOLDER_SUFFIXES, decode_table

    for spec in TABLES:
        found = [f"{spec.name}{s}" for s in FOLDER_SUFFIXES if f"{spec.name}{s}" in present]
        if not found:
            file = f"{spec.name}.csv"
            if spec.required:
                problems.append(Problem(file, None, None, _missing_file_message(file, present, folder)))
            continue
        file = found[0]
        if len(found) > 1:
            problems.append(Problem(file, None, None, f"the table is given twice ({' and '.join(found)}); keep one"))
            continue
        data = _read_bytes(present[file])
        checksums[file] = _sha256(data)
        if file.endswith(".csv"):
            table, file_problems = parse_csv_bytes(spec.name, file, data)
        else:
            table_file, file_problems = decode_table(spec.name, file, data, Path(file).suffix)
            table = None if table_file is None else table_file.raw
        problems.extend(file_problems)
        if table is not None:
            tables[spec.name] = table
    plan = folder / "sap.toml"
    return RawStudy(folder.name, folder, tables, checksums, plan if plan.is_file() else None, tuple(problems))


def _missing_file_message(file: str, present: dict[str, Path], folder: Path) -> str:
    message = "required file is missing"
    near = [n for n in present if n.lower() == file.lower()]
    if near:
        return f"{message} (found {near[0]}; file names are lower case)"
    workbooks = sorted(n for n in present if n.lower().endswith(XLSX_SUFFIXES))
    if workbooks:
        return f"{message} (the folder holds {workbooks[0]}: to use a workbook, give its path: {folder / workbooks[0]})"
    return message


def parse_csv_bytes(name: str, file: str, data: bytes) -> tuple[RawTable | None, list[Problem]]:
    """Decode and split one CSV file; ``None`` when the file as a whole is unusable."""
    if data.startswith(b"PK\x03\x04"):
        return None, [Problem(file, None, None, "this is a zip/Excel file, not CSV text; export the sheet as CSV UTF-8")]
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        return None, [
            Problem(
                file,
                None,
                None,
                f"not UTF-8 text (byte 0x{data[e.start]:02x} on line {line}); save the file as CSV UTF-8",
            )
        ]
    if not text.strip():
        return None, [Problem(file, None, None, "file is empty (expected a header row)")]
    fast = _split_plain(name, file, _unquoted(data, text))
    if fast is not None:
        return fast
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    with _no_cyclic_gc():
        try:
            records = list(reader)
        except csv.Error as e:
            return None, [csv_error_problem(file, text, reader.line_num, e)]
        return _raw_table(name, file, records)


def csv_error_problem(file: str, text: str, line: int, error: csv.Error) -> Problem:
    """A located, plain-language problem for what :mod:`csv` rejects (NUL bytes, cells over its field limit)."""
    if "\0" in text:
        at = text.index("\0")
        line_no = text.count("\n", 0, at) + 1
        return Problem(file, line_no, None, "the file contains a NUL character (byte 0) on this line, invisible in a "
                                            "spreadsheet: remove it (a file saved as UTF-16 is full of them: save "
                                            "as CSV UTF-8)")
    if "field larger than field limit" in str(error):
        return Problem(file, line, None, f"a cell longer than {csv.field_size_limit():,} characters ends on this "
                                         "line: usually a quote (\") opened and never closed, so the rest of the file "
                                         "became one cell")
    return Problem(file, line, None, f"not readable as CSV: {error}")


def workbook_failure(data: bytes, error: Exception) -> str:
    """Why an .xlsx cannot be opened, in words: password-protected, an old .xls, or damaged."""
    if data.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):  # OLE2 compound file, not a zip
        if "EncryptedPackage".encode("utf-16-le") in data:
            return ("the workbook is password-protected (encrypted); cartalysis cannot read it: save a copy "
                    "without the password (Excel: File > Info > Protect Workbook > Encrypt with Password, empty)")
        return "this is an old Excel 97-2003 (.xls) file or another OLE file, not .xlsx: save it as .xlsx"
    if not data.startswith(b"PK"):
        return "not an .xlsx workbook (an .xlsx file is a zip archive, and this is not one)"
    return f"the workbook is damaged ({type(error).__name__}: {error}); open it in Excel and save it again as .xlsx"


@contextlib.contextmanager
def _no_cyclic_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector while a file's records are built.

    The records are up to millions of small lists that cannot form cycles; the
    collector would otherwise walk all of them again and again as they are
    allocated (a third of the reading time on a large file).
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _read_workbook(path: Path) -> RawStudy:
    import openpyxl

    data = _read_bytes(path)
    try:
        with warnings.catch_warnings():
            # openpyxl warns about workbook features it skips (data validation, styles): not our user's concern.
            warnings.simplefilter("ignore")
            wb = openpyxl.load_workbook(io.BytesIO(data), data_only=True)
            sheets = {
                ws.title: [[_cell_text(v) for v in row] for row in ws.iter_rows(values_only=True)]
                for ws in wb.worksheets
            }
    except Exception as e:  # noqa: BLE001 - any failure of the xlsx parser means the workbook is unreadable
        raise UsageError(f"cannot open {path}: {workbook_failure(data, e)}") from None
    tables: dict[str, RawTable] = {}
    problems: list[Problem] = []
    for spec in TABLES:
        file = f"{path.name}[{spec.name}]"
        if spec.name not in sheets:
            if spec.required:
                near = [s for s in sheets if s.strip().lower() == spec.name]
                hint = f" (found sheet {near[0]!r}; sheet names are lower case)" if near else ""
                problems.append(Problem(file, None, None, f"required sheet is missing{hint}"))
            continue
        records = sheets[spec.name]
        if not any(any(c.strip() for c in r) for r in records):
            problems.append(Problem(file, None, None, "sheet is empty (expected a header row)"))
            continue
        table, sheet_problems = _raw_table(spec.name, file, records)
        problems.extend(sheet_problems)
        if table is not None:
            tables[spec.name] = table
    return RawStudy(path.stem, path, tables, {path.name: _sha256(data)}, None, tuple(problems))


def _cell_text(value: object) -> str:
    """Render a workbook cell as the text a CSV export would hold.

    Whole-number floats lose their ``.0`` (Excel stores every number as a
    float); date cells at midnight become ISO dates; a time of day is kept so
    the date parser can reject it with a clear message.
    """
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time(0) else value.isoformat(sep=" ")
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    return str(value)


_LINE_END = re.compile(r"\r\n|\r|\n")


_SEPARATOR_BYTES = np.isin(np.arange(256), list(b",\r\n"))  # byte value -> is a comma or line break


def _unquoted(data: bytes, text: str) -> str:
    """``text`` without its quotes when every quote only encloses a whole cell free of commas, quotes and line breaks.

    Such a cell (``"abc"``, as R's ``write.csv`` writes every string) is read by :mod:`csv` as its inner text, so
    dropping the quotes changes no cell and the file can take the quote-free path. Any other use of quotes (a comma
    or line break inside, ``""`` escapes, a quote mid-cell) leaves ``text`` as it is, for the :mod:`csv` reader.
    Checked on the bytes: quotes, commas and line breaks are ASCII and never part of a multi-byte UTF-8 character.
    """
    if '"' not in text or '\r""\n' in text:  # dropping those quotes would join \r and \n into one line break
        return text
    b = np.frombuffer(data[3:] if data.startswith(b"\xef\xbb\xbf") else data, dtype=np.uint8)
    quotes = np.flatnonzero(b == ord('"'))
    if len(quotes) % 2:
        return text
    opening, closing = quotes[0::2], quotes[1::2]
    is_separator = _SEPARATOR_BYTES[b]
    opens_cell = (opening == 0) | is_separator[np.maximum(opening - 1, 0)]
    closes_cell = (closing == len(b) - 1) | is_separator[np.minimum(closing + 1, len(b) - 1)]
    separators = np.append(np.flatnonzero(is_separator), len(b))
    nothing_inside = separators[np.searchsorted(separators, opening)] > closing
    if opens_cell.all() and closes_cell.all() and nothing_inside.all():
        return text.replace('"', "")
    return text


def _split_plain(name: str, file: str, text: str) -> tuple[RawTable | None, list[Problem]] | None:
    """The fast path of ``parse_csv_bytes`` for a file without quotes (after ``_unquoted``); ``None`` if it has some.

    Without a quote character, :mod:`csv` ends a record at every ``\\r\\n``,
    ``\\r`` or ``\\n`` and cuts it at every comma, so the lines give the same
    records. NUL bytes and over-long fields (which :mod:`csv` rejects) are left
    to the reference reader.
    """
    if '"' in text or "\0" in text:
        return None
    lines = _LINE_END.split(text)
    if lines[-1] == "":
        lines.pop()  # the terminator of the last line does not start a record
    if max(map(len, lines)) > csv.field_size_limit():
        return None
    header = lines[0].split(",")
    width = len(header)
    nonblank = [i for i, line in enumerate(lines) if i > 0 and line.replace(",", "").strip()]
    if any(lines[i].count(",") != width - 1 for i in nonblank) or (nonblank and lines[nonblank[0]][:1] == "\ufeff"):
        # ragged rows are reported per row; pandas would drop a byte-order mark opening its input
        return _raw_table(name, file, [line.split(",") if line else [] for line in lines])
    if nonblank:
        frame = pd.read_csv(io.StringIO("\n".join(lines[i] for i in nonblank)), sep=",", header=None,
                            names=range(width), index_col=False, dtype=object, na_filter=False,
                            quoting=csv.QUOTE_NONE, skip_blank_lines=False, engine="c")
        columns = [frame[j].to_numpy(dtype=object) for j in range(width)]
    else:
        columns = [np.array([], dtype=object) for _ in range(width)]
    rows = np.asarray(nonblank, dtype=np.int64) + 1
    return _assemble(name, file, header, rows, np.full(len(rows), width), columns)


def _raw_table(name: str, file: str, records: list[list[str]]) -> tuple[RawTable | None, list[Problem]]:
    """Split records into header and rows; check header names and row widths (see ``_assemble``)."""
    # a record is blank when every cell is whitespace, i.e. when their concatenation is
    data = [(i + 1, r) for i, r in enumerate(records) if i > 0 and "".join(r).strip()]
    width = len(records[0])
    widths = np.array([len(r) for _, r in data], dtype=np.int64)
    cells = [r if len(r) == width else (r + [""] * width)[:width] for _, r in data]
    columns = [np.array(c, dtype=object) for c in zip(*cells)] if data and width else []
    columns = columns or [np.array([], dtype=object) for _ in range(width)]
    return _assemble(name, file, records[0], np.array([i for i, _ in data], dtype=np.int64), widths, columns)


def _assemble(name: str, file: str, header_cells: list[str], rows: np.ndarray, widths: np.ndarray,
              columns: list[np.ndarray]) -> tuple[RawTable | None, list[Problem]]:
    """Check the header and row widths of one table and keep its named columns, stripped.

    ``rows`` are the spreadsheet rows of the non-blank data records (record i,
    0-based, is spreadsheet row i + 1, so the first data row is row 2),
    ``widths`` their cell counts and ``columns[j]`` their raw cells under
    header cell j (``""`` where a row is short). Blank header cells are
    dropped when their column is empty too; a header cell repeated is
    reported and its later copy ignored.
    """
    problems: list[Problem] = []
    if not any(c.strip() for c in header_cells):
        # Leading blank lines would shift the header; we refuse rather than guess.
        return None, [Problem(file, 1, None, "row 1 must be the header row, but it is empty")]
    header = [c.strip() for c in header_cells]
    if len(header) == 1 and (";" in header[0] or "\t" in header[0]):
        sep = "';'" if ";" in header[0] else "a tab"
        return None, [Problem(file, 1, None, f"the header uses {sep} as separator; cartalysis reads comma-separated files")]
    width = len(header)
    keep: list[int] = []
    seen: set[str] = set()
    stripped: dict[int, np.ndarray] = {}
    for j, h in enumerate(header):
        if not h:
            if (_strip(columns[j]) != "").any():
                problems.append(Problem(file, 1, None, f"column {j + 1} has values but no name in the header"))
            continue
        if h in seen:
            problems.append(Problem(file, 1, h, "column appears more than once in the header; later copies are ignored"))
            continue
        seen.add(h)
        keep.append(j)
        stripped[j] = _strip(columns[j])
    for k in np.flatnonzero(widths != width):
        # Even extra *empty* cells are reported: a stray comma mid-row shifts every later value.
        problems.append(Problem(file, int(rows[k]), None, f"row has {widths[k]} cells but the header has {width}"))
    return RawTable(name, file, tuple(header[j] for j in keep), rows, tuple(stripped[j] for j in keep)), problems


def _strip(cells: np.ndarray) -> np.ndarray:
    """``str.strip`` of every cell, computed once per distinct text."""
    codes, uniques = pd.factorize(cells)
    return np.array([u.strip() for u in uniques] + [""], dtype=object)[codes]
