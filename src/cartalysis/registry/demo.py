"""``registry demo``: the ROCCA twin split across its 31 sites, one user per role, ready to explore.

``split_by_site`` is also what a coordinator uses to turn one pooled study folder into per-site imports.
"""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

from cartalysis.study.errors import UsageError
from cartalysis.study.spec import TABLES


def split_by_site(study: Path | str, out: Path | str) -> dict[str, Path]:
    """Split a study folder (CSV) into one folder per site under ``out``: ``{site: folder}``.

    Cells are copied as text, untouched; every table keeps its header; ``sap.toml`` is not copied (the
    registry holds the plan).
    """
    study, out = Path(study), Path(out)
    if not (study / "subjects.csv").is_file():
        raise UsageError(f"{study} is not a study folder with subjects.csv")
    tables = {}
    for spec in TABLES:
        f = study / f"{spec.name}.csv"
        if f.is_file():
            with f.open(newline="", encoding="utf-8-sig") as fh:
                tables[spec.name] = list(csv.reader(fh))
    header, *rows = tables["subjects"]
    pid, site = header.index("patient_id"), header.index("site")
    site_of = {r[pid]: r[site] for r in rows if len(r) > max(pid, site)}
    folders = {}
    for s in sorted(set(site_of.values())):
        folder = out / s
        folder.mkdir(parents=True, exist_ok=True)
        folders[s] = folder
        for name, (head, *body) in tables.items():
            j = head.index("patient_id") if "patient_id" in head else None
            keep = [r for r in body if j is not None and j < len(r) and site_of.get(r[j]) == s]
            with (folder / f"{name}.csv").open("w", newline="", encoding="utf-8") as fh:
                csv.writer(fh, lineterminator="\n").writerows([head, *keep])
    return folders


def copy_plan(study: Path, out: Path) -> None:
    if (study / "sap.toml").is_file():
        shutil.copy(study / "sap.toml", out / "sap.toml")
