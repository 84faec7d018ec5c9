"""ADaM out: XPT v5 and Dataset-JSON 1.1 with CDISC names and labels, read back by second readers.

XPT is read back with ``pandas.read_sas`` (a reader independent of pyreadstat, which wrote it) and Dataset-JSON
with the standard json module; both must give the derived values (dates as SAS day numbers / ISO dates).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pyreadstat
import pytest

from cartalysis.derive import derive_all
from cartalysis.derive.adam import SPECS, adam_datasets, write_adam
from cartalysis.study.load import load_study

DOC = Path(__file__).resolve().parents[2] / "docs" / "derived-datasets.md"
CREATED = dt.datetime(2024, 5, 6, 7, 8, 9)


@pytest.fixture
def written(small_study, tmp_path):
    study = load_study(small_study)
    derived = derive_all(study)
    return derived, write_adam(derived, tmp_path / "adam", "SMALL", CREATED, study.tables["pk"]), tmp_path / "adam"


def sas_read(path: Path) -> pd.DataFrame:
    """pandas.read_sas, with its known artefact undone: a zero written by readstat reads as ~5.4e-79."""
    frame = pd.read_sas(path, format="xport", encoding="utf-8")
    for c in frame.select_dtypes("number"):
        frame[c] = frame[c].mask(frame[c].abs() < 1e-70, 0.0)
    return frame


def test_names_and_labels_fit_xpt_v5():
    for spec in SPECS:
        names = [v.name for v in spec.variables]
        assert len(names) == len(set(names)), spec.name
        for v in spec.variables:
            assert re.fullmatch(r"[A-Z][A-Z0-9]{0,7}", v.name) and len(v.label) <= 40, (spec.name, v.name)
        assert len(spec.name) <= 8 and len(spec.label) <= 40


def test_xpt_read_back_by_pandas_gives_the_derived_values(written):
    derived, paths, _ = written
    days = lambda s: (pd.to_datetime(s) - pd.Timestamp("1960-01-01")).dt.days.astype(float)  # noqa: E731
    adtte = sas_read(paths["ADTTE"][0])
    src = derived.adtte.reset_index(drop=True)
    assert len(adtte) == len(src) > 0
    assert list(adtte.USUBJID) == ["SMALL-" + p for p in src.patient_id]
    assert list(adtte.PARAMCD) == list(src.param)
    np.testing.assert_array_equal(adtte.AVAL, src.aval)
    np.testing.assert_array_equal(adtte.CNSR, src.cnsr)
    np.testing.assert_array_equal(adtte.ADT, days(src.adt))
    np.testing.assert_array_equal(adtte.STARTDT, days(src.startdt))
    events = (src.cnsr.to_numpy() == 0) & (src.param.to_numpy() != "FU")  # FU's "event" is being alive
    assert set(adtte.loc[events, "SRCVAR"]) <= {"DTHDT", "RLPSDT", "TRTSDT"}
    assert set(adtte.loc[src.param.to_numpy() == "OS", "SRCVAR"]) <= {"DTHDT", "LSTALVDT"}
    adsl = sas_read(paths["ADSL"][0])
    s = derived.adsl.reset_index(drop=True)
    assert list(adsl.SAFFL) == ["Y" if x else "N" for x in s.saffl]
    np.testing.assert_array_equal(adsl.TRTSDT, days(s.infusion_date))  # NaN where not infused, on both sides
    assert list(adsl.TRT01A) == ["CAR-T" if x else "" for x in s.saffl]
    adae = sas_read(paths["ADAE"][0])
    np.testing.assert_array_equal(adae.ATOXGRN, derived.adae.grade.astype(float).to_numpy())
    assert list(adae.TRTEMFL) == ["Y" if x else "N" for x in derived.adae.trtemfl]
    _, meta = pyreadstat.read_xport(str(paths["ADTTE"][0]), metadataonly=True)
    assert meta.column_names_to_labels["CNSDTDSC"] == "Censor Date Description"
    assert meta.original_variable_types["ADT"] == "DATE9." and meta.table_name == "ADTTE"


def test_dataset_json_read_back_by_json(written):
    derived, paths, _ = written
    for ds in adam_datasets(derived, "SMALL"):  # without samples: every dataset but ADPC
        doc = json.loads(paths[ds.spec.name][1].read_text(encoding="utf-8"))
        assert doc["datasetJSONVersion"] == "1.1.0" and doc["name"] == ds.spec.name
        assert doc["records"] == len(doc["rows"]) == len(ds.frame)
        assert [(c["name"], c["label"]) for c in doc["columns"]] == [(v.name, v.label) for v in ds.spec.variables]
        assert all(len(r) == len(doc["columns"]) for r in doc["rows"])
    doc = json.loads(paths["ADTTE"][1].read_text(encoding="utf-8"))
    col = {c["name"]: i for i, c in enumerate(doc["columns"])}
    assert doc["columns"][col["ADT"]] | {} == {"itemOID": "IT.ADTTE.ADT", "name": "ADT", "label": "Analysis Date",
                                               "dataType": "date", "targetDataType": "integer",
                                               "displayFormat": "DATE9."}
    src = derived.adtte.reset_index(drop=True)
    assert [r[col["ADT"]] for r in doc["rows"]] == [d.date().isoformat() for d in src.adt]
    assert [r[col["AVAL"]] for r in doc["rows"]] == pytest.approx(list(src.aval))
    assert [r[col["CNSR"]] for r in doc["rows"]] == list(src.cnsr)
    evnt = [r[col["EVNTDESC"]] for r in doc["rows"]]
    assert all(e is None for e, c in zip(evnt, src.cnsr) if c != 0)  # empty text is null, not ""


def test_adpc_from_the_pk_samples(small_study, written):
    _, paths, _ = written
    pk = load_study(small_study).tables["pk"].reset_index(drop=True)
    adpc = sas_read(paths["ADPC"][0])
    assert len(adpc) == len(pk) > 0 and set(adpc.PARAMCD) == {"TRANSGEN"}
    np.testing.assert_array_equal(adpc.ADY, pk.day.astype(float))
    np.testing.assert_array_equal(adpc.AVAL, pk.value.astype(float))
    blq = (pk.value.isna() & pk.lloq.notna()) | (pk.value < pk.lloq).fillna(False)
    assert list(adpc.BLQFL) == ["Y" if b else "N" for b in blq]


def test_metadata_file_per_dataset(written):
    _, paths, folder = written
    assert sorted(p.name for p in folder.glob("*.metadata.json")) == sorted(f"{s.name.lower()}.metadata.json"
                                                                               for s in SPECS)
    meta = json.loads(paths["ADTTE"][2].read_text(encoding="utf-8"))
    assert meta["dataset"] == "ADTTE" and meta["source"] == "derived/adtte.csv"
    cnsr = next(v for v in meta["variables"] if v["name"] == "CNSR")
    assert cnsr["type"] == "Num" and cnsr["length"] == 8 and cnsr["source"] == "adtte.csv:cnsr"
    assert "new therapy" in cnsr["derivation"]
    usubjid = next(v for v in meta["variables"] if v["name"] == "USUBJID")
    assert usubjid["type"] == "Char" and usubjid["length"] == max(len("SMALL-") + len(p) for p in
                                                                   pd.read_sas(paths["ADTTE"][0]).SUBJID.str.decode("utf-8"))


def test_same_data_same_bytes(small_study, tmp_path):
    derived = derive_all(load_study(small_study))
    a = write_adam(derived, tmp_path / "a", "SMALL", CREATED)
    b = write_adam(derived, tmp_path / "b", "SMALL", CREATED)
    for name in a:
        for pa, pb in zip(a[name], b[name]):
            assert pa.read_bytes() == pb.read_bytes(), pa.name


def test_doc_lists_every_adam_variable_with_its_source():
    text = DOC.read_text(encoding="utf-8").split("## ADaM names", 1)[1]
    for spec in SPECS:
        section = text.split(f"### {spec.name} ", 1)[1].split("\n### ", 1)[0]
        for v in spec.variables:
            source = v.source if isinstance(v.source, str) else None
            row = next((line for line in section.splitlines() if line.startswith(f"| `{v.name}` ")), None)
            assert row is not None, (spec.name, v.name)
            if source:
                assert f"`{source}`" in row, (spec.name, v.name)
