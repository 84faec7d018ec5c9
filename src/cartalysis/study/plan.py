"""The analysis plan (``sap.toml``): every setting a CAR-T analysis depends on.

``load_plan(None)`` returns the built-in plan, whose defaults reproduce the
statistical analysis plan of the pivotal Inati-cel trial (NCT04684147; see
``docs/analysis-plan.md``). A user's ``sap.toml`` overrides any subset of the
keys; unknown keys, wrong types and values outside the allowed choices are
errors (``StudyError``, reported as ``sap.toml::section.key: message``).

Each section is a frozen dataclass; the TOML table ``[rfs]`` fills
``Plan.rfs`` and so on. ``docs/analysis-plan.md`` documents every key and
``tests/derive/test_plan.py`` keeps the two in step.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cartalysis.study import plan_checks
from cartalysis.study.errors import Problem, StudyError, UsageError, errors_of
from cartalysis.study.plan_checks import short

NONRESPONDER_RULES = ("event_at_day0", "censored_at_day0", "excluded", "as_observed")
CENSOR_LAST = ("last_assessment", "last_known_alive")
THERAPIES = ("tki", "chemotherapy", "inotuzumab", "blinatumomab", "car_t", "radiotherapy", "other")
ENDPOINTS = ("OS", "RFS", "DOR", "DOR_NOHSCT", "EFS", "PFS", "DFS", "CIR", "FU")
KM_ENDPOINTS = ("OS", "RFS", "DOR", "DOR_NOHSCT", "EFS", "PFS", "DFS")  # CIR is competing-risks, FU reverse KM


def _choice(*choices: str) -> dict[str, Any]:
    return {"choices": choices}


@dataclass(frozen=True)
class StudySection:
    """``[study]``: labels for the report (empty: the study folder's name is used) and the data cutoff.

    ``data_cutoff`` (a TOML date, ``2023-06-30``, or the same as text) is the date the data were frozen: the
    report's date, and no date in the data may be later. Unset, the latest date in the data stands in (the report
    says so)."""

    name: str = ""
    title: str = ""
    data_cutoff: str | None = field(default=None, metadata={"type": "date"})


@dataclass(frozen=True)
class TimeSection:
    """``[time]``: how dates become analysis times."""

    month_days: float = 30.4375
    # False: AVAL = ADT - STARTDT (day 0 = infusion, as in the data model); True: admiral's ADT - STARTDT + 1.
    aval_add_one: bool = False


@dataclass(frozen=True)
class PopulationSection:
    """``[population]``: which disease statuses mean 'in remission at infusion' (DFS population)."""

    in_remission_statuses: tuple[str, ...] = ("cr1", "cr_mrd_pos", "cr_mrd_unknown", "cr_mrd_neg")
    dfs_statuses: tuple[str, ...] = ("cr1",)


@dataclass(frozen=True)
class EfficacySection:
    """``[efficacy]``: the primary hypothesis test and the landmark times.

    ``orr``: ``"test"`` (ORR is an endpoint; month-3 ORR tested against ``null_rate``), ``"estimate"`` (ORR with
    CIs, no test) or ``"none"`` (patients are infused in remission: ORR is not an endpoint and is not shown)."""

    orr: str = field(default="test", metadata=_choice("test", "estimate", "none"))
    null_rate: float = 0.25
    alpha: float = 0.025
    sided: str = field(default="one", metadata=_choice("one", "two"))
    conf_level: float = 0.95
    landmarks_months: tuple[float, ...] = (6.0, 12.0, 24.0)
    # sample-size justification (shown with the ORR test): the response rate the trial was powered for and the
    # power; unset target_rate: no justification is shown
    target_rate: float | None = field(default=0.5, metadata={"type": float})
    power: float = 0.9
    rmst_months: float = 24.0  # RMST horizon, shown where Kaplan–Meier curves of compared groups cross


@dataclass(frozen=True)
class ResponseSection:
    """``[response]``: response criteria, best response, month-3 response, MRD."""

    blasts_threshold_pct: float = 5.0
    anc_min: float = 1.0
    platelets_min: float = 100.0
    primary_assessor: str = field(default="irc", metadata=_choice("irc", "investigator"))
    bor_window_days: float | None = field(default=None, metadata={"type": float})
    exempt_therapies: tuple[str, ...] = ("tki",)
    m3_target_day: float = 91.0
    m3_window_days: tuple[float, ...] = (77.0, 105.0)
    mrd_method: str = field(default="any", metadata=_choice("any", "flow", "ngs", "pcr"))
    mrd_visits: tuple[str, ...] = ("day28", "month2", "month3", "month6")
    mrd_visit_days: tuple[float, ...] = (28.0, 61.0, 91.0, 183.0)
    mrd_visit_window_days: float = 14.0
    # "infused": response rates are of all infused patients; "evaluable": of infused patients with >= 1
    # post-infusion response assessment (adsl.response_evaluable), as registries report them.
    denominator: str = field(default="infused", metadata=_choice("infused", "evaluable"))


@dataclass(frozen=True)
class EndpointRule:
    """One time-to-event endpoint's censoring rules (``[os]``, ``[rfs]``, ``[dor]``, ...)."""

    censor_at_new_therapy: bool = False
    exempt_therapies: tuple[str, ...] = ("tki",)
    censor_at_allo_hsct_in_remission: bool = False
    nonresponders: str = field(default="as_observed", metadata=_choice(*NONRESPONDER_RULES))
    censor_last: str = field(default="last_assessment", metadata=_choice(*CENSOR_LAST))


