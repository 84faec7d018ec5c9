"""Reports built once per test session: the demo (pivotal twin), a grouped registry-style study and a study
without cellular-kinetics or daily toxicity data."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from cartalysis.report.build import build_report
from cartalysis.twins.generate import list_twins, write_twin


@pytest.fixture(scope="session")
def pivotal_study(tmp_path_factory) -> Path:
    return write_twin("pivotal", tmp_path_factory.mktemp("pivotal") / "study")


@pytest.fixture(scope="session")
def pivotal_report(pivotal_study, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("pivotal_report")
    build_report(pivotal_study, out)
    return out


REGISTRY_PLAN = """\
[groups]
by = "prior_inotuzumab"

[efficacy]
landmarks_months = [6.0, 12.0]

[cox]
endpoint = "PFS"
candidates = ["prior_inotuzumab", "prior_hsct", "bridging", "emd", "ph_status"]
forced = ["age"]
"""


@pytest.fixture(scope="session")
def registry_report(tmp_path_factory, pivotal_study) -> Path:
    """The ``rocca_registry`` twin (189 patients) with a registry plan of our own — grouped by prior inotuzumab, Cox
    with a forced covariate so that the multivariable model always exists — so that the test does not depend on
    the twin's evolving sap.toml. Before that twin existed: the pivotal twin grouped by sex."""
    base = tmp_path_factory.mktemp("registry")
    sap = base / "sap.toml"
    if "rocca_registry" in {t.name for t in list_twins()}:
        study = write_twin("rocca_registry", base / "study")
        sap.write_text(REGISTRY_PLAN, encoding="utf-8")
    else:
        study = pivotal_study
        sap.write_text('[groups]\nby = "sex"\n\n[cox]\nforced = ["age"]\n', encoding="utf-8")
    out = base / "report"
    build_report(study, out, sap_path=sap)
    return out


@pytest.fixture(scope="session")
def bare_report(tmp_path_factory, pivotal_study) -> Path:
    """The pivotal twin without the pk, toxicity_daily and labs tables."""
    base = tmp_path_factory.mktemp("bare")
    study = base / "study"
    shutil.copytree(pivotal_study, study)
    for name in ("pk", "toxicity_daily", "labs"):
        (study / f"{name}.csv").unlink(missing_ok=True)
    out = base / "report"
    build_report(study, out, formats=("html",))
    return out
