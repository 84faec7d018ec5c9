"""One table reader for CSV, XLSX, SAS XPT v5/v8, Dataset-JSON 1.1 (JSON and NDJSON) and Parquet.

The same small ADTTE-like table is written in code in every format (by the formats' own writers: pyreadstat,
pyarrow, openpyxl, json) and must read back as the same text cells; XPT and Dataset-JSON keep their labels.
"""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import openpyxl
import pandas as pd
import pyreadstat
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cartalysis.study.errors import UsageError
from cartalysis.study.formats import read_table
from cartalysis.study.load import read_and_check

LABELS = {"USUBJID": "Unique Subject Identifier", "PARAMCD": "Parameter Code", "AVAL": "Analysis Value",
          "CNSR": "Censor", "ADT": "Analysis Date"}
FRAME = pd.DataFrame({
    "USUBJID": ["S-001", "S-002", "S-003", "S-004"],
    "PARAMCD": ["OS", "OS", "PFS", "PFS"],
    "AVAL": [0.0, 12.5, 100.0, 3.25],
    "CNSR": [0, 1, 0, 2],
    "ADT": [dt.date(2021, 1, 4), dt.date(2021, 2, 1), None, dt.date(2022, 12, 31)],
})
TEXT = {"USUBJID": ["S-001", "S-002", "S-003", "S-004"], "PARAMCD": ["OS", "OS", "PFS", "PFS"],
        "AVAL": ["0", "12.5", "100", "3.25"], "CNSR": ["0", "1", "0", "2"],
        "ADT": ["2021-01-04", "2021-02-01", "", "2022-12-31"]}


def write_xpt(path, frame=FRAME, version=5):
    pyreadstat.write_xport(frame, str(path), file_format_version=version, table_name="ADTTE",
                           file_label="Time to Event", column_labels=[LABELS.get(c, "") for c in frame.columns],
                           variable_format={"ADT": "DATE9."} if "ADT" in frame else None)


def dataset_json(frame=FRAME):
    sas_days = lambda d: None if d is None else (d - dt.date(1960, 1, 1)).days  # noqa: E731
    cols = [{"itemOID": f"IT.ADTTE.{c}", "name": c, "label": LABELS[c],
             "dataType": {"AVAL": "double", "CNSR": "integer", "ADT": "integer"}.get(c, "string"),
             **({"displayFormat": "DATE9."} if c == "ADT" else {})} for c in frame.columns]
    rows = [[sas_days(v) if c == "ADT" else (v.item() if hasattr(v, "item") else v) for c, v in r.items()]
            for _, r in frame.iterrows()]
    return {"datasetJSONCreationDateTime": "2026-01-01T00:00:00", "datasetJSONVersion": "1.1.0",
            "itemGroupOID": "IG.ADTTE", "records": len(rows), "name": "ADTTE", "label": "Time to Event",
            "columns": cols, "rows": rows}


def write_all(tmp_path):
    files = {}
    files["csv"] = tmp_path / "t.csv"
    pd.DataFrame(TEXT).to_csv(files["csv"], index=False)
    files["xpt5"] = tmp_path / "t5.xpt"
    write_xpt(files["xpt5"])
    files["xpt8"] = tmp_path / "t8.xpt"
    write_xpt(files["xpt8"], version=8)
    doc = dataset_json()
    files["json"] = tmp_path / "t.json"
    files["json"].write_text(json.dumps(doc))
    files["ndjson"] = tmp_path / "t.ndjson"
    meta = {k: v for k, v in doc.items() if k != "rows"}
    files["ndjson"].write_text("\n".join(json.dumps(x) for x in [meta, *doc["rows"]]) + "\n")
    files["parquet"] = tmp_path / "t.parquet"
    FRAME.assign(ADT=pd.to_datetime(FRAME.ADT)).to_parquet(files["parquet"])
    files["xlsx"] = tmp_path / "t.xlsx"
    wb = openpyxl.Workbook()
    wb.active.append(list(FRAME.columns))
    for r in FRAME.itertuples(index=False):
        wb.active.append(list(r))
    wb.save(files["xlsx"])
    return files


def test_every_format_reads_the_same_cells(tmp_path):
    for kind, path in write_all(tmp_path).items():
        table, problems = read_table(path)
        assert problems == [], kind
        cells = {h: list(c) for h, c in zip(table.raw.header, table.raw.columns)}
        assert cells == TEXT, kind
        assert list(table.raw.rows) == [2, 3, 4, 5], kind


def test_xpt_and_dataset_json_keep_labels_and_formats(tmp_path):
    files = write_all(tmp_path)
    for kind in ("xpt5", "xpt8", "json", "ndjson"):
        table, _ = read_table(files[kind])
        assert table.label == "Time to Event", kind
        assert {v.name: v.label for v in table.variables} == LABELS, kind
        assert table.variable("ADT").format.startswith("DATE9"), kind
        assert table.variable("AVAL").described() == "AVAL (Analysis Value)"
    xpt, _ = read_table(files["xpt5"])
    assert xpt.variable("AVAL").type == "number" and xpt.variable("USUBJID").type == "text"


