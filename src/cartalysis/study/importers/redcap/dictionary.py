"""The REDCap project of a CAR-T registry: data dictionary, instrument-event designations, repeating instruments.

The shipped files (``cart_registry_dictionary.csv``, ``instrument_designations.csv``,
``repeating_instruments.csv``, next to this module) are generated from the study
data model by ``python -m cartalysis.study.importers.redcap.dictionary`` so that
they stay in step with ``study/spec.py`` (a test checks it). A registry creates
its project from them (Project setup -> Data dictionary upload; Define my
events; Repeating instruments) and exports with "CSV (raw data)".

Every field carries ``cartalysis: table.column`` in its Field Annotation: that,
not the field name, is what the importer reads, so a project may rename
fields. Choices are coded: yes/no fields are REDCap ``yesno`` (1/0), sex uses
the usual numeric codes (1 Female, 2 Male), other categories use the data
model's value as the code. The patient is the record (``record_id``), the site
is the Data Access Group.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from cartalysis.study.errors import Problem, UsageError
from cartalysis.study.spec import TABLES_BY_NAME, Column

HERE = resources.files("cartalysis.study.importers.redcap")
DICTIONARY = "cart_registry_dictionary.csv"
DESIGNATIONS = "instrument_designations.csv"
REPEATING = "repeating_instruments.csv"

HEADER = ("Variable / Field Name", "Form Name", "Section Header", "Field Type", "Field Label",
          "Choices, Calculations, OR Slider Labels", "Field Note", "Text Validation Type OR Show Slider Number",
          "Text Validation Min", "Text Validation Max", "Identifier?", "Branching Logic (Show field only if...)",
          "Required Field?", "Custom Alignment", "Question Number (surveys only)", "Matrix Group Name",
          "Matrix Ranking?", "Field Annotation")
API_HEADER = ("field_name", "form_name", "section_header", "field_type", "field_label",
              "select_choices_or_calculations", "field_note", "text_validation_type_or_show_slider_number",
              "text_validation_min", "text_validation_max", "identifier", "branching_logic", "required_field",
              "custom_alignment", "question_number", "matrix_group_name", "matrix_ranking", "field_annotation")

BASELINE_EVENT = "baseline_arm_1"
FOLLOW_UP_EVENT = "follow_up_arm_1"

# (form, label, table, field prefix, columns, repeating)
FORMS: tuple[tuple[str, str, str, str, tuple[str, ...], bool], ...] = (
    ("baseline", "Baseline", "subjects", "", (
        "sex", "age", "race", "ecog", "disease_status", "prior_lines", "prior_hsct", "prior_blinatumomab",
        "prior_inotuzumab", "inotuzumab_response", "ph_status", "ikzf1", "mll_r", "tp53", "e2a_pbx1",
        "bm_blasts_pct", "emd", "cns", "cd19_positive", "screening_date", "enrolled"), False),
    ("product_infusion", "Product and infusion", "subjects", "", (
        "apheresis_date", "release_date", "bridging", "ld_start_date", "ld_end_date", "infusion_date",
        "dose_car_cells", "viability_pct", "transduction_pct", "cd4_pct", "cd8_pct", "discontinuation_stage",
        "discontinuation_reason", "hospital_days", "icu_admission", "icu_days"), False),
    ("daily_toxicity", "Daily toxicity (CRS/ICANS)", "toxicity_daily", "tox_", (
        "date", "temp_max_c", "hypotension", "vasopressors", "oxygen", "ice_score", "consciousness", "seizure",
        "motor_weakness", "cerebral_edema", "anakinra"), True),
    ("response_assessment", "Response assessment", "assessments", "ra_", (
        "date", "assessor", "bm_blasts_pct", "pb_blasts", "anc", "platelets", "emd", "mrd_method", "mrd_negative",
        "response"), True),
    ("clinical_events", "Events and follow-up", "events", "ev_", ("date", "event", "detail"), True),
    ("adverse_events", "Adverse events", "adverse_events", "ae_", (
        "term", "soc", "onset_date", "end_date", "grade", "serious", "related"), True),
    ("cellular_kinetics", "Cellular kinetics", "pk", "ck_", ("day", "matrix", "value", "unit", "lloq"), True),
    ("laboratory", "Laboratory", "labs", "lab_", ("day", "test", "value", "unit"), True),
    ("infections", "Infections", "infections", "inf_", (
        "onset_date", "end_date", "pathogen_class", "pathogen", "site", "grade", "serious", "related"), True),
    ("supportive_care", "Toxicity management and supportive care", "concomitant_meds", "cm_", (
        "medication", "name", "start_date", "end_date", "dose", "dose_unit", "indication"), True),
)
# the daily CRS/ICANS treatments, one checkbox: field crs_treatment___tocilizumab / ___steroids
CHECKBOX = ("daily_toxicity", "crs_treatment", "Treatment given that day", "toxicity_daily",
            (("tocilizumab", "Tocilizumab"), ("steroids", "Corticosteroids")))
SEX_CODES = (("1", "female", "Female"), ("2", "male", "Male"))
BRANCHING = {
    "inotuzumab_response": "[prior_inotuzumab] = '1'",
    "discontinuation_reason": "[discontinuation_stage] <> ''",
}


@dataclass(frozen=True)
class Field:
    """One dictionary row, with the data model column it feeds (from its annotation)."""

    name: str
    form: str
    type: str
    label: str
    choices: tuple[tuple[str, str], ...]  # (code, label)
    validation: str
    required: bool
    table: str | None
    column: str | None

    def choice_label(self, code: str) -> str | None:
        return next((lab for c, lab in self.choices if c == code), None)


CHOICE_LABELS = {
    "early_relapse": "Early relapse (first remission < 12 months)", "relapse_2plus": "Second or later relapse",
    "post_hsct_relapse": "Relapse after HSCT", "active_disease": "Active disease (> 5% marrow blasts)",
    "cr_mrd_pos": "CR MRD-positive", "cr_mrd_unknown": "CR MRD unknown", "cr_mrd_neg": "CR MRD-negative",
    "cr1": "First complete remission (CR1)", "auto": "Autologous", "allo": "Allogeneic", "ph_pos": "Ph-positive",
    "ph_like": "Ph-like", "ph_neg": "Ph-negative", "irc": "Independent review committee", "ngs": "NGS", "pcr": "PCR",
    "flow": "Flow cytometry", "hsct": "HSCT", "new_therapy": "New anticancer therapy", "car_t": "CAR-T",
    "csf": "CSF", "marrow": "Bone marrow", "g_csf": "G-CSF", "ivig": "IVIG", "hlh": "HLH", "positive_pressure": "Positive pressure (CPAP, BiPAP, ventilation)",
}


def _label(value: str) -> str:
    return CHOICE_LABELS.get(value) or (value.replace("_", " ").capitalize() if value.islower() else value)


def _row(field: str, form: str, ftype: str, label: str, choices: str = "", note: str = "", validation: str = "",
         vmin: str = "", vmax: str = "", required: bool = False, annotation: str = "", branching: str = "") -> list[str]:
    return [field, form, "", ftype, label, choices, note, validation, vmin, vmax, "", branching,
            "y" if required else "", "", "", "", "", annotation]


def _num(x: float | None) -> str:
    return "" if x is None else (str(int(x)) if float(x).is_integer() else str(x))


def _field_row(form: str, name: str, table: str, col: Column) -> list[str]:
    ann = f"cartalysis: {table}.{col.name}"
    label = col.description.rstrip(".") + (f" ({col.unit})" if col.unit else "")
    req = not col.nullable
    br = BRANCHING.get(name, "")
    if table == "subjects" and col.name == "sex":
        return _row(name, form, "radio", label, " | ".join(f"{c}, {lab}" for c, _, lab in SEX_CODES), required=req, annotation=ann)
    if col.dtype == "bool":
        return _row(name, form, "yesno", label, required=req, annotation=ann, branching=br)
    if col.dtype == "category":
        ftype = "radio" if len(col.allowed) <= 4 else "dropdown"
        return _row(name, form, ftype, label, " | ".join(f"{a}, {_label(a)}" for a in col.allowed), required=req,
                    annotation=ann, branching=br)
    if col.dtype == "date":
        return _row(name, form, "text", label, validation="date_ymd", required=req, annotation=ann, branching=br)
    if col.dtype in ("int", "float"):
        return _row(name, form, "text", label, validation="integer" if col.dtype == "int" else "number",
                    vmin=_num(col.min), vmax=_num(col.max), required=req, annotation=ann, branching=br)
    note = "relapse: cd19_pos/cd19_neg/cd19_mixed/unknown; hsct: allo/auto; new_therapy: tki, chemotherapy, inotuzumab, " \
           "blinatumomab, car_t, radiotherapy, other; death: cause" if col.name == "detail" else ""
    return _row(name, form, "notes" if col.name in ("discontinuation_reason", "detail") else "text", label, note=note,
                required=req, annotation=ann, branching=br)


def _columns(form: str, table: str, cols: tuple[str, ...]) -> tuple[str, ...]:
    """The form's columns; a data model column listed on no form of its table joins the table's last form
    (so a new column of the model reaches the dictionary on regeneration)."""
    listed = {c for f, _, t, _, cs, _ in FORMS if t == table for c in cs}
    last = [f for f, _, t, *_ in FORMS if t == table][-1]
    new = tuple(c.name for c in TABLES_BY_NAME[table].columns if c.name not in listed and c.name not in ("patient_id", "site")
                and not (table == "toxicity_daily" and c.name in {code for code, _ in CHECKBOX[4]}))
    return cols + (new if form == last else ())


def dictionary_rows() -> list[list[str]]:
    """The data dictionary, generated from the data model."""
    rows = [_row("record_id", "baseline", "text", "Patient identifier", required=True, annotation="cartalysis: subjects.patient_id")]
    for form, _, table, prefix, cols, _ in FORMS:
        for c in _columns(form, table, cols):
            rows.append(_field_row(form, prefix + c, table, TABLES_BY_NAME[table].column(c)))
        if form == CHECKBOX[0]:
            _, name, label, t, choices = CHECKBOX
            rows.append(_row(name, form, "checkbox", label, " | ".join(f"{c}, {lab}" for c, lab in choices),
                             annotation=f"cartalysis: {t}.{{code}}"))
    return rows


def designations() -> list[list[str]]:
    out = [["arm_num", "unique_event_name", "form"]]
    for form, _, _, _, _, repeating in FORMS:
        out.append(["1", FOLLOW_UP_EVENT if repeating else BASELINE_EVENT, form])
    return out


def repeating() -> list[list[str]]:
    return [["event_name", "form_name", "custom_form_label"]] + [
        [FOLLOW_UP_EVENT, form, ""] for form, _, _, _, _, rep in FORMS if rep]


def _csv(rows: list[list[str]]) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    return buf.getvalue()


def generated_files() -> dict[str, str]:
    return {DICTIONARY: _csv([list(HEADER)] + dictionary_rows()), DESIGNATIONS: _csv(designations()),
            REPEATING: _csv(repeating())}


# --------------------------------------------------------------------------- reading a project's files


@dataclass(frozen=True)
class Project:
    """A REDCap project as the importer needs it: fields by name, the forms of each event, the repeating forms."""

    fields: dict[str, Field]
    form_of: dict[str, str]  # field -> form
    events: dict[str, tuple[str, ...]]  # unique event name -> forms designated
    repeating: set[tuple[str, str]]  # (event, form)
    record_field: str


def _read_csv(path: Path) -> list[list[str]]:
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except OSError as e:
        raise UsageError(f"cannot read {path}: {e.strerror or e}") from None
    except UnicodeDecodeError:
        raise UsageError(f"{path.name}: not UTF-8 text") from None
    try:
        return [r for r in csv.reader(io.StringIO(text, newline="")) if any(c.strip() for c in r)]
    except csv.Error as e:
        raise UsageError(f"{path.name}: not a valid CSV file ({e})") from None


def _choices(text: str) -> tuple[tuple[str, str], ...]:
    out = []
    for part in text.split("|"):
        if part.strip():
            code, _, label = part.partition(",")
            out.append((code.strip(), label.strip()))
    return tuple(out)


def load_project(dictionary: Path, problems: list[Problem]) -> Project:
    """Read a data dictionary (REDCap's download or API header) and the event/repeating files next to it
    (or the shipped ones when absent). Problems in the dictionary are appended, located."""
    rows = _read_csv(dictionary)
    name = dictionary.name
    if not rows or [h.strip() for h in rows[0][:2]] not in ([HEADER[0], HEADER[1]], [API_HEADER[0], API_HEADER[1]]):
        raise UsageError(f"{name}: not a REDCap data dictionary (row 1 must start with "
                         f"'{HEADER[0]}, {HEADER[1]}' or 'field_name, form_name')")
    fields: dict[str, Field] = {}
    for i, r in enumerate(rows[1:], start=2):
        r = (r + [""] * 18)[:18]
        fname, form, ftype, label, choices, validation, required, ann = (r[0].strip(), r[1].strip(), r[3].strip(),
                                                                         r[4], r[5], r[7].strip(), r[12].strip(), r[17])
        if not fname or not form:
            problems.append(Problem(name, i, HEADER[0], "field name or form name is empty"))
            continue
        table = column = None
        if "cartalysis:" in ann:
            target = (ann.split("cartalysis:", 1)[1].split() or [""])[0]
            table, _, column = target.partition(".")
            if table not in TABLES_BY_NAME or (column != "{code}" and column not in TABLES_BY_NAME[table].names):
                problems.append(Problem(name, i, HEADER[17], f"'cartalysis: {target}' is not a table.column of the data model"))
                table = column = None
        fields[fname] = Field(fname, form, ftype, label, _choices(choices) if ftype in ("radio", "dropdown", "checkbox") else (),
                              validation, required.lower() == "y", table, column)
    if not fields:
        raise UsageError(f"{name}: the data dictionary has no fields")
    folder = dictionary.parent
    des = folder / DESIGNATIONS
    rep = folder / REPEATING
    des_rows = _read_csv(des)[1:] if des.is_file() else list(csv.reader(io.StringIO(generated_files()[DESIGNATIONS])))[1:]
    rep_rows = _read_csv(rep)[1:] if rep.is_file() else list(csv.reader(io.StringIO(generated_files()[REPEATING])))[1:]
    events: dict[str, list[str]] = {}
    for r in des_rows:
        if len(r) >= 3:
            events.setdefault(r[1].strip(), []).append(r[2].strip())
    return Project(fields, {f.name: f.form for f in fields.values()}, {e: tuple(v) for e, v in events.items()},
                   {(r[0].strip(), r[1].strip()) for r in rep_rows if len(r) >= 2}, next(iter(fields)))


def main() -> None:
    """Regenerate the shipped project files from the data model."""
    out = Path(str(HERE))
    for fname, text in generated_files().items():
        (out / fname).write_text(text, encoding="utf-8")
        print(out / fname)


if __name__ == "__main__":
    main()
