"""The derived datasets with CDISC ADaM names and labels, written as SAS XPT v5 and Dataset-JSON 1.1.

``adam_datasets(derived, study_id, samples)`` maps each derived dataset (``docs/derived-datasets.md``) to an
ADaM-named one: ADSL, ADRS, ADTTE, ADAE, ADPP, ADTOX (daily ASTCT grades) and ADTOXEP (CRS/ICANS episodes), and the
study's kinetics samples (the ``pk`` table) to ADPC. Every variable
carries its source column and its derivation in words; ``write_adam`` writes ``<name>.xpt``, ``<name>.json`` and
``<name>.metadata.json`` (variables, labels, types, lengths, formats, sources, derivations) per dataset.

Conventions: USUBJID = STUDYID-patient_id; flags are ``Y``/``N`` (empty when unknown); dates are SAS dates
(DATE9.) in XPT and ISO dates in Dataset-JSON; times (AVAL) are in days, as in the CSV datasets. Names fit XPT v5
(at most 8 characters, labels at most 40), which a test checks. Not written: the counting-process HSCT dataset
(``adtte_hsct.csv``), which has no ADaM-named counterpart here yet.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from cartalysis.study.formats import Column, text_lengths, write_dataset_json, write_xpt

Source = str | Callable[[pd.DataFrame, pd.DataFrame, str], pd.Series]


@dataclass(frozen=True)
class AdamVar:
    """One ADaM variable: name, label, kind (text/number/date/flag), its source column (or a function of the
    derived frame, ADSL and the study id) and the derivation in words."""

    name: str
    label: str
    kind: str
    source: Source
    derivation: str = ""


@dataclass(frozen=True)
class AdamSpec:
    name: str
    label: str
    structure: str
    derived: str  # attribute of ``Derived``
    variables: tuple[AdamVar, ...]


def _studyid(frame, adsl, study_id):
    return pd.Series(study_id, index=frame.index, dtype=object)


def _usubjid(frame, adsl, study_id):
    return study_id + "-" + frame["patient_id"].astype(str)


def _from_adsl(column: str):
    def get(frame, adsl, study_id):
        return frame["patient_id"].map(adsl.set_index("patient_id")[column])
    return get


def _trt01a(frame, adsl, study_id):
    infused = frame["patient_id"].map(adsl.set_index("patient_id")["saffl"]).fillna(False).astype(bool)
    return pd.Series(np.where(infused, "CAR-T", ""), index=frame.index, dtype=object)


def _const(value: str):
    return lambda frame, adsl, study_id: pd.Series(value, index=frame.index, dtype=object)


def _upper(column: str):
    return lambda frame, adsl, study_id: frame[column].map(lambda v: v.upper() if isinstance(v, str) else v)


def _blq(frame, adsl, study_id):
    value, lloq = pd.to_numeric(frame["value"]), pd.to_numeric(frame["lloq"])
    known = value.notna() | lloq.notna()
    blq = (value.isna() & lloq.notna()) | (value < lloq).fillna(False)
    return blq.astype(object).where(known, None)


def _param_name(frame, adsl, study_id):
    return frame["param"].map(lambda p: PARAM_NAMES.get(p, p))


def _source_of(which: str):
    """SRCDOM/SRCVAR of an ADTTE row from its event or censoring description (admiral's convention)."""
    def get(frame, adsl, study_id):
        desc = np.where(frame["cnsr"] == 0, frame["evntdesc"], frame["cnsdtdsc"])
        return pd.Series([SOURCES.get(d, ("", ""))[0 if which == "dom" else 1] for d in desc], index=frame.index,
                         dtype=object)
    return get


PARAM_NAMES = {
    "OS": "Overall Survival (days)", "RFS": "Relapse-free Survival (days)", "EFS": "Event-free Survival (days)",
    "PFS": "Progression-free Survival (days)", "DFS": "Disease-free Survival (days)",
    "DOR": "Duration of Response (days)", "DOR_NOHSCT": "Duration of Response, no HSCT Censoring (days)",
    "CIR": "Cumulative Incidence of Relapse (days)", "FU": "Follow-up, Reverse KM (days)",
    "OVR": "Overall Response by Assessment", "BOR": "Best Overall Response", "M3RESP": "Response at Month 3",
    "MRDBEST": "MRD at Best Response", "MRDM3": "MRD at Month 3", "MRDVIS": "MRD by Visit",
    "CMAX": "Maximum Transgene Level", "TMAX": "Time of Maximum Level", "AUCINT": "AUC Day 0-28",
    "CLST": "Last Quantifiable Level", "TLST": "Time of Last Quantifiable Level", "DETECT": "Transgene Detected",
}
SOURCES = {  # event/censoring description -> (SRCDOM, SRCVAR)
    "DEATH": ("ADSL", "DTHDT"), "LAST KNOWN ALIVE": ("ADSL", "LSTALVDT"), "RELAPSE": ("ADSL", "RLPSDT"),
    "MARROW RELAPSE": ("ADSL", "RLPSDT"), "DEATH WITHOUT RELAPSE": ("ADSL", "DTHDT"),
    "NEW ANTICANCER THERAPY": ("ADSL", "NTHRPDT"), "ALLO-HSCT IN REMISSION": ("ADSL", "HSCTRDT"),
    "LAST DISEASE ASSESSMENT": ("ADRS", "ADT"), "NO RESPONSE": ("ADSL", "TRTSDT"),
}

_KEYS = (
    AdamVar("STUDYID", "Study Identifier", "text", _studyid, "study name"),
    AdamVar("USUBJID", "Unique Subject Identifier", "text", _usubjid, "STUDYID-patient_id"),
    AdamVar("SUBJID", "Subject Identifier for the Study", "text", "patient_id"),
    AdamVar("SITEID", "Study Site Identifier", "text", _from_adsl("site"), "subjects.site"),
)
_TRT = (
    AdamVar("TRT01A", "Actual Treatment for Period 01", "text", _trt01a, "CAR-T when infused, else empty"),
    AdamVar("TRTSDT", "Date of First Exposure to Treatment", "date", _from_adsl("infusion_date"),
            "CAR-T infusion date (day 0)"),
)

SPECS = (
    AdamSpec("ADSL", "Subject-Level Analysis Dataset", "One record per subject (screened)", "adsl", (
        *_KEYS, *_TRT,
        AdamVar("TRT01P", "Planned Treatment for Period 01", "text", _const("CAR-T"), "single-arm: CAR-T"),
        AdamVar("AGE", "Age", "number", "age"),
        AdamVar("AGEU", "Age Units", "text", _const("YEARS")),
        AdamVar("AGEGR1", "Pooled Age Group 1", "text", "age_group", "plan subgroups.age_breaks"),
        AdamVar("SEX", "Sex", "text", "sex"),
        AdamVar("RACE", "Race", "text", "race"),
        AdamVar("ECOGBL", "Baseline ECOG Performance Status", "number", "ecog"),
        AdamVar("DISSTAT", "Disease Status at Screening", "text", "disease_status"),
        AdamVar("BMBLBL", "Baseline Bone Marrow Blasts (%)", "number", "bm_blasts_pct"),
        AdamVar("ITTFL", "Intent-To-Treat Population Flag", "flag", "ittfl", "enrolled"),
        AdamVar("SAFFL", "Safety Population Flag", "flag", "saffl", "infused (infusion date present)"),
        AdamVar("APHDT", "Apheresis Date", "date", "apheresis_date"),
        AdamVar("LDSTDT", "Lymphodepletion Start Date", "date", "ld_start_date"),
        AdamVar("DCSSTG", "Discontinuation Stage", "text", "discontinuation_stage"),
        AdamVar("DCSREAS", "Reason for Discontinuation", "text", "discontinuation_reason"),
        AdamVar("BOR", "Best Overall Response", "text", "bor", "CR > CRi > NR > NE before relapse/HSCT/new therapy"),
        AdamVar("RLPSFL", "Relapse Flag", "flag", "relapse"),
        AdamVar("RLPSDT", "Relapse Date", "date", "relapse_dt", "earliest relapse assessment or event"),
        AdamVar("HSCTRDT", "Allo-HSCT in Remission Date", "date", "hsct_in_remission_dt",
                "first allo-HSCT after first CR/CRi and before relapse"),
        AdamVar("NTHRPDT", "New Anticancer Therapy Date", "date", "new_therapy_dt",
                "first non-exempt post-infusion therapy"),
        AdamVar("DTHFL", "Subject Death Flag", "flag", "death"),
        AdamVar("DTHDT", "Date of Death", "date", "death_dt"),
        AdamVar("DTHCAUS", "Cause of Death", "text", "death_cause"),
        AdamVar("LSTALVDT", "Date Last Known Alive", "date", "lastalive_dt", "death date, else latest date in any table"),
        AdamVar("CRSFL", "CRS Flag", "flag", "crs", "any CRS (ASTCT)"),
        AdamVar("CRSGR", "Maximum CRS Grade (ASTCT)", "number", "crs_grade"),
        AdamVar("ICANSFL", "ICANS Flag", "flag", "icans", "any ICANS (ASTCT)"),
        AdamVar("ICANSGR", "Maximum ICANS Grade (ASTCT)", "number", "icans_grade"),
    )),
    AdamSpec("ADTTE", "Time-to-Event Analysis Dataset", "One record per subject per parameter", "adtte", (
        *_KEYS, *_TRT,
        AdamVar("PARAMCD", "Parameter Code", "text", "param"),
        AdamVar("PARAM", "Parameter", "text", _param_name),
        AdamVar("AVAL", "Analysis Value", "number", "aval", "ADT - STARTDT in days (+1 if plan time.aval_add_one)"),
        AdamVar("AVALU", "Analysis Value Unit", "text", _const("DAYS")),
        AdamVar("STARTDT", "Time-to-Event Origin Date for Subject", "date", "startdt",
                "infusion date; first CR/CRi date for DOR and CIR"),
        AdamVar("ADT", "Analysis Date", "date", "adt", "event date, else censoring date"),
        AdamVar("CNSR", "Censor", "number", "cnsr",
                "0 event; 1 last assessment/alive; 2 new therapy; 3 allo-HSCT in remission; 4 non-responder"),
        AdamVar("EVNTDESC", "Event or Censoring Description", "text", "evntdesc"),
        AdamVar("CNSDTDSC", "Censor Date Description", "text", "cnsdtdsc"),
        AdamVar("EVNTCD", "Event Code (1 Event, 2 Competing)", "number", "evntcd", "CIR: 2 = death without relapse"),
        AdamVar("SRCDOM", "Source Data", "text", _source_of("dom"), "dataset holding the date used"),
        AdamVar("SRCVAR", "Source Variable", "text", _source_of("var"), "variable holding the date used"),
    )),
    AdamSpec("ADRS", "Response Analysis Dataset", "One record per subject per parameter per assessment", "adrs", (
        *_KEYS, _TRT[0],
        AdamVar("PARAMCD", "Parameter Code", "text", "param"),
        AdamVar("PARAM", "Parameter", "text", _param_name),
        AdamVar("AVALC", "Analysis Value (C)", "text", "avalc"),
        AdamVar("ADT", "Analysis Date", "date", "adt"),
        AdamVar("ADY", "Analysis Relative Day", "number", "ady", "ADT - infusion date"),
        AdamVar("AVISIT", "Analysis Visit", "text", "visit"),
        AdamVar("RSEVAL", "Evaluator", "text", _upper("assessor")),
        AdamVar("ANL01FL", "Primary Assessor Record Flag", "flag", "primary", "plan response.primary_assessor"),
        AdamVar("MRDMETH", "MRD Assay", "text", "mrd_method"),
        AdamVar("MRDRES", "MRD Result", "text", "mrd"),
        AdamVar("SRCTYPE", "Response Source (Explicit/Derived)", "text", "source"),
    )),
    AdamSpec("ADAE", "Adverse Events Analysis Dataset", "One record per adverse event", "adae", (
        *_KEYS, *_TRT,
        AdamVar("AETERM", "Reported Term for the Adverse Event", "text", "term"),
        AdamVar("AEDECOD", "Dictionary-Derived Term", "text", "term", "reported term (no dictionary coding)"),
        AdamVar("AEBODSYS", "Body System or Organ Class", "text", "soc"),
        AdamVar("ASTDT", "Analysis Start Date", "date", "onset_date"),
        AdamVar("AENDT", "Analysis End Date", "date", "end_date"),
        AdamVar("ASTDY", "Analysis Start Relative Day", "number", "asty"),
        AdamVar("AENDY", "Analysis End Relative Day", "number", "aeny"),
        AdamVar("ADURN", "Analysis Duration (N)", "number", "duration_days", "end - onset + 1"),
        AdamVar("ADURU", "Analysis Duration Units", "text", _const("DAYS")),
        AdamVar("ATOXGRN", "Analysis Toxicity Grade (N)", "number", "grade"),
        AdamVar("AESER", "Serious Event", "flag", "serious"),
        AdamVar("AEREL", "Causality (Related)", "flag", "related"),
        AdamVar("TRTEMFL", "Treatment Emergent Analysis Flag", "flag", "trtemfl", "onset on or after infusion"),
        AdamVar("AECAT", "Category for Adverse Event", "text", _upper("category"), "plan toxicity term lists"),
        AdamVar("AWRSTFL", "Worst Grade per Term Flag", "flag", "worst_fl",
                "first TEAE row with the patient's worst grade for the term"),
    )),
    AdamSpec("ADPP", "Pharmacokinetic Parameters Dataset", "One record per subject per matrix per parameter", "adpp", (
        *_KEYS,
        AdamVar("PPSPEC", "Specimen Material Type", "text", _upper("matrix")),
        AdamVar("PARAMCD", "Parameter Code", "text", "param"),
        AdamVar("PARAM", "Parameter", "text", _param_name),
        AdamVar("AVAL", "Analysis Value", "number", "aval", "NCA (docs/derived-datasets.md, adpp)"),
        AdamVar("AVALU", "Analysis Value Unit", "text", "unit"),
        AdamVar("ANLMETH", "Analysis Method", "text", "method"),
        AdamVar("REASND", "Reason Not Derived", "text", "comment"),
    )),
    AdamSpec("ADPC", "Pharmacokinetic Concentrations Dataset", "One record per subject per sample (pk table)", "pk", (
        *_KEYS,
        AdamVar("PCSPEC", "Specimen Material Type", "text", _upper("matrix")),
        AdamVar("PARAMCD", "Parameter Code", "text", _const("TRANSGEN")),
        AdamVar("PARAM", "Parameter", "text", _const("Transgene Level (qPCR)")),
        AdamVar("ADY", "Analysis Relative Day", "number", "day", "sampling day since infusion (day 0)"),
        AdamVar("AVAL", "Analysis Value", "number", "value"),
        AdamVar("AVALU", "Analysis Value Unit", "text", "unit"),
        AdamVar("LLOQ", "Lower Limit of Quantitation", "number", "lloq"),
        AdamVar("BLQFL", "Below Lower Limit of Quantitation Flag", "flag", _blq,
                "value < LLOQ, or no value with an LLOQ (as the NCA's BLQ rule)"),
    )),
    AdamSpec("ADTOX", "Daily ASTCT CRS/ICANS Grades", "One record per subject per day of daily toxicity data",
             "adtox", (
                 *_KEYS,
                 AdamVar("ADT", "Analysis Date", "date", "date"),
                 AdamVar("ADY", "Analysis Relative Day", "number", "ady"),
                 AdamVar("CRSGR", "CRS Grade of the Day (ASTCT)", "number", "crs_grade", "ASTCT 2019 consensus"),
                 AdamVar("ICANSGR", "ICANS Grade of the Day (ASTCT)", "number", "icans_grade", "ASTCT 2019 consensus"),
                 AdamVar("CRSEPI", "CRS Episode Number", "number", "crs_episode"),
                 AdamVar("ICANSEPI", "ICANS Episode Number", "number", "icans_episode"),
             )),
    AdamSpec("ADTOXEP", "CRS and ICANS Episodes", "One record per subject per CRS or ICANS episode", "tox_episodes", (
        *_KEYS,
        AdamVar("TOXCAT", "Toxicity (CRS/ICANS)", "text", "tox"),
        AdamVar("EPINUM", "Episode Number", "number", "episode"),
        AdamVar("ASTDT", "Analysis Start Date", "date", "onset_dt"),
        AdamVar("ASTDY", "Analysis Start Relative Day", "number", "onset_day"),
        AdamVar("AENDT", "Analysis End Date", "date", "end_dt"),
        AdamVar("ADURN", "Analysis Duration (N)", "number", "duration_days", "inclusive: end - onset + 1"),
        AdamVar("ATOXGRN", "Maximum Grade of the Episode", "number", "max_grade"),
        AdamVar("SRCTYPE", "Source (daily or adverse_events)", "text", "source"),
    )),
)


@dataclass(frozen=True)
class AdamDataset:
    spec: AdamSpec
    frame: pd.DataFrame

    @property
    def columns(self) -> list[Column]:
        return [Column(v.name, v.label, "text" if v.kind == "flag" else v.kind) for v in self.spec.variables]


def adam_datasets(derived, study_id: str, samples: pd.DataFrame | None = None) -> list[AdamDataset]:
    """Each derived dataset under its ADaM name, variables in spec order, rows in the derived order; ADPC from
    ``samples`` (the study's ``pk`` table), left out when it is not given."""
    adsl = derived.adsl
    out = []
    for spec in SPECS:
        if spec.derived == "pk" and samples is None:
            continue
        frame = samples if spec.derived == "pk" else getattr(derived, spec.derived)
        cols = {}
        for v in spec.variables:
            values = v.source(frame, adsl, study_id) if callable(v.source) else frame[v.source]
            cols[v.name] = _flag(values) if v.kind == "flag" else values
        out.append(AdamDataset(spec, pd.DataFrame(cols, index=frame.index).reset_index(drop=True)))
    return out


def _flag(values: pd.Series) -> pd.Series:
    return values.map(lambda v: "" if v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v))
                      else ("Y" if bool(v) else "N")).astype(object)


