"""``cartalysis report``: load, derive, analyse, lay out and write the study report.

Writes into ``out_dir``: ``report.html`` (one self-contained file), ``results.json`` (every number shown),
``tables/`` (CSV always; ``.docx`` and ``.rtf`` when those formats are asked for), ``figures/`` (PNG and
SVG), ``derived/`` (the derived datasets, CSV) and ``adam/`` (the same with CDISC ADaM names and labels: XPT v5,
Dataset-JSON 1.1 and a metadata file each). The same input gives byte-identical output: the report date
is the plan's ``study.data_cutoff``, else ``SOURCE_DATE_EPOCH`` when set, else the latest date in the study
data (the report says which), never the clock.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from cartalysis import __version__
from cartalysis.study.errors import Problem, StudyError, UsageError, errors_of, warnings_of

FORMATS = ("html", "docx", "rtf")


@dataclass(frozen=True)
class Written:
    report_html: Path
    results_json: Path
    warnings: tuple[Problem, ...] = ()  # problems of severity warning in the study and its plan


def _check_formats(formats) -> tuple[str, ...]:
    fs = tuple(formats)
    bad = [f for f in fs if f not in FORMATS]
    if bad or not fs:
        raise UsageError(f"unknown format(s) {', '.join(bad) or '(none)'}; choose from {', '.join(FORMATS)}")
    return fs


def report_date(study, data_cutoff: str | None = None) -> dt.datetime:
    """The plan's ``study.data_cutoff`` if set, else ``SOURCE_DATE_EPOCH`` (reproducible-builds convention), else
    the latest date in the study (never the clock); ``date_source`` says which."""
    if data_cutoff:
        return dt.datetime.fromisoformat(data_cutoff)
    env = os.environ.get("SOURCE_DATE_EPOCH")
    if env:
        try:
            return dt.datetime.fromtimestamp(int(env), tz=dt.timezone.utc).replace(tzinfo=None)
        except (ValueError, OverflowError, OSError):
            raise UsageError(f"SOURCE_DATE_EPOCH must be a number of seconds, got {env!r}") from None
    import pandas as pd

    latest = None
    for frame in study.tables.values():
        for col in frame.columns:
            if pd.api.types.is_datetime64_any_dtype(frame[col]) and frame[col].notna().any():
                m = frame[col].max()
                latest = m if latest is None or m > latest else latest
    return (latest.to_pydatetime() if latest is not None else dt.datetime(1970, 1, 1)).replace(
        hour=0, minute=0, second=0, microsecond=0)


def date_source(data_cutoff: str | None) -> str:
    """Where ``report_date`` took the date from, in words for the report."""
    if data_cutoff:
        return "data cutoff, study.data_cutoff in the plan"
    if os.environ.get("SOURCE_DATE_EPOCH"):
        return "SOURCE_DATE_EPOCH"
    return "no study.data_cutoff in the plan: the latest date in the data"


def _toml(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml(x) for x in v) + "]"
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    return repr(v)


def _plan_text(plan) -> str:
    """The plan in force, every key, as ``sap.toml`` text (unset keys as comments): what the numbers depend on."""
    lines = []
    for f in dataclasses.fields(plan):
        sec = getattr(plan, f.name)
        lines.append(f"[{f.name}]")
        for g in dataclasses.fields(sec):
            v = getattr(sec, g.name)
            if g.metadata.get("type") is dict:  # (key, value) pairs kept hashable: a TOML inline table
                keys = [k if re.fullmatch(r"[A-Za-z0-9_-]+", k) else _toml(k) for k, _ in v]  # bare key or quoted
                text = "{ " + ", ".join(f"{k} = {_toml(x)}" for k, (_, x) in zip(keys, v)) + " }" if v else "{}"
                lines.append(f"{g.name} = {text}")
                continue
            lines.append(f"# {g.name} is unset" if v is None else f"{g.name} = {_toml(v)}")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def write_tables_and_figures(built, figures, out: Path, fs, when: dt.datetime) -> None:
    """Every table as CSV (and Word/RTF when asked) in ``out/tables``, every figure as PNG and SVG in
    ``out/figures``."""
    from cartalysis.report import render
    from cartalysis.report.model import Table

    (out / "tables").mkdir(exist_ok=True)
    (out / "figures").mkdir(exist_ok=True)
    for s in built:
        for b in s.blocks:
            if isinstance(b, Table):
                render.write_csv(b, out / "tables" / f"{b.key}.csv")
                if "docx" in fs:
                    render.write_docx(b, out / "tables" / f"{b.key}.docx", when)
                if "rtf" in fs:
                    render.write_rtf(b, out / "tables" / f"{b.key}.rtf")
    for f in figures:
        (out / "figures" / f"{f.key}.png").write_bytes(f.png)
        (out / "figures" / f"{f.key}.svg").write_bytes(f.svg)


def write_report_files(title: str, built, prov, out: Path, fs, when: dt.datetime) -> Path:
    """``report.html`` and, when asked, the whole report as ``report.docx`` / ``report.rtf``; returns the HTML path."""
    from cartalysis.report import document, render

    html_path = out / "report.html"
    html_path.write_text(render.render_html(title, built, prov), encoding="utf-8")
    if "docx" in fs:
        document.write_docx_document(title, built, prov, out / "report.docx", when)
    if "rtf" in fs:
        document.write_rtf_document(title, built, prov, out / "report.rtf")
    return html_path


def build_report(study_path: Path | str, out_dir: Path | str, sap_path: Path | str | None = None,
                 formats=FORMATS, source: str = "", force: bool = False) -> Written:
    """Build the report of the study at ``study_path`` into ``out_dir`` (see the module docstring).

    ``source`` names where the study folder came from (e.g. a registry data lock and its SHA-256) in the provenance.

    Everything is written into a temporary folder beside ``out_dir`` and moved into place when complete
    (``report/outdir.py``: no symbolic links, never inside the study, a non-empty folder not written by cartalysis
    only with ``force``, stale files of an earlier run removed, ``manifest.json`` lists the files).

    Raises ``UsageError`` (bad formats, unreadable input, unsafe ``out_dir``) or ``StudyError`` (data problems).
    """
    fs = _check_formats(formats)
    from cartalysis.study.adam import is_adam_folder

    if is_adam_folder(study_path):
        from cartalysis.report.adam_build import build_adam_report

        return build_adam_report(study_path, out_dir, sap_path, fs)
    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from cartalysis.derive import derive_all, write_derived
    from cartalysis.derive.adam import write_adam
    from cartalysis.report import outdir, render, sections
    from cartalysis.report.results import Registry
    from cartalysis.study.load import read_and_check_with_plan

    final = Path(out_dir)
    console = Console(stderr=True)
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=console,
                  transient=True, disable=not console.is_terminal) as progress, \
            outdir.staged(final, Path(study_path), force) as out:  # ``out`` is the temporary folder
        task = progress.add_task("loading study", total=None)
        study, plan, plan_file, problems = read_and_check_with_plan(study_path, sap_path)
        if errors_of(problems):  # data and plan errors together: the user fixes everything in one round
            raise StudyError(problems)
        progress.update(task, description="deriving datasets")
        derived = derive_all(study, plan)
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise UsageError(f"cannot create output folder {out}: {e.strerror or e}") from None
        write_derived(derived, out / "derived")

        ctx = sections.Ctx(study, plan, derived, Registry())
        built = [sections.warnings_section(ctx, warnings_of(problems))] if warnings_of(problems) else []
        for spec in sections.SECTIONS:
            progress.update(task, description=f"analysing: {spec.key}")
            built.append(spec.build(ctx))

        progress.update(task, description="writing")
        when = report_date(study, plan.study.data_cutoff)
        write_adam(derived, out / "adam", plan.study.name or study.name, when, study.tables["pk"])
        write_tables_and_figures(built, ctx.figures, out, fs, when)
        results = ctx.reg.write(out / "results.json")

        if plan_file is not None:
            plan_desc = f"{Path(plan_file).name} (SHA-256 {hashlib.sha256(Path(plan_file).read_bytes()).hexdigest()})"
        else:
            plan_desc = "built-in plan (pivotal Inati-cel SAP defaults; docs/analysis-plan.md)"
        name = plan.study.name or study.name
        prov = render.Provenance(
            study=name, version=__version__, date=when.date().isoformat(), plan=plan_desc,
            plan_text=_plan_text(plan), checksums=tuple(sorted(study.checksums.items())),
            date_source=date_source(plan.study.data_cutoff), source=source,
        )
        html_path = write_report_files(plan.study.title or f"Study report: {name}", built, prov, out, fs, when)
    return Written(final / html_path.name, final / results.name, tuple(warnings_of(problems)))
