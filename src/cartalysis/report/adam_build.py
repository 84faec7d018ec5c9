"""``cartalysis report DIR`` when DIR holds ADaM datasets (``study.adam``): the general trial report.

Same outputs as the CAR-T report (``report.html``, ``results.json``, ``tables/``, ``figures/``), from the units of
``report/units/adam.py``; the plan (``DIR/sap.toml`` or ``--sap``) chooses the treatment variable
(``groups.by``, default TRT01A), the confidence level and the landmarks. The report date is the plan's
``study.data_cutoff``, else ``SOURCE_DATE_EPOCH``, else the latest ``..DT`` date in the datasets.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
from pathlib import Path

import pandas as pd

from cartalysis import __version__
from cartalysis.study.errors import StudyError, errors_of, warnings_of


def adam_report_date(study, data_cutoff: str | None) -> dt.datetime:
    from cartalysis.report.build import report_date

    if data_cutoff or os.environ.get("SOURCE_DATE_EPOCH"):
        return report_date(study, data_cutoff)
    latest = None
    for frame in study.tables.values():
        for col in (c for c in frame.columns if c.endswith("DT")):
            d = pd.to_datetime(frame[col], errors="coerce", format="ISO8601").max()
            latest = d if pd.notna(d) and (latest is None or d > latest) else latest
    return (latest.to_pydatetime() if latest is not None else dt.datetime(1970, 1, 1)).replace(
        hour=0, minute=0, second=0, microsecond=0)


def build_adam_report(study_path: Path | str, out_dir: Path | str, sap_path, fs: tuple[str, ...]):
    from cartalysis.report import render
    from cartalysis.report.build import Written, _plan_text, date_source, write_report_files, write_tables_and_figures
    from cartalysis.report.results import Registry
    from cartalysis.report.units.adam import SECTIONS
    from cartalysis.report.units.base import Ctx
    from cartalysis.study.adam import load_adam
    from cartalysis.study.plan import check_plan

    study = load_adam(study_path)
    plan_file = Path(sap_path) if sap_path is not None else study.plan_path
    plan, problems = check_plan(plan_file)
    if errors_of(problems):
        raise StudyError(problems)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    ctx = Ctx(study, plan, None, Registry())
    built = [s.build(ctx) for s in SECTIONS]
    when = adam_report_date(study, plan.study.data_cutoff)
    write_tables_and_figures(built, ctx.figures, out, fs, when)
    results = ctx.reg.write(out / "results.json")
    plan_desc = (f"{plan_file.name} (SHA-256 {hashlib.sha256(plan_file.read_bytes()).hexdigest()})"
                 if plan_file is not None else "built-in plan (treatment variable TRT01A)")
    name = plan.study.name or study.name
    prov = render.Provenance(study=name, version=__version__, date=when.date().isoformat(), plan=plan_desc,
                             plan_text=_plan_text(plan), checksums=tuple(sorted(study.checksums.items())),
                             date_source=date_source(plan.study.data_cutoff))
    html_path = write_report_files(plan.study.title or f"Study report (ADaM): {name}", built, prov, out, fs, when)
    return Written(html_path, results, tuple(warnings_of(problems)))