@dataclass(frozen=True)
class EndpointsSection:
    """``[endpoints]``: which ADTTE parameters to derive."""

    params: tuple[str, ...] = ENDPOINTS


@dataclass(frozen=True)
class ToxicitySection:
    """``[toxicity]``: ASTCT grading inputs and the adverse-event term lists."""

    source: str = field(default="auto", metadata=_choice("auto", "daily", "adverse_events"))
    # treatment-emergent: onset on or after infusion, at most this many days after it (unset: no limit) ...
    teae_window_days: float | None = field(default=None, metadata={"type": float})
    # ... and before this later event, when the patient has it
    teae_end: str = field(default="none", metadata=_choice("none", "hsct", "new_therapy", "hsct_or_new_therapy"))
    fever_c: float = 38.0
    crs_terms: tuple[str, ...] = ("Cytokine release syndrome",)
    icans_terms: tuple[str, ...] = (
        "Immune effector cell-associated neurotoxicity syndrome",
        "ICANS",
    )
    hlh_terms: tuple[str, ...] = (
        "Haemophagocytic lymphohistiocytosis",
        "Hemophagocytic lymphohistiocytosis",
        "Macrophage activation syndrome",
        "Immune effector cell-associated HLH-like syndrome",
        "HLH/MAS",
    )
    hypogamma_terms: tuple[str, ...] = ("Hypogammaglobulinaemia", "Hypogammaglobulinemia")
    infection_socs: tuple[str, ...] = ("Infections and infestations",)
    infection_terms: tuple[str, ...] = ()
    early_death_days: float = 30.0


@dataclass(frozen=True)
class SafetySection:
    """``[safety]``: count recovery, prolonged cytopenia and ICAHT; infection windows; B-cell aplasia and IgG;
    TEAE time windows. Counts in 10^9/L, CD19+ B cells in cells/uL, IgG in mg/dL, times in days from infusion."""

    anc_recovery: float = 0.5
    platelet_recovery: float = 20.0
    recovery_confirm: int = 3
    recovery_days: tuple[float, ...] = (28.0, 60.0, 90.0)
    prolonged_cytopenia_days: tuple[float, ...] = (30.0, 90.0)
    prolonged_window_days: float = 14.0
    count_fill: str = field(default="locf", metadata=_choice("locf", "measured"))
    icaht_late_end_day: float = 100.0
    infection_windows: tuple[float, ...] = (30.0, 90.0)
    severe_infection_grade: int = 3
    bcell_recovery_cd19: float = 10.0
    bcell_recovery_confirm: int = 2
    igg_low_mg_dl: float = 400.0
    teae_windows: tuple[float, ...] = (30.0, 91.0)


@dataclass(frozen=True)
class PkSection:
    """``[pk]``: non-compartmental cellular kinetics."""

    matrix: str = field(default="blood", metadata=_choice("blood", "marrow", "csf"))
    auc_method: str = field(default="linear-up/log-down", metadata=_choice("linear-up/log-down", "linear"))
    auc_end_day: float = 28.0
    blq: str = field(default="pknca", metadata=_choice("pknca", "zero", "drop"))