def write_adam(derived, out_dir: Path | str, study_id: str, created: dt.datetime,
               samples: pd.DataFrame | None = None) -> dict[str, list[Path]]:
    """Write every ADaM dataset as ``<name>.xpt`` (v5), ``<name>.json`` (Dataset-JSON 1.1) and
    ``<name>.metadata.json``; returns name -> paths. ``created`` stamps the files (same data, same bytes)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = {}
    for ds in adam_datasets(derived, study_id, samples):
        stem = ds.spec.name.lower()
        paths = [out / f"{stem}.xpt", out / f"{stem}.json", out / f"{stem}.metadata.json"]
        write_xpt(paths[0], ds.frame, ds.columns, ds.spec.name, ds.spec.label, created)
        write_dataset_json(paths[1], ds.frame, ds.columns, ds.spec.name, ds.spec.label, study_id, created)
        paths[2].write_text(json.dumps(metadata(ds), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        written[ds.spec.name] = paths
    return written


def metadata(ds: AdamDataset) -> dict:
    """What a reviewer needs to read the dataset: variables, labels, types, lengths, formats, sources, derivations."""
    lengths = text_lengths(ds.frame, ds.columns)
    return {"dataset": ds.spec.name, "label": ds.spec.label, "structure": ds.spec.structure,
            "source": "study table pk" if ds.spec.derived == "pk" else f"derived/{_CSV[ds.spec.derived]}", "records": len(ds.frame),
            "variables": [{"name": v.name, "label": v.label, "type": "Num" if v.kind in ("number", "date") else "Char",
                           "length": lengths[v.name], "format": "DATE9." if v.kind == "date" else "",
                           "source": (f"{_CSV[ds.spec.derived]}:{v.source}" if isinstance(v.source, str) else "derived"),
                           "derivation": v.derivation or ("Y/N from the boolean" if v.kind == "flag" else "copied")}
                          for v in ds.spec.variables]}


_CSV = {"pk": "pk", "adsl": "adsl.csv", "adtte": "adtte.csv", "adrs": "adrs.csv", "adae": "adae.csv", "adpp": "adpp.csv",
        "adtox": "adtox.csv", "tox_episodes": "adtox_episodes.csv"}
