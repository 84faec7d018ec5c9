"""A twin written as SDTM: the CSV twin, loaded like any study, then exported through the SDTM mapping.

Going through the CSV study (rather than the generator's rows) makes the SDTM
files hold exactly what the CSV twin holds, so ``import sdtm`` of them must
give back the same study and the same report.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from cartalysis.study.importers.sdtm_export import export_sdtm
from cartalysis.study.load import load_study
from cartalysis.twins.generate import write_twin


def write_twin_sdtm(name: str, out: Path | str, seed: int | None = None) -> list[Path]:
    """Write twin ``name`` as SDTM into ``out/xpt`` (SAS XPT v5) and ``out/json`` (Dataset-JSON 1.1)."""
    with tempfile.TemporaryDirectory() as tmp:
        study = load_study(write_twin(name, Path(tmp) / name, seed=seed))
        return export_sdtm(study, out, study_id=name)
