"""Property: the importers never crash on random cell text. Whatever a cell holds, ``import sdtm`` and
``import redcap`` return their located problems (or, for a file that cannot be read at all, raise ``StudyError``
with located problems), and whatever they write is a study folder."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cartalysis.study.errors import StudyError
from cartalysis.study.formats import Column
from cartalysis.study.importers.domains import write_domain
from cartalysis.study.importers.redcap.dictionary import DICTIONARY, HERE
from cartalysis.study.importers.redcap.flat import import_redcap
from cartalysis.study.importers.sdtm import import_sdtm

TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12)
CELL = st.one_of(TEXT, st.sampled_from(["", "Y", "N", "2021-02-30", "2021-03", "-1", "1e309", "NaN", "P", "-P1D", "PT6H",
                                        "CR", "F", "SCREEN FAILURE", "LEUKAPHERESIS", "CAR-T", "10^8 CELLS"]))

SDTM_SHAPE = {
    "DM": ["USUBJID", "SUBJID", "SITEID", "SEX", "AGE", "AGEU", "RACE", "RFICDTC", "ARMCD", "ARMNRS", "DTHDTC"],
    "EX": ["USUBJID", "EXSEQ", "EXCAT", "EXTRT", "EXSTDTC", "EXENDTC", "EXDOSE", "EXDOSU"],
    "SC": ["USUBJID", "SCTESTCD", "SCSTRESC", "SCSTRESN", "SCBLFL"],
    "RS": ["USUBJID", "RSTESTCD", "RSSTRESC", "RSSTRESN", "RSDTC", "RSEVAL"],
    "AE": ["USUBJID", "AESEQ", "AETERM", "AEDECOD", "AESTDTC", "AEENDTC", "AETOXGR", "AESER", "AEREL"],
    "SUPPAE": ["USUBJID", "IDVAR", "IDVARVAL", "QNAM", "QVAL"],
    "FA": ["USUBJID", "FAOBJ", "FATESTCD", "FASTRESC", "FASTRESN", "FADTC"],
    "CM": ["USUBJID", "CMCAT", "CMTRT", "CMDECOD", "CMSTDTC", "CMENDTC", "CMOCCUR", "CMDOSE"],
    "PC": ["USUBJID", "PCTESTCD", "PCSPEC", "PCSTRESN", "PCLLOQ", "PCELTM", "PCDTC"],
    "LB": ["USUBJID", "LBTESTCD", "LBSTRESN", "LBSTRESU", "LBELTM", "LBDTC"],
    "CE": ["USUBJID", "CESEQ", "CECAT", "CEDECOD", "CESTDTC", "CETOXGR", "CELOC"],
    "DS": ["USUBJID", "DSCAT", "DSDECOD", "EPOCH", "DSTERM", "DSSTDTC"],
}


@st.composite
def sdtm_rows(draw):
    """Two subjects, each domain 1-3 rows; USUBJID from a small pool (so rows join), every other cell random."""
    out = {}
    for dom, names in SDTM_SHAPE.items():
        rows = []
        for _ in range(draw(st.integers(1 if dom == "DM" else 0, 3))):
            rows.append({n: (draw(st.sampled_from(["S-1", "S-2", "S-3", ""])) if n == "USUBJID" else draw(CELL)) for n in names})
        out[dom] = rows
    return out


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sdtm_rows())
def test_import_sdtm_never_raises_on_random_cells(domains):
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "sdtm"
        src.mkdir()
        for dom, rows in domains.items():
            write_domain(src / f"{dom.lower()}.json", dom, dom, [Column(n, n) for n in SDTM_SHAPE[dom]], rows, "S",
                         "2024-01-01T00:00:00")
        res = import_sdtm(src, Path(tmp) / "study")
        assert (res.study / "import-report.md").is_file() and (res.study / "subjects.csv").is_file()
        assert all(p.file for p in res.problems)


REDCAP_COLUMNS = ["record_id", "redcap_event_name", "redcap_repeat_instrument", "redcap_repeat_instance",
                  "redcap_data_access_group", "sex", "age", "disease_status", "screening_date", "enrolled", "infusion_date",
                  "tox_date", "tox_temp_max_c", "crs_treatment___tocilizumab", "ra_date", "ra_response", "ae_term",
                  "ae_grade", "ae_onset_date"]


@st.composite
def redcap_rows(draw):
    rows = []
    for _ in range(draw(st.integers(1, 5))):
        row = {c: draw(CELL) for c in REDCAP_COLUMNS}
        row["record_id"] = draw(st.sampled_from(["1", "2", "", draw(TEXT)]))
        row["redcap_event_name"] = draw(st.sampled_from(["baseline_arm_1", "follow_up_arm_1", draw(TEXT)]))
        row["redcap_repeat_instrument"] = draw(st.sampled_from(["", "daily_toxicity", "response_assessment", "adverse_events", draw(TEXT)]))
        rows.append(row)
    return rows


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(redcap_rows())
def test_import_redcap_never_raises_on_random_cells(rows):
    import csv
    import io

    buf = io.StringIO()
    w = csv.DictWriter(buf, REDCAP_COLUMNS, lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    with tempfile.TemporaryDirectory() as tmp:
        export = Path(tmp) / "export.csv"
        export.write_text(buf.getvalue(), encoding="utf-8")
        try:
            res = import_redcap(export, Path(str(HERE)) / DICTIONARY, Path(tmp) / "study")
        except StudyError as e:  # the file as a whole is unreadable: located problems, nothing written
            assert e.problems and all(p.file == "export.csv" for p in e.problems)
            assert not (Path(tmp) / "study").exists()
            return
        assert (res.study / "import-report.md").is_file()
        assert all(p.file for p in res.problems)
