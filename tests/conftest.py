"""Shared fixtures: a small valid study covering every table (5 patients).

Use the fixtures (``small_study``, ``small_study_tables``, ``small_study_writer``), not
``from conftest import ...``: several test folders have a conftest.py, and the import is ambiguous.

P01 infused, CR, CD19-negative relapse, death; P02 infused, CR, allo-HSCT, alive;
P03 infused, no response, blinatumomab, death from sepsis; P04 enrolled, stopped after
lymphodepletion (infection); P05 screen failure. ``weight_kg`` is an extra column (covariate).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import settings

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: each xdist worker builds its own copy
    fcntl = None


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config: pytest.Config) -> None:
    """Run the tests in parallel by default: one pytest-xdist worker per CPU (``-n auto``).

    Only in the controlling process (never in a worker: xdist resets the workers' ``-n`` to none, and a worker
    that spawned workers would multiply without end), only when pytest-xdist is installed (the ``test`` extra)
    and the command line chose no ``-n``; ``-n 0`` runs in one process, and ``--pdb`` or ``--collect-only`` stay
    serial. Runs before xdist's own ``pytest_cmdline_main`` (both are ``tryfirst``; a conftest registers after the
    plugin, so its hook is called first).
    """
    if os.environ.get("PYTEST_XDIST_WORKER") or hasattr(config, "workerinput"):
        return
    option = config.option
    if getattr(option, "numprocesses", 0) is None and not option.usepdb and not option.collectonly:
        option.numprocesses = "auto"

# CI must be reproducible: property tests draw the same examples on every run unless
# HYPOTHESIS_PROFILE=explore asks for fresh random ones (use it when hunting for bugs).
settings.register_profile("ci", derandomize=True, deadline=None)
settings.register_profile("explore", deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

SMALL_STUDY: dict[str, str] = {
    "subjects": """\
patient_id,site,sex,age,race,ecog,disease_status,prior_lines,prior_hsct,prior_blinatumomab,prior_inotuzumab,inotuzumab_response,ph_status,ikzf1,mll_r,tp53,e2a_pbx1,bm_blasts_pct,emd,cns,cd19_positive,screening_date,enrolled,apheresis_date,release_date,bridging,ld_start_date,ld_end_date,infusion_date,dose_car_cells,viability_pct,transduction_pct,cd4_pct,cd8_pct,discontinuation_stage,discontinuation_reason,weight_kg
P01,S1,female,34,asian,1,early_relapse,2,none,yes,no,,ph_neg,no,no,no,no,65,no,CNS1,yes,2021-01-14,yes,2021-01-20,2021-02-09,yes,2021-02-10,2021-02-13,2021-02-15,0.5,87.5,52.2,47.7,49.1,,,61.5
P02,S1,male,28,asian,0,primary_refractory,1,allo,no,yes,responsive,ph_pos,yes,no,no,no,40,no,CNS1,yes,2021-02-01,yes,2021-02-05,2021-02-25,no,2021-02-26,2021-03-01,2021-03-03,0.55,90,50,45,50,,,70
P03,S2,female,51,asian,1,relapse_2plus,3,auto,yes,no,,ph_like,no,yes,yes,no,85,yes,CNS2,yes,2021-03-01,yes,2021-03-04,2021-03-25,yes,2021-03-26,2021-03-29,2021-03-31,0.45,80,55,50,48,,,
P04,S2,male,45,asian,1,refractory_relapse,2,none,no,no,,ph_neg,no,no,no,yes,30,no,CNS1,yes,2021-03-10,yes,2021-03-15,2021-04-05,yes,2021-04-06,2021-04-09,,,,,,,after_lymphodepletion,infection,80
P05,S1,female,60,asian,1,early_relapse,1,none,no,no,,ph_neg,no,no,no,no,3,no,CNS1,yes,2021-04-01,no,,,,,,,,,,,,screening,inclusion criteria not met (< 5% blasts),
""",
    "assessments": """\
patient_id,date,assessor,bm_blasts_pct,pb_blasts,anc,platelets,emd,mrd_method,mrd_negative,response
P01,2021-01-14,investigator,65,yes,0.8,40,no,flow,no,
P01,2021-03-15,investigator,1,no,1.2,110,no,flow,yes,
P01,2021-03-15,irc,1,no,1.2,110,no,flow,yes,CR
P01,2021-05-15,investigator,2,no,1.5,120,no,flow,yes,
P02,2021-03-31,investigator,3,no,0.9,60,no,flow,yes,
P02,2021-06-01,investigator,2,no,2.0,150,no,ngs,yes,CR
P03,2021-04-28,investigator,60,yes,0.5,20,yes,,,NR
""",
    "events": """\
patient_id,date,event,detail
P01,2021-08-01,relapse,cd19_neg
P01,2021-10-20,death,disease progression
P02,2021-06-20,hsct,allo
P02,2022-01-10,last_contact,
P03,2021-05-05,new_therapy,blinatumomab
P03,2021-07-01,death,infection
P04,2021-06-01,last_contact,
P05,2021-04-20,last_contact,
""",
    "adverse_events": """\