@dataclass(frozen=True)
class RiskSection:
    """``[risk]``: baseline window for CAR-HEMATOTOX and EASIX."""

    baseline_window_days: tuple[float, ...] = (-30.0, 0.0)
    crp_unit: str = field(default="mg/dL", metadata=_choice("mg/dL", "mg/L"))


@dataclass(frozen=True)
class GroupsSection:
    """``[groups]``: an ADSL column splitting every analysis (registry by-group comparisons), further ADSL columns
    each compared by Kaplan–Meier and log-rank on ``compare_endpoints``, and the therapies that count as
    maintenance for ``adsl.maintenance_in_remission``."""

    by: str | None = field(default=None, metadata={"type": str})
    compare: tuple[str, ...] = ()
    compare_endpoints: tuple[str, ...] = ("OS", "RFS")
    maintenance_therapies: tuple[str, ...] = ("tki", "chemotherapy", "inotuzumab")
    # landmark times of the immortal-time-safe analyses of post-infusion groups and Cox covariates
    post_infusion_landmarks_months: tuple[float, ...] = (3.0, 6.0)


@dataclass(frozen=True)
class SubgroupsSection:
    """``[subgroups]``: ADSL columns of the best-ORR forest plot, and the cut points of derived groups."""

    variables: tuple[str, ...] = (
        "age_group", "sex", "disease_status", "prior_hsct", "ph_status", "bm_blasts_group", "emd", "prior_blinatumomab",
    )
    age_breaks: tuple[float, ...] = (40.0,)
    bm_blasts_breaks: tuple[float, ...] = (25.0, 50.0, 75.0)


@dataclass(frozen=True)
class CoxSection:
    """``[cox]``: univariable screening then a multivariable model."""

    endpoint: str = field(default="RFS", metadata=_choice(*ENDPOINTS))
    candidates: tuple[str, ...] = ("age", "sex", "ph_status", "bm_blasts_pct", "prior_hsct", "emd", "prior_inotuzumab")
    threshold: float = 0.1
    forced: tuple[str, ...] = ()
    # categorical covariate -> reference level (TOML inline table); unset columns: the most frequent level
    reference: tuple[tuple[str, str], ...] = field(default=(), metadata={"type": dict})
    # a level (or reference level) with fewer events makes its hazard ratio "not estimable"
    min_events_per_level: int = 1


@dataclass(frozen=True)
class TablesSection:
    """``[tables]``: how tables test and print. ``categorical_test``: ``auto`` (Fisher's exact test if any
    expected count < 5, else Pearson chi-square), ``chisq``, ``yates`` (chi-square with continuity correction) or
    ``fisher``; ``missing_level``: missing values are a level of their own in the tests (R ``addNA``), not dropped;
    ``rounding``: ``half_up`` (SAS) or ``half_even`` (R's printing: 6.25 → 6.2)."""

    categorical_test: str = field(default="auto", metadata=_choice("auto", "chisq", "yates", "fisher"))
    missing_level: bool = False
    rounding: str = field(default="half_up", metadata=_choice("half_up", "half_even"))


@dataclass(frozen=True)
class Plan:
    """The whole analysis plan; ``Plan()`` is the built-in (pivotal Inati-cel) plan."""

    study: StudySection = StudySection()
    time: TimeSection = TimeSection()
    population: PopulationSection = PopulationSection()
    efficacy: EfficacySection = EfficacySection()
    response: ResponseSection = ResponseSection()
    endpoints: EndpointsSection = EndpointsSection()
    os: EndpointRule = EndpointRule(censor_last="last_known_alive")
    rfs: EndpointRule = EndpointRule(
        censor_at_new_therapy=True, censor_at_allo_hsct_in_remission=True, nonresponders="event_at_day0"
    )
    dor: EndpointRule = EndpointRule(censor_at_new_therapy=True, censor_at_allo_hsct_in_remission=True)
    efs: EndpointRule = EndpointRule(nonresponders="event_at_day0")
    pfs: EndpointRule = EndpointRule(censor_last="last_known_alive")
    dfs: EndpointRule = EndpointRule()
    cir: EndpointRule = EndpointRule()
    toxicity: ToxicitySection = ToxicitySection()
    safety: SafetySection = SafetySection()
    pk: PkSection = PkSection()
    risk: RiskSection = RiskSection()
    groups: GroupsSection = GroupsSection()
    subgroups: SubgroupsSection = SubgroupsSection()
    cox: CoxSection = CoxSection()
    tables: TablesSection = TablesSection()


