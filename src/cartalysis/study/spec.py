"""The study data model, encoded once.

A study is a folder of CSV files (or one ``.xlsx`` workbook) with one table per
file/sheet, each keyed by ``patient_id``. ``docs/data-model.md`` documents the
same columns for users; ``tests/study/test_spec_doc.py`` keeps the two in step.

Column types:
``str`` free text; ``int``/``float`` numbers (``min``/``max`` inclusive);
``date`` ISO ``YYYY-MM-DD``; ``bool`` ``yes``/``no`` (also accepted:
``true``/``false``, ``1``/``0``, ``y``/``n``, any case); ``category`` one of
``allowed`` (exact spelling).

``required`` means the column must be present in the file; ``nullable``
means a cell may be left empty. ``identifying`` marks a direct identifier and
``free_text`` a column that may hold free text (coded values aside): the
registry's de-identified export drops the first and blanks the second.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Dtype = Literal["str", "int", "float", "date", "bool", "category"]

BOOL_TRUE = frozenset({"yes", "y", "true", "1"})
BOOL_FALSE = frozenset({"no", "n", "false", "0"})


@dataclass(frozen=True)
class Column:
    name: str
    dtype: Dtype
    description: str
    unit: str = ""
    allowed: tuple[str, ...] = ()
    min: float | None = None
    max: float | None = None
    required: bool = True
    nullable: bool = True
    identifying: bool = False
    free_text: bool = False


@dataclass(frozen=True)
class Table:
    name: str
    description: str
    columns: tuple[Column, ...]
    required: bool = True
    key: tuple[str, ...] = ("patient_id",)

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)


def _pid() -> Column:
    return Column("patient_id", "str", "Patient identifier, unique within the study.", nullable=False)


def _flag(name: str, description: str, required: bool = False) -> Column:
    return Column(name, "bool", description, required=required)


DISEASE_STATUS = (
    "early_relapse",          # first relapse after a first remission shorter than 12 months
    "primary_refractory",     # never reached remission
    "relapse_2plus",          # relapse after two or more remissions
    "refractory_relapse",     # first relapse without remission after >= 1 salvage line
    "post_hsct_relapse",      # relapse or refractory disease after HSCT
    "active_disease",         # registry style: > 5% marrow blasts at apheresis
    "cr_mrd_pos",             # in CR, MRD positive
    "cr_mrd_unknown",         # in CR, MRD not known
    "cr_mrd_neg",             # in CR, MRD negative
    "cr1",                    # first complete remission (consolidation trials)
)

DISCONTINUATION_STAGES = (
    "screening",                # screened, not enrolled
    "before_manufacture",       # enrolled, product not manufactured
    "before_lymphodepletion",   # manufactured, stopped before lymphodepletion
    "after_lymphodepletion",    # lymphodepleted, not infused
)

SUBJECTS = Table(
    "subjects",
    "One row per screened patient: demographics, disease at baseline, milestones, product.",
    (
        _pid(),
        Column("site", "str", "Study site or registry center.", nullable=False),
        Column("sex", "category", "Sex.", allowed=("female", "male")),
        Column("age", "float", "Age at screening.", unit="years", min=0, max=120),
        Column("race", "str", "Race/ethnicity as recorded.", required=False),
        Column("ecog", "int", "ECOG performance status at screening.", min=0, max=4, required=False),
        Column("disease_status", "category", "Disease status at screening.", allowed=DISEASE_STATUS, required=False),
        Column("prior_lines", "int", "Number of prior lines of therapy.", min=0, max=30, required=False),
        Column("prior_hsct", "category", "Prior haematopoietic stem-cell transplant.", allowed=("none", "auto", "allo"), required=False),
        _flag("prior_blinatumomab", "Prior blinatumomab."),
        _flag("prior_inotuzumab", "Prior inotuzumab ozogamicin."),
        Column("inotuzumab_response", "category", "Response to prior inotuzumab.", allowed=("responsive", "refractory", "not_assessed"), required=False),
        Column("ph_status", "category", "Philadelphia chromosome status.", allowed=("ph_pos", "ph_like", "ph_neg"), required=False),
        _flag("ikzf1", "IKZF1 alteration."),
        _flag("mll_r", "KMT2A (MLL) rearrangement."),
        _flag("tp53", "TP53 deletion or mutation."),
        _flag("e2a_pbx1", "TCF3::PBX1 (E2A::PBX1) fusion."),
        Column("bm_blasts_pct", "float", "Bone-marrow blasts at screening.", unit="%", min=0, max=100, required=False),
        _flag("emd", "Extramedullary disease at screening."),
        Column("cns", "category", "CNS status (COG).", allowed=("CNS1", "CNS2", "CNS3"), required=False),
        _flag("cd19_positive", "CD19-positive blasts at screening."),
        Column("screening_date", "date", "Date of screening.", nullable=False),
        Column("enrolled", "bool", "Enrolled in the study (ITT population).", nullable=False),
        Column("apheresis_date", "date", "Date of leukapheresis.", required=False),
        Column("release_date", "date", "Date the product was released (manufactured).", required=False),
        _flag("bridging", "Bridging therapy given between apheresis and lymphodepletion."),
        Column("ld_start_date", "date", "First day of lymphodepleting chemotherapy.", required=False),
        Column("ld_end_date", "date", "Last day of lymphodepleting chemotherapy.", required=False),
        Column("infusion_date", "date", "Date of CAR-T infusion (day 0); empty if not infused.", required=True),
        Column("dose_car_cells", "float", "Infused dose of CAR-positive viable T cells.", unit="1e8 cells", min=0, required=False),
        Column("viability_pct", "float", "Product viability.", unit="%", min=0, max=100, required=False),
        Column("transduction_pct", "float", "Product transduction efficiency.", unit="%", min=0, max=100, required=False),
        Column("cd4_pct", "float", "CD4+ fraction of product T cells.", unit="%", min=0, max=100, required=False),
        Column("cd8_pct", "float", "CD8+ fraction of product T cells.", unit="%", min=0, max=100, required=False),
        Column("discontinuation_stage", "category", "Stage at which a patient stopped before infusion.", allowed=DISCONTINUATION_STAGES, required=False),
        Column("discontinuation_reason", "str", "Reason for stopping before infusion (e.g. infection, progression, withdrawal).", required=False, free_text=True),
        Column("hospital_days", "float", "Length of the infusion hospital stay (admission to discharge).", unit="days", min=0, max=3650, required=False),
        _flag("icu_admission", "Admitted to intensive care after infusion (any cause)."),
        Column("icu_days", "float", "Days in intensive care after infusion (all stays).", unit="days", min=0, max=3650, required=False),
    ),
)

ASSESSMENTS = Table(
    "assessments",
    "Disease assessments over time.",
    (
        _pid(),
        Column("date", "date", "Assessment date.", nullable=False),
        Column("assessor", "category", "Who assessed the response.", allowed=("investigator", "irc"), required=False),
        Column("bm_blasts_pct", "float", "Bone-marrow blasts.", unit="%", min=0, max=100),
        _flag("pb_blasts", "Circulating (peripheral-blood) blasts present.", required=True),
        Column("anc", "float", "Absolute neutrophil count.", unit="10^9/L", min=0),
        Column("platelets", "float", "Platelet count.", unit="10^9/L", min=0),
        _flag("emd", "Extramedullary disease present.", required=True),
        Column("mrd_method", "category", "MRD assay.", allowed=("flow", "ngs", "pcr"), required=False),
        _flag("mrd_negative", "MRD negative by that assay (flow < 0.01%)."),
        Column("response", "category", "Explicit response; overrides derivation when present.", allowed=("CR", "CRi", "NR", "relapse"), required=False),
    ),
    key=("patient_id", "date", "assessor"),
)

EVENT_TYPES = ("relapse", "hsct", "new_therapy", "death", "last_contact")
EVENT_DETAILS = {
    "hsct": ("allo", "auto"),
    "new_therapy": ("tki", "chemotherapy", "inotuzumab", "blinatumomab", "car_t", "radiotherapy", "other"),
    # cd19_mixed: CD19-negative blasts with concomitant CD19-positive ones (antigen escape in part of the clone)
    "relapse": ("cd19_pos", "cd19_neg", "cd19_mixed", "unknown"),
}

EVENTS = Table(
    "events",
    "Clinical events after infusion (or after enrollment for patients not infused).",
    (
        _pid(),
        Column("date", "date", "Event date.", nullable=False),
        Column("event", "category", "Event type.", allowed=EVENT_TYPES, nullable=False),
        Column(
            "detail",
            "str",
            "hsct: allo/auto; new_therapy: tki, chemotherapy, inotuzumab, blinatumomab, car_t, radiotherapy, other; "
            "relapse: cd19_pos/cd19_neg/cd19_mixed (CD19− with concomitant CD19+ blasts)/unknown; death: cause (free text).",
            required=False,
            free_text=True,
        ),
    ),
    key=("patient_id", "date", "event", "detail"),
)

ADVERSE_EVENTS = Table(
    "adverse_events",
    "Adverse events (CTCAE v5.0; ASTCT for CRS and ICANS).",
    (
        _pid(),
        Column("term", "str", "Adverse-event term (MedDRA preferred term).", nullable=False),
        Column("soc", "str", "MedDRA system organ class.", required=False),
        Column("onset_date", "date", "Onset date.", nullable=False),
        Column("end_date", "date", "Resolution date; empty if ongoing.", required=False),
        Column("grade", "int", "Worst grade (CTCAE v5.0; ASTCT for CRS/ICANS).", min=1, max=5, nullable=False),
        _flag("serious", "Serious adverse event."),
        _flag("related", "Related to CAR-T."),
    ),
    key=(),
)

TOXICITY_DAILY = Table(
    "toxicity_daily",
    "Raw daily observations from which CRS and ICANS are graded (ASTCT 2019).",
    (
        _pid(),
        Column("date", "date", "Observation date.", nullable=False),
        Column("temp_max_c", "float", "Maximum body temperature of the day.", unit="degC", min=30, max=45),
        Column("hypotension", "bool", "Hypotension needing fluids (without vasopressors).", required=False),
        Column("vasopressors", "int", "Number of vasopressors (vasopressin not counted).", min=0, max=10),
        Column("oxygen", "category", "Oxygen support.", allowed=("none", "low_flow", "high_flow", "positive_pressure")),
        Column("ice_score", "int", "Immune effector cell encephalopathy (ICE) score; 10 = normal.", min=0, max=10),
        Column(
            "consciousness",
            "category",
            "Level of consciousness.",
            allowed=("alert", "awakens_spontaneously", "awakens_to_voice", "awakens_to_touch", "unarousable"),
        ),
        Column("seizure", "category", "Seizure.", allowed=("none", "resolving", "prolonged")),
        _flag("motor_weakness", "Deep focal motor weakness (hemiparesis, paraparesis).", required=True),
        Column("cerebral_edema", "category", "Cerebral oedema on imaging.", allowed=("none", "focal", "diffuse")),
        _flag("tocilizumab", "Tocilizumab given that day.", required=True),
        _flag("steroids", "Corticosteroids given that day.", required=True),
        _flag("anakinra", "Anakinra given that day."),
    ),
    required=False,
    key=("patient_id", "date"),
)

PK = Table(
    "pk",
    "Cellular-kinetics samples (transgene by qPCR).",
    (
        _pid(),
        Column("day", "float", "Sampling day relative to infusion (day 0).", unit="days", nullable=False),
        Column("matrix", "category", "Sample matrix.", allowed=("blood", "csf", "marrow"), nullable=False),
        Column("value", "float", "Measured transgene level.", unit="copies/ug gDNA", min=0),
        Column("unit", "str", "Unit of value (copies/ug gDNA).", required=False),
        Column("lloq", "float", "Lower limit of quantification; values below it are BLQ.", unit="as value", min=0),
    ),
    required=False,
    key=("patient_id", "day", "matrix"),
)

# Lab tests whose unit is fixed (the derivations compare them with cut-offs): test -> accepted spellings of the unit.
# A row of one of these tests with another unit is a data problem; an empty unit means this one.
LAB_UNITS = {
    "anc": ("10^9/L", "x10^9/L", "10^9/l", "G/L"),
    "platelets": ("10^9/L", "x10^9/L", "10^9/l", "G/L"),
    "cd19": ("cells/uL", "cells/µL", "/uL", "/µL", "cells/mm3"),
    "igg": ("mg/dL", "mg/dl"),
}

LABS = Table(
    "labs",
    "Laboratory values (cytokines, blood counts, B cells, immunoglobulins, chemistry).",
    (
        _pid(),
        Column("day", "float", "Day relative to infusion (negative before).", unit="days", nullable=False),
        Column("test", "str", "Test: il6, il8, il10, ifng, ferritin, crp, anc (10^9/L), hb, platelets (10^9/L), ldh, "
               "creatinine, cd19 (CD19+ B cells, cells/uL), igg (mg/dL), ...", nullable=False),
        Column("value", "float", "Result.", nullable=False),
        Column("unit", "str", "Unit of the result.", required=False),
    ),
    required=False,
    key=("patient_id", "day", "test"),
)

PATHOGEN_CLASSES = ("bacterial", "viral", "fungal", "other", "unknown")
INFECTION_SITES = ("bloodstream", "lung", "upper_respiratory", "urinary", "gastrointestinal", "skin_soft_tissue", "cns",
                   "other", "unknown")

INFECTIONS = Table(
    "infections",
    "Infection episodes after infusion (one row per episode), with the pathogen class and site. When present, "
    "infection analyses use this table instead of the infection rows of adverse_events.",
    (
        _pid(),
        Column("onset_date", "date", "Onset (diagnosis) date.", nullable=False),
        Column("end_date", "date", "Resolution date; empty if ongoing or unknown.", required=False),
        Column("pathogen_class", "category", "Pathogen class; unknown = clinically diagnosed, no pathogen identified.",
               allowed=PATHOGEN_CLASSES, nullable=False),
        Column("pathogen", "str", "Organism as recorded (e.g. Pseudomonas aeruginosa, CMV).", required=False),
        Column("site", "category", "Site of infection.", allowed=INFECTION_SITES, required=False),
        Column("grade", "int", "Worst grade (CTCAE v5.0); 5 = death from the infection.", min=1, max=5, nullable=False),
        _flag("serious", "Serious adverse event."),
        _flag("related", "Related to CAR-T."),
    ),
    required=False,
    key=(),
)

MEDICATIONS = ("tocilizumab", "corticosteroid", "anakinra", "siltuximab", "ivig", "g_csf", "rbc_transfusion",
               "platelet_transfusion", "other")
INDICATIONS = ("crs", "icans", "hlh", "infection", "hypogammaglobulinaemia", "cytopenia", "prophylaxis", "other")

CONCOMITANT_MEDS = Table(
    "concomitant_meds",
    "Toxicity management and supportive care after infusion: one row per administration (or per course, with an "
    "end date) of tocilizumab, corticosteroids, anakinra, siltuximab, IVIG, G-CSF and transfusions.",
    (
        _pid(),
        Column("medication", "category", "What was given.", allowed=MEDICATIONS, nullable=False),
        Column("name", "str", "Product name as recorded (e.g. dexamethasone, methylprednisolone).", required=False),
        Column("start_date", "date", "Date given (first day of a course).", nullable=False),
        Column("end_date", "date", "Last day of a course; empty for a single administration.", required=False),
        Column("dose", "float", "Dose of one administration.", unit="dose_unit", min=0, required=False),
        Column("dose_unit", "str", "Unit of dose (mg, mg/kg, g/kg, units).", required=False),
        Column("indication", "category", "Why it was given.", allowed=INDICATIONS, required=False),
    ),
    required=False,
    key=(),
)

TABLES: tuple[Table, ...] = (SUBJECTS, ASSESSMENTS, EVENTS, ADVERSE_EVENTS, TOXICITY_DAILY, PK, LABS, INFECTIONS,
                             CONCOMITANT_MEDS)
TABLES_BY_NAME = {t.name: t for t in TABLES}
