"""load_study on a valid study: typed tables, optional tables, workbook input, checksums."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cartalysis.study.errors import StudyError, UsageError
from cartalysis.study.load import Study, load_study
from cartalysis.study.spec import PK, TABLES
from cartalysis.study.validate import validate_study

EXPECTED_DTYPE = {
    "date": "datetime64[ns]",
    "bool": "boolean",
    "int": "Int64",
    "float": "float64",
    "str": "object",
    "category": "object",
}


def _hashes(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def test_small_study_loads_clean_with_documented_dtypes(small_study):
    before = _hashes(small_study)
    study = load_study(small_study)
    assert isinstance(study, Study)
    assert study.name == "small" and study.path == small_study
    assert set(study.tables) == {t.name for t in TABLES}
    for t in TABLES:
        frame = study.tables[t.name]
        assert list(frame.columns[: len(t.columns)]) == list(t.names)
        for c in t.columns:
            assert str(frame[c.name].dtype) == EXPECTED_DTYPE[c.dtype], (t.name, c.name)
        assert isinstance(frame.index, pd.RangeIndex)
    assert _hashes(small_study) == before


def test_values_are_typed_as_written(small_study):
    s = load_study(small_study).tables
    p01 = s["subjects"].iloc[0]
    assert p01["patient_id"] == "P01"
    assert p01["infusion_date"] == pd.Timestamp("2021-02-15")
    assert p01["enrolled"] is np.True_ or p01["enrolled"] is True
    assert p01["prior_inotuzumab"] == False  # noqa: E712 (pandas boolean scalar)
    assert p01["ecog"] == 1 and p01["age"] == 34.0
    assert pd.isna(p01["inotuzumab_response"]) and pd.isna(p01["discontinuation_stage"])
    p05 = s["subjects"].iloc[4]
    assert pd.isna(p05["infusion_date"]) and p05["enrolled"] == False  # noqa: E712
    assert pd.isna(p05["bridging"])  # missing bool is <NA>, not False
    assert s["adverse_events"]["grade"].tolist() == [2, 4, 1, 3, 5, 3]
    assert s["pk"]["value"].tolist() == [0, 45000, 175000, 12000, 90000, 3000]


def test_numeric_extra_columns_are_numbers(small_study):
    """weight_kg: 61.5, 70, (empty), 80, (empty) — every filled cell a number, so a continuous covariate."""
    subjects = load_study(small_study).tables["subjects"]
    assert subjects.columns[-1] == "weight_kg"
    assert str(subjects["weight_kg"].dtype) == "float64"
    assert subjects["weight_kg"].tolist()[:2] == [61.5, 70.0]
    assert pd.isna(subjects["weight_kg"].iloc[2])


def test_other_extra_columns_are_kept_as_text():
    from cartalysis.study.parse import extra_column

    text = extra_column(np.array(["academic", "", "12"], dtype=object))
    assert text.dtype == object and text[0] == "academic" and pd.isna(text[1]) and text[2] == "12"
    # one non-number (a comma decimal, 'NA', '1e') keeps the whole column as text
    for odd in ("61,5", "NA", "1e", "5 kg"):
        assert extra_column(np.array(["70", odd], dtype=object)).dtype == object
    assert extra_column(np.array(["-2", "+.5", "1e3", ""], dtype=object)).tolist()[:3] == [-2.0, 0.5, 1000.0]
    assert extra_column(np.array(["", ""], dtype=object)).dtype == object  # nothing filled: text


def test_checksums_are_sha256_of_each_file_read(small_study, small_study_tables):
    (small_study / "notes.txt").write_text("ignored")
    study = load_study(small_study)
    assert study.checksums == {
        f"{name}.csv": hashlib.sha256(text.encode("utf-8")).hexdigest() for name, text in small_study_tables.items()
    }


def test_plan_path_is_sap_toml_when_present(small_study):
    assert load_study(small_study).plan_path is None
    (small_study / "sap.toml").write_text("[efficacy]\n")
    assert load_study(small_study).plan_path == small_study / "sap.toml"


def test_absent_optional_table_is_an_empty_typed_frame(small_study, small_study_tables):
    (small_study / "pk.csv").unlink()
    (small_study / "toxicity_daily.csv").write_text(small_study_tables["toxicity_daily"].splitlines()[0] + "\n")
    study = load_study(small_study)
    pk = study.tables["pk"]
    assert len(pk) == 0 and list(pk.columns) == list(PK.names)
    assert str(pk["day"].dtype) == "float64" and str(pk["matrix"].dtype) == "object"
    assert not study.has("pk") and not study.has("toxicity_daily")
    assert study.has("labs") and study.has("subjects")
    assert "pk.csv" not in study.checksums


def test_absent_optional_column_is_all_missing(small_study):
    ae = (small_study / "adverse_events.csv").read_text().splitlines()
    # drop the last two columns (serious, related) from every line
    (small_study / "adverse_events.csv").write_text("\n".join(",".join(line.split(",")[:-2]) for line in ae) + "\n")
    frame = load_study(small_study).tables["adverse_events"]
    assert frame["serious"].isna().all() and str(frame["serious"].dtype) == "boolean"


def test_same_input_same_tables(small_study):
    a, b = load_study(small_study), load_study(small_study)
    for name in a.tables:
        pd.testing.assert_frame_equal(a.tables[name], b.tables[name])


def test_workbook_loads_like_the_csv_folder(small_study, tmp_path, workbook_writer):
    book = workbook_writer(small_study, tmp_path / "small.xlsx")
    before = hashlib.sha256(book.read_bytes()).hexdigest()
    from_csv, from_xlsx = load_study(small_study), load_study(book)
    assert from_xlsx.name == "small" and from_xlsx.plan_path is None
    assert from_xlsx.checksums == {"small.xlsx": before}
    for name in from_csv.tables:
        pd.testing.assert_frame_equal(from_csv.tables[name], from_xlsx.tables[name], check_like=False)
    assert hashlib.sha256(book.read_bytes()).hexdigest() == before


def test_load_raises_study_error_with_all_problems(small_study):
    path = small_study / "adverse_events.csv"
    path.write_text(path.read_text().replace(",2,no,yes", ",7,no,yes").replace(",1,no,yes", ",0,no,yes"))
    with pytest.raises(StudyError) as e:
        load_study(small_study)
    assert [str(p) for p in e.value.problems] == [
        "adverse_events.csv:2:grade: '7' is above the maximum 5",
        "adverse_events.csv:4:grade: '0' is below the minimum 1",
    ]
    assert [str(p) for p in e.value.problems] == [str(p) for p in validate_study(small_study)]


def test_missing_study_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError, match="not found"):
        load_study(tmp_path / "nope")