def _check_value(key: str, value: Any, default: Any, f: dataclasses.Field, file: str, problems: list[Problem]) -> Any:
    """Coerce one TOML value to the type of the field's default; record a problem if impossible."""

    def bad(msg: str) -> None:
        problems.append(Problem(file, None, key, msg))

    want = f.metadata.get("type") or type(default)
    if want == "date":  # kept as ISO text: hashable, JSON-ready, printed back as the user wrote it
        d = plan_checks.parse_date(value)
        if d is None:
            bad(f"expected a date such as 2023-06-30, got {short(value)}")
            return default
        return d.isoformat()
    if want is dict:  # a TOML table of strings, kept as (key, value) pairs in the file's order (hashable)
        if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
            bad(f"expected a table of strings, e.g. {{ column = \"level\" }}, got {short(value)}")
            return default
        return tuple(value.items())
    if isinstance(default, tuple):
        if not isinstance(value, list):
            bad(f"expected a list, got {short(value)}")
            return default
        elem = type(default[0]) if default else str
        out = []
        for v in value:
            if elem is float and isinstance(v, (int, float)) and not isinstance(v, bool):
                out.append(float(v))
            elif isinstance(v, elem) and not isinstance(v, bool):
                out.append(v)
            else:
                bad(f"expected a list of {'numbers' if elem is float else 'strings'}, got element {short(v)}")
                return default
        return tuple(out)
    if want is bool:
        if not isinstance(value, bool):
            bad(f"expected true or false, got {short(value)}")
            return default
        return value
    if want is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            bad(f"expected a number, got {short(value)}")
            return default
        return float(value)
    if not isinstance(value, want):
        bad(f"expected {'text' if want is str else 'a ' + want.__name__}, got {short(value)}")
        return default
    choices = f.metadata.get("choices")
    if choices and value not in choices:
        bad(f"{short(value)} is not one of: {', '.join(choices)}")
        return default
    return value


def _section(cls_default: Any, data: Any, name: str, file: str, problems: list[Problem]) -> Any:
    if not isinstance(data, dict):
        problems.append(Problem(file, None, name, f"[{name}] must be a table"))
        return cls_default
    fields = {f.name: f for f in dataclasses.fields(cls_default)}
    changes = {}
    for key, value in data.items():
        if key not in fields:
            problems.append(Problem(file, None, f"{name}.{key}", f"unknown key; allowed: {', '.join(fields)}"))
            continue
        changes[key] = _check_value(f"{name}.{key}", value, getattr(cls_default, key), fields[key], file, problems)
    return dataclasses.replace(cls_default, **changes)


