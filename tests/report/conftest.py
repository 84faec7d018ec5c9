"""Reports built once per test run and shared by the xdist workers (``build_once``, ``twin_report``): the demo
(pivotal twin), a grouped registry-style study and a study without cellular-kinetics or daily toxicity data."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from cartalysis.report.build import build_report


@pytest.fixture(scope="session")
def pivotal_study(twin_report) -> Path:
    return twin_report("pivotal").study


@pytest.fixture(scope="session")
def pivotal_report(twin_report) -> Path:
    """The demo's report: every format, the twin's own sap.toml (as ``cartalysis demo``)."""
    return twin_report("pivotal").report


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
def registry_report(build_once, twin_report) -> Path:
    """The ``rocca_registry`` twin (189 patients) with a registry plan of our own — grouped by prior inotuzumab, Cox
    with a forced covariate so that the multivariable model always exists — so that the test does not depend on
    the twin's evolving sap.toml."""
    study = twin_report("rocca_registry").study

    def build(folder: Path) -> None:
        (folder / "sap.toml").write_text(REGISTRY_PLAN, encoding="utf-8")
        build_report(study, folder / "report", sap_path=folder / "sap.toml")

    return build_once("registry", build) / "report"


@pytest.fixture(scope="session")
def bare_report(build_once, pivotal_study) -> Path:
    """The pivotal twin without the pk, toxicity_daily and labs tables."""

    def build(folder: Path) -> None:
        shutil.copytree(pivotal_study, folder / "study")
        for name in ("pk", "toxicity_daily", "labs"):
            (folder / "study" / f"{name}.csv").unlink(missing_ok=True)
        build_report(folder / "study", folder / "report", formats=("html",))

    return build_once("bare", build) / "report"
