"""Command line: a thin layer over study/, derive/, stats/, report/ and twins/.

Exit status: 0 success, 1 the user's data has errors, 2 usage error (bad
option, missing folder, unreadable file), 3 internal error (a bug: one line,
no traceback unless CARTALYSIS_DEBUG is set). No traceback reaches the user for
bad input: data problems are raised as ``StudyError``/``UsageError`` and
printed as ``file:row:column: message`` lines.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import typer

from cartalysis import __version__

app = typer.Typer(
    rich_markup_mode=None,  # plain help: rich's formatter costs half of `cartalysis --help` (issue 12)
    add_completion=False,
    no_args_is_help=True,
    help="cartalysis: CAR-T cell therapy study analysis (validation, derivations, statistics, report).",
    pretty_exceptions_enable=False,
)


def _fail(lines: list[str], code: int) -> None:
    for line in lines:
        typer.echo(line, err=True)
    raise typer.Exit(code)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"cartalysis {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", is_eager=True, callback=_print_version, metavar="",
                                 help="Print the version and exit."),
) -> None:
    """cartalysis: CAR-T cell therapy study analysis (validation, derivations, statistics, report)."""


def _summary(problems, study: Path) -> str:
    n_err = sum(not p.is_warning for p in problems)
    n_warn = len(problems) - n_err
    parts = ([f"{n_err} problem(s)"] if n_err else []) + ([f"{n_warn} warning(s)"] if n_warn else [])
    return f"{' and '.join(parts)} found in {study}"


@app.command()
def validate(
    study: Path = typer.Argument(..., help="Study folder of CSV files, or an .xlsx workbook."),
    sap: Path | None = typer.Option(None, "--sap", help="Analysis plan to check (default: STUDY/sap.toml if present)."),
) -> None:
    """Check every table of a study and its plan; list all problems as file:row:column: message.

    Exit 1 when there is an error; warnings alone are listed and exit 0."""
    from cartalysis.study.errors import UsageError
    from cartalysis.study.validate import validate_study

    try:
        problems = validate_study(study, sap)
    except UsageError as e:
        _fail([f"error: {e}"], 2)
    if any(not p.is_warning for p in problems):
        _fail([str(p) for p in problems] + [_summary(problems, study)], 1)
    for p in problems:
        typer.echo(str(p), err=True)
    typer.echo(f"{study}: no errors, {len(problems)} warning(s)" if problems else f"{study}: no problems found")


def _run_report(study: Path, out: Path, sap: Path | None, formats: str, force: bool = False) -> None:
    from cartalysis.report.build import build_report
    from cartalysis.study.errors import StudyError, UsageError

    try:
        written = build_report(study, out, sap_path=sap, formats=tuple(f.strip() for f in formats.split(",") if f.strip()),
                               force=force)
    except UsageError as e:
        _fail([f"error: {e}"], 2)
    except StudyError as e:
        _fail([str(p) for p in e.problems] + [_summary(e.problems, study)], 1)
    for p in written.warnings:
        typer.echo(str(p), err=True)
    typer.echo(f"report:  {written.report_html}")
    typer.echo(f"results: {written.results_json}")


@app.command()
def report(
    study: Path = typer.Argument(..., help="Study folder (or .xlsx workbook)."),
    out: Path = typer.Option(Path("report"), "--out", help="Output folder."),
    sap: Path | None = typer.Option(None, "--sap", help="Analysis plan (default: STUDY/sap.toml, else the built-in plan)."),
    format: str = typer.Option("html,docx,rtf", "--format", help="Comma-separated: html, docx, rtf."),
    force: bool = typer.Option(False, "--force", metavar="",
                               help="Write into a non-empty --out folder not written by cartalysis (replaces only "
                                    "the report's own files)."),
) -> None:
    """Produce the study report (HTML, Word, RTF), results.json and derived datasets.

    The report is written beside --out and moved into place when complete; --out may not be a symbolic link or
    inside the study folder; files of an earlier report there are replaced (see OUT/manifest.json)."""
    _run_report(study, out, sap, format, force)


@app.command()
def demo(
    out: Path = typer.Option(Path("demo-report"), "--out", help="Output folder."),
    format: str = typer.Option("html,docx,rtf", "--format", help="Comma-separated: html, docx, rtf."),
) -> None:
    """Run the report on the embedded demo study (the `pivotal` twin); its input tables go to OUT/study/."""
    from cartalysis.twins.generate import write_twin

    from cartalysis.study.errors import UsageError

    study_dir = out / "study"
    try:
        write_twin("pivotal", study_dir)
    except UsageError as e:
        _fail([f"error: {e}"], 2)
    typer.echo(f"study:   {study_dir}")
    _run_report(study_dir, out, None, format, force=True)  # OUT holds the demo's own study/: not ours to refuse


@app.command()
def twin(
    name: str | None = typer.Argument(None, help="Twin name (see --list)."),
    out: Path | None = typer.Option(None, "--out", help="Study folder to write."),
    seed: int | None = typer.Option(None, "--seed", help="Random seed (default: the twin's own)."),
    list_: bool = typer.Option(False, "--list", help="List the available twins."),
    format: str = typer.Option("csv", "--format", help="csv (study folder) or sdtm (OUT/xpt/*.xpt and OUT/json/*.json)."),
) -> None:
    """Write a synthetic study that reproduces a published CAR-T study."""
    if format not in ("csv", "sdtm"):
        _fail([f"error: --format must be csv or sdtm, not {format!r}"], 2)
    if not list_ and (name is None or out is None):
        _fail(["error: give a twin NAME and --out STUDY_DIR (or --list)"], 2)
    from cartalysis.twins.generate import list_twins, write_twin

    if list_:
        for t in list_twins():
            typer.echo(f"{t.name:16} {t.title}")
        return
    names = [t.name for t in list_twins()]
    if name not in names:
        _fail([f"error: unknown twin {name!r}; choose one of: {', '.join(names)}"], 2)
    from cartalysis.study.errors import UsageError

    try:
        if format == "sdtm":
            from cartalysis.twins.sdtm import write_twin_sdtm

            write_twin_sdtm(name, out, seed=seed)
        else:
            write_twin(name, out, seed=seed)
    except UsageError as e:
        _fail([f"error: {e}"], 2)
    typer.echo(f"{name}: written to {out}")


import_app = typer.Typer(no_args_is_help=True, help="Build a study folder from SDTM datasets or a REDCap export.")
app.add_typer(import_app, name="import")


def _run_import(run, out: Path) -> None:
    """Import, then list every value that did not fit and every validation problem (exit 1 if any)."""
    from cartalysis.study.errors import StudyError, UsageError

    try:
        result = run()
    except UsageError as e:
        _fail([f"error: {e}"], 2)
    except StudyError as e:
        _fail([str(p) for p in e.problems] + [f"{len(e.problems)} problem(s): nothing written to {out}"], 1)
    typer.echo(f"study:         {result.study}")
    typer.echo(f"import report: {result.study / 'import-report.md'}")
    if result.problems:
        _fail([str(p) for p in result.problems] + [f"{len(result.problems)} problem(s): see {result.study / 'import-report.md'}"], 1)


@import_app.command("sdtm")
def import_sdtm(
    folder: Path = typer.Argument(..., help="Folder of SDTM datasets (dm.xpt, ae.xpt, ... or Dataset-JSON .json)."),
    out: Path = typer.Option(..., "--out", help="Study folder to create (must not exist or be empty)."),
    mapping: Path | None = typer.Option(None, "--mapping", help="Mapping TOML (default: the built-in sponsor conventions; docs/importers.md)."),
) -> None:
    """SDTM (XPT v5/v8 or Dataset-JSON) -> study folder, with OUT/import-report.md."""
    from cartalysis.study.importers.sdtm import import_sdtm as run

    _run_import(lambda: run(folder, out, mapping), out)


@import_app.command("redcap")
def import_redcap(
    export: Path = typer.Argument(..., help="REDCap flat export, CSV (raw data), with data access groups."),
    dictionary: Path = typer.Option(..., "--dictionary", help="The project's data dictionary CSV (shipped: cartalysis/study/importers/redcap/)."),
    out: Path = typer.Option(..., "--out", help="Study folder to create (must not exist or be empty)."),
    dags: Path | None = typer.Option(None, "--dags", help="REDCap's DAG list (data_access_group_name,unique_group_name): site labels."),
) -> None:
    """REDCap flat export -> study folder, with OUT/import-report.md."""
    from cartalysis.study.importers.redcap.flat import import_redcap as run

    _run_import(lambda: run(export, dictionary, out, dags), out)


def _register_stats() -> None:
    from cartalysis import cli_stats
    from cartalysis.registry import cli as cli_registry

    cli_stats.register(app)
    cli_registry.register(app)


def main() -> None:
    _register_stats()
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as e:  # noqa: BLE001 - last resort: a bug must not greet the user with a traceback
        if os.environ.get("CARTALYSIS_DEBUG"):
            raise
        typer.echo(
            f"cartalysis: internal error ({type(e).__name__}: {e}). This is a bug in cartalysis, not a problem in "
            "your data: please report it with the command you ran (CARTALYSIS_DEBUG=1 shows the traceback).",
            err=True,
        )
        sys.exit(3)


if __name__ == "__main__":
    main()