def _cross_checks(plan: Plan, file: str) -> list[Problem]:
    p: list[Problem] = []
    for param in plan.endpoints.params:
        if param not in ENDPOINTS:
            p.append(Problem(file, None, "endpoints.params", f"unknown endpoint {param!r}; allowed: {', '.join(ENDPOINTS)}"))
    r = plan.response
    if len(r.m3_window_days) != 2 or r.m3_window_days[0] > r.m3_window_days[1]:
        p.append(Problem(file, None, "response.m3_window_days", "expected [first_day, last_day] with first <= last"))
    if len(r.mrd_visits) != len(r.mrd_visit_days):
        p.append(Problem(file, None, "response.mrd_visit_days", "needs one day per name in response.mrd_visits"))
    if len(plan.risk.baseline_window_days) != 2 or plan.risk.baseline_window_days[0] > plan.risk.baseline_window_days[1]:
        p.append(Problem(file, None, "risk.baseline_window_days", "expected [first_day, last_day] with first <= last"))
    for key in ("age_breaks", "bm_blasts_breaks"):
        b = getattr(plan.subgroups, key)
        if not b or any(x >= y for x, y in zip(b, b[1:])):
            p.append(Problem(file, None, f"subgroups.{key}", "expected at least one cut point, in increasing order"))
    for name in ("response", "os", "rfs", "dor", "efs", "pfs", "dfs", "cir"):
        for t in getattr(plan, name).exempt_therapies:
            if t not in THERAPIES:
                p.append(Problem(file, None, f"{name}.exempt_therapies", f"unknown therapy {t!r}; allowed: {', '.join(THERAPIES)}"))
    for param in plan.groups.compare_endpoints:
        if param not in KM_ENDPOINTS:
            p.append(Problem(file, None, "groups.compare_endpoints",
                             f"unknown endpoint {param!r}; allowed: {', '.join(KM_ENDPOINTS)}"))
    for t in plan.groups.maintenance_therapies:
        if t not in THERAPIES:
            p.append(Problem(file, None, "groups.maintenance_therapies", f"unknown therapy {t!r}; allowed: {', '.join(THERAPIES)}"))
    modelled = set(plan.cox.candidates) | set(plan.cox.forced)
    for col, _ in plan.cox.reference:
        if col not in modelled:
            p.append(Problem(file, None, "cox.reference",
                             f"column {col!r} is not a Cox covariate (cox.candidates or cox.forced)"))
    sf = plan.safety
    for key in ("recovery_days", "prolonged_cytopenia_days", "infection_windows", "teae_windows"):
        b = getattr(sf, key)
        if not b or any(x >= y for x, y in zip(b, b[1:])) or b[0] <= 0:
            p.append(Problem(file, None, f"safety.{key}", "expected at least one positive day, in increasing order"))
    for key in ("recovery_confirm", "bcell_recovery_confirm"):
        if getattr(sf, key) < 1:
            p.append(Problem(file, None, f"safety.{key}", "must be at least 1 (measurements in a row)"))
    for key in ("anc_recovery", "platelet_recovery", "bcell_recovery_cd19", "igg_low_mg_dl", "prolonged_window_days"):
        if not getattr(sf, key) > 0:
            p.append(Problem(file, None, f"safety.{key}", "must be positive"))
    if not 1 <= sf.severe_infection_grade <= 5:
        p.append(Problem(file, None, "safety.severe_infection_grade", "must be a grade from 1 to 5"))
    return p


def check_plan_data(data: dict[str, Any], file: str = "sap.toml") -> tuple[Plan, list[Problem]]:
    """Build a ``Plan`` from already-parsed TOML, with every problem (errors and warnings) found on the way.

    Where a key has an error the built-in default stands in, so the plan returned is only meaningful when no
    problem is an error.
    """
    problems = plan_checks.check_depth(data, file)
    too_deep = {p.column for p in problems}
    data = {n: ({k: v for k, v in sec.items() if f"{n}.{k}" not in too_deep} if isinstance(sec, dict) else sec)
            for n, sec in data.items()}
    problems += plan_checks.check_numbers(data, file)
    default = Plan()
    sections = {f.name: f for f in dataclasses.fields(Plan)}
    changes = {}
    for name, value in data.items():
        if name not in sections:
            problems.append(Problem(file, None, name, f"unknown section [{name}]; allowed: {', '.join(sections)}"))
            continue
        changes[name] = _section(getattr(default, name), value, name, file, problems)
    plan = dataclasses.replace(default, **changes)
    problems += _cross_checks(plan, file)
    return plan, problems


def parse_plan(data: dict[str, Any], file: str = "sap.toml") -> Plan:
    """Build a ``Plan`` from already-parsed TOML; raises ``StudyError`` listing every problem if any is an error."""
    plan, problems = check_plan_data(data, file)
    if errors_of(problems):
        raise StudyError(problems)
    return plan


def check_plan(path: Path | str | None) -> tuple[Plan, list[Problem]]:
    """Read ``sap.toml`` (``None``: the built-in plan) and return it with all its problems (errors and warnings).

    A missing or unreadable file raises ``UsageError``.
    """
    if path is None:
        return Plan(), []
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise UsageError(f"cannot read analysis plan {path}: {e.strerror or e}") from None
    text, problems = plan_checks.decode(raw, path.name)
    if text is None:
        return Plan(), problems
    data, problems = plan_checks.parse_toml(text, path.name)
    if data is None:
        return Plan(), problems
    plan, problems = check_plan_data(data, path.name)
    return plan, plan_checks.locate(problems, text, path.name)


def load_plan(path: Path | str | None = None) -> Plan:
    """Read ``sap.toml`` (``None``: the built-in plan). Missing file → ``UsageError``; an error → ``StudyError``."""
    plan, problems = check_plan(path)
    if errors_of(problems):
        raise StudyError(problems)
    return plan


def plan_as_dict(plan: Plan) -> dict[str, Any]:
    """The plan as plain data (for results.json and the report's methods section)."""
    return dataclasses.asdict(plan)