patient_id,term,soc,onset_date,end_date,grade,serious,related
P01,Cytokine release syndrome,Immune system disorders,2021-02-19,2021-02-27,2,no,yes
P01,Neutropenia,Blood and lymphatic system disorders,2021-02-13,2021-03-20,4,no,yes
P02,Cytokine release syndrome,Immune system disorders,2021-03-07,2021-03-12,1,no,yes
P03,Immune effector cell-associated neurotoxicity syndrome,Nervous system disorders,2021-04-05,,3,yes,yes
P03,Sepsis,Infections and infestations,2021-06-25,2021-07-01,5,yes,no
P04,Infection,Infections and infestations,2021-04-10,2021-04-30,3,yes,no
""",
    "toxicity_daily": """\
patient_id,date,temp_max_c,hypotension,vasopressors,oxygen,ice_score,consciousness,seizure,motor_weakness,cerebral_edema,tocilizumab,steroids
P01,2021-02-18,37.2,no,0,none,10,alert,none,no,none,no,no
P01,2021-02-19,38.9,no,0,none,10,alert,none,no,none,no,no
P01,2021-02-20,39.4,yes,0,low_flow,10,alert,none,no,none,yes,no
P02,2021-03-07,38.4,no,0,none,10,alert,none,no,none,no,no
P03,2021-04-05,37.0,no,0,none,6,awakens_to_voice,none,no,none,no,yes
""",
    "pk": """\
patient_id,day,matrix,value,unit,lloq
P01,0,blood,0,copies/ug gDNA,50
P01,7,blood,45000,copies/ug gDNA,50
P01,11,blood,175000,copies/ug gDNA,50
P01,28,blood,12000,copies/ug gDNA,50
P02,11,blood,90000,copies/ug gDNA,50
P02,14,csf,3000,copies/ug gDNA,50
""",
    "labs": """\
patient_id,day,test,value,unit
P01,-5,il6,5,pg/mL
P01,4,il6,250,pg/mL
P01,4,crp,80,mg/L
P02,3,ferritin,1500,ng/mL
""",
}


def write_small_study(folder: Path) -> Path:
    """Write ``SMALL_STUDY`` as CSV files into ``folder`` (created) and return it."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in SMALL_STUDY.items():
        (folder / f"{name}.csv").write_text(text, encoding="utf-8")
    return folder


@pytest.fixture
def small_study(tmp_path: Path) -> Path:
    """A valid study folder (CSV files) with 5 patients and every table."""
    return write_small_study(tmp_path / "small")


@pytest.fixture
def small_study_tables() -> dict[str, str]:
    """The small study's CSV text by table name."""
    return dict(SMALL_STUDY)


@pytest.fixture
def small_study_writer():
    """``write_small_study(folder) -> folder``, for tests that need fresh copies (e.g. under hypothesis)."""
    return write_small_study


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive lock on ``path`` (created) between the xdist workers of one run."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        if fcntl is not None:
            fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def _build_once(tmp_path_factory: pytest.TempPathFactory, key: str, build: Callable[[Path], None]) -> Path:
    """``build(folder)`` once per test run, shared by all pytest-xdist workers; returns the folder.

    The folder lives next to the workers' own temporary folders (``pytest-N/shared/KEY``), so it is fresh for each
    run; the first worker to ask builds it under a lock while the others wait, then everyone reads it. Tests must
    not modify it (copy it first).
    """
    base = tmp_path_factory.getbasetemp()
    root = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") and fcntl is not None else base) / "shared"
    folder = root / key
    with _locked(root / f"{key}.lock"):
        if not (root / f"{key}.done").exists():
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir(parents=True)
            build(folder)
            (root / f"{key}.done").touch()
    return folder


@pytest.fixture(scope="session")
def build_once(tmp_path_factory) -> Callable[[str, Callable[[Path], None]], Path]:
    """``build_once(key, build)``: ``build(folder)`` once per test run, shared by the xdist workers; returns the
    folder (read-only for the tests: copy it to change it)."""
    return lambda key, build: _build_once(tmp_path_factory, key, build)


@dataclass(frozen=True)
class TwinReport:
    """A twin's study folder, its report folder (built with the twin's own sap.toml) and its results by id."""

    study: Path
    report: Path
    results: dict[str, dict]


# The report tests read the pivotal report's Word and RTF files; the other twins are checked on their HTML report.
TWIN_REPORT_FORMATS = {"pivotal": ("html", "docx", "rtf")}


@pytest.fixture(scope="session")
def twin_report(build_once) -> Callable[[str], TwinReport]:
    """``twin_report(name)``: the twin generated and reported once per test run (shared by the xdist workers)."""
    from cartalysis.report.build import build_report
    from cartalysis.twins.generate import write_twin

    cache: dict[str, TwinReport] = {}

    def build(name: str, folder: Path) -> None:
        write_twin(name, folder / "study")
        build_report(folder / "study", folder / "report", formats=TWIN_REPORT_FORMATS.get(name, ("html",)))

    def get(name: str) -> TwinReport:
        if name not in cache:
            folder = build_once(f"twin-{name}", lambda f: build(name, f))
            results = json.loads((folder / "report" / "results.json").read_text(encoding="utf-8"))
            cache[name] = TwinReport(folder / "study", folder / "report", {r["id"]: r for r in results})
        return cache[name]

    return get