def test_zero_is_never_a_tiny_denormal(tmp_path):
    """pandas.read_sas reads pyreadstat's zeros as 5.4e-79; our reader gives 0 (the artefact check is not moot)."""
    path = tmp_path / "z.xpt"
    write_xpt(path, pd.DataFrame({"X": [0.0, -0.0, 1e-3, 5.397605346934028e-79]}))
    via_pandas = pd.read_sas(path, format="xport")["X"].tolist()
    assert 0 < via_pandas[0] < 1e-70  # the artefact exists in the second reader
    table, _ = read_table(path)
    assert list(table.raw.columns[0]) == ["0", "0", "0.001", "0"]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(min_value=-1e12, max_value=1e12, allow_nan=False).filter(lambda x: abs(x) > 1e-60),
                min_size=1, max_size=20))
def test_xpt_numbers_round_trip_exactly(tmp_path_factory, values):
    path = tmp_path_factory.mktemp("x") / "x.xpt"
    write_xpt(path, pd.DataFrame({"X": values}))
    table, _ = read_table(path)
    assert [float(v) for v in table.raw.columns[0]] == values


def test_bad_files_are_one_located_line(tmp_path):
    files = write_all(tmp_path)
    cases = {
        "cut.xpt": files["xpt5"].read_bytes()[:300],
        "junk.xpt": b"not a transport file at all" * 10,
        "junk.parquet": b"PAR1 nothing",
        "v10.json": json.dumps({"clinicalData": {}}).encode(),
        "list.json": b"[1, 2]",
        "bad.json": b"{",
        "empty.json": b"",
        "junk.xlsx": b"PK\x03\x04 broken",
    }
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
        table, problems = read_table(tmp_path / name)
        assert table is None and len(problems) == 1, name
        assert str(problems[0]).startswith(f"{tmp_path / name}:::"), name
    doc = dataset_json()
    doc["rows"][2] = doc["rows"][2][:-1]
    (tmp_path / "ragged.json").write_text(json.dumps(doc))
    table, problems = read_table(tmp_path / "ragged.json")
    assert [str(p).split(str(tmp_path))[1] for p in problems] == ["/ragged.json:4:: row has 4 values but 'columns' has 5"]
    with pytest.raises(UsageError, match="unsupported file type"):
        read_table(tmp_path / "t.sas7bdat")
    with pytest.raises(UsageError, match="file not found"):
        read_table(tmp_path / "absent.xpt")


def test_study_folder_may_hold_xpt_json_or_parquet(tmp_path, pivotal_dir=None):
    """A study whose tables are XPT, Dataset-JSON and Parquet loads like the same study in CSV."""
    from cartalysis.twins.generate import write_twin

    csv_dir = tmp_path / "csv"
    write_twin("pivotal", csv_dir)
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    kinds = [".xpt", ".json", ".parquet", ".csv"]
    for i, f in enumerate(sorted(csv_dir.glob("*.csv"))):
        frame = pd.read_csv(f, dtype=str, keep_default_na=False)
        kind = kinds[i % len(kinds)]
        out = mixed / f"{f.stem}{kind}"
        if kind == ".xpt":
            pyreadstat.write_xport(frame, str(out), file_format_version=8)
        elif kind == ".json":
            cols = [{"itemOID": c, "name": c, "label": c, "dataType": "string"} for c in frame.columns]
            out.write_text(json.dumps({"datasetJSONVersion": "1.1.0", "columns": cols,
                                       "rows": frame.to_numpy().tolist()}))
        elif kind == ".parquet":
            frame.to_parquet(out)
        else:
            out.write_bytes(f.read_bytes())
    a, pa = read_and_check(csv_dir)
    b, pb = read_and_check(mixed)
    assert pa == [] and pb == []
    for name in a.tables:
        pd.testing.assert_frame_equal(a.tables[name], b.tables[name], check_dtype=True)
    assert any(k.endswith(".xpt") for k in b.checksums) and any(k.endswith(".json") for k in b.checksums)


def test_study_table_given_twice_is_a_problem(tmp_path):
    from cartalysis.twins.generate import write_twin

    write_twin("pivotal", tmp_path)
    frame = pd.read_csv(tmp_path / "subjects.csv", dtype=str, keep_default_na=False)
    frame.to_parquet(tmp_path / "subjects.parquet")
    _, problems = read_and_check(tmp_path)
    assert any("given twice" in p.message and p.file == "subjects.csv" for p in problems)


def test_frame_is_indexed_by_spreadsheet_row(tmp_path):
    table, _ = read_table(write_all(tmp_path)["xpt5"])
    frame = table.frame()
    assert list(frame.index) == [2, 3, 4, 5] and np.isnan(frame.loc[4, "ADT"])
