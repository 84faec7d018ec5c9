"""``cartalysis registry …``: the registry's command line (thin: every command is one ``access``/``ingest``/
``snapshots``/``deid`` call). Django is imported only when a registry command runs.

The acting user is ``--user`` (or ``CARTALYSIS_USER``): the command line trusts whoever can reach the database
(its credentials are the authentication); the web app authenticates users with passwords. Exit status as in
``cartalysis.cli``: 1 data problems or a conflicting edit, 2 usage errors, permission denied, unknown records.
"""

from __future__ import annotations

import datetime as dt
import functools
import os
from pathlib import Path

import typer

app = typer.Typer(no_args_is_help=True, help="Multi-centre registry: import by site, audit, queries, data lock, "
                  "pooled report and de-identified export (needs the 'registry' extra).")
query_app = typer.Typer(no_args_is_help=True, help="Data queries: raise, answer, close, list.")
app.add_typer(query_app, name="query")

_state: dict[str, str | None] = {"user": None}


@app.callback()
def _group(user: str | None = typer.Option(None, "--user", envvar="CARTALYSIS_USER",
                                           help="Registry user acting (default: $CARTALYSIS_USER).")) -> None:
    _state["user"] = user


def _fail(lines: list[str], code: int) -> None:
    for line in lines:
        typer.echo(line, err=True)
    raise typer.Exit(code)


def _open(url: str | None = None) -> None:
    from cartalysis.registry.settings import setup

    setup(url)


def _who():
    from cartalysis.registry import access as a

    if not _state["user"]:
        _fail(["error: say who you are with --user NAME (or CARTALYSIS_USER)"], 2)
    return a.actor(_state["user"])


def _errors(fn):
    """Map registry errors to exit codes and one-line messages (no traceback for any expected failure)."""

    @functools.wraps(fn)
    def run(*args, **kwargs):
        from cartalysis.study.errors import StudyError, UsageError

        try:
            _open()
            from django.db import DatabaseError

            from cartalysis.registry import access as a
        except UsageError as e:
            _fail([f"error: {e}"], 2)
        try:
            return fn(*args, **kwargs)
        except StudyError as e:
            _fail([str(p) for p in e.problems] + [f"{len(e.problems)} problem(s); nothing was changed"], 1)
        except a.Conflict as e:
            _fail([f"conflict: {e}"], 1)
        except (UsageError, a.AccessDenied, a.NotFound) as e:
            kind = "permission denied: " if isinstance(e, a.AccessDenied) else ""
            _fail([f"error: {kind}{e}"], 2)
        except DatabaseError as e:
            hint = " (run: cartalysis registry init)" if "no such table" in str(e) or "does not exist" in str(e) else ""
            _fail([f"error: registry database: {str(e).strip().splitlines()[0]}{hint}"], 2)

    return run


@app.command()
@_errors
def init(admin: str = typer.Option(None, "--admin", help="Create this first admin user.")) -> None:
    """Create or upgrade the registry's tables (and the first admin)."""
    from cartalysis.registry import access as a

    a.migrate()
    if admin:
        a.bootstrap_admin(admin)
    typer.echo("registry ready" + (f"; admin: {admin}" if admin else ""))


@app.command("site")
@_errors
def site(code: str = typer.Argument(...), name: str = typer.Option("", "--name")) -> None:
    """Add a site (admin)."""
    from cartalysis.registry import access as a

    a.create_site(_who(), code, name)
    typer.echo(f"site {code}")


@app.command("user")
@_errors
def user(username: str = typer.Argument(...), role: str = typer.Option(..., "--role"),
         site: str | None = typer.Option(None, "--site")) -> None:
    """Add a user with a role (admin): site_data_manager, site_viewer (need --site), coordinator, statistician,
    auditor, admin."""
    from cartalysis.registry import access as a

    a.create_user(_who(), username, role, site, password=os.environ.get("CARTALYSIS_NEW_PASSWORD"))
    typer.echo(f"user {username}: {role}" + (f" at {site}" if site else ""))


@app.command("plan")
@_errors
def plan(sap: Path = typer.Argument(..., help="sap.toml to use for pooled reports.")) -> None:
    """Set the analysis plan used by data locks (coordinator, admin)."""
    from cartalysis.registry import access as a
    from cartalysis.study.errors import UsageError
    from cartalysis.study.plan import load_plan

    load_plan(sap)  # refuse a plan the report would refuse
    try:
        text = sap.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise UsageError(f"cannot read {sap}: {e}") from None
    a.set_setting(_who(), "sap", text)
    typer.echo(f"plan set from {sap}")


@app.command("import")
@_errors
def import_(files: list[Path] = typer.Argument(..., help="Study folders or .xlsx workbooks of this site."),
            site: str = typer.Option(..., "--site", help="The site these files belong to."),
            reason: str = typer.Option("", "--reason", help="Reason for change (needed for locked/signed records)."),
            format: str = typer.Option("study", "--format", help="study (folder/.xlsx), sdtm (folder) or redcap (flat export)."),
            dictionary: Path | None = typer.Option(None, "--dictionary", help="REDCap data dictionary (--format redcap)."),
            mapping: Path | None = typer.Option(None, "--mapping", help="SDTM mapping TOML (--format sdtm).")) -> None:
    """Import one site's files: validated, applied as one transaction, or rejected with the located problems."""
    from cartalysis.registry import ingest

    s = ingest.import_study(_who(), site, files, reason, format, dictionary, mapping)
    typer.echo(f"site {s.site}: {s.patients} patients; rows inserted {s.inserted}, updated {s.updated}, "
               f"deleted {s.deleted}, unchanged {s.unchanged}")


@app.command()
@_errors
def patients(site: str | None = typer.Option(None, "--site")) -> None:
    """List the patients you may see."""
    from cartalysis.registry import access as a

    for p in a.list_patients(_who(), site):
        typer.echo(f"{p.patient_id}\t{p.site}\t{'locked' if p.locked else ''}\t{'signed' if p.signed else ''}".rstrip())


@app.command()
@_errors
def audit(patient: str | None = typer.Option(None, "--patient"),
          since: str | None = typer.Option(None, "--since", help="YYYY-MM-DD (UTC) or an ISO date-time.")) -> None:
    """Print the audit trail (tab-separated: id, UTC time, user, site, action, record, field, old, new, reason)."""
    from cartalysis.registry import access as a
    from cartalysis.study.errors import UsageError

    when = None
    if since:
        try:
            when = dt.datetime.fromisoformat(since)
        except ValueError:
            raise UsageError(f"--since {since!r} is not a date (YYYY-MM-DD)") from None
        when = when if when.tzinfo else when.replace(tzinfo=dt.timezone.utc)
    typer.echo("id\tat_utc\tuser\tsite\taction\trecord\tfield\told\tnew\treason")
    for e in a.audit_trail(_who(), patient, when):
        cells = [str(e.id), e.at.astimezone(dt.timezone.utc).isoformat(timespec="seconds"), e.actor, e.site,
                 e.action, e.record, e.field, e.old or "", e.new or "", e.reason]
        typer.echo("\t".join(c.replace("\t", " ").replace("\n", " ") for c in cells))


@app.command()
@_errors
def lock(name: str = typer.Option(..., "--name", help="Snapshot name.")) -> None:
    """Data lock: freeze all sites' data as a named, content-addressed snapshot (coordinator)."""
    from cartalysis.registry import snapshots

    s = snapshots.lock(_who(), name)
    typer.echo(f"snapshot {s.name}: {s.patients} patients, SHA-256 {s.sha256}")


@app.command("snapshots")
@_errors
def list_snapshots() -> None:
    """List the data locks."""
    from cartalysis.registry import snapshots

    for name, sha, at, n in snapshots.list_snapshots(_who()):
        typer.echo(f"{name}\t{sha}\t{at}\t{n} patients")


@app.command()
@_errors
def report(snapshot: str = typer.Option(..., "--snapshot"), out: Path = typer.Option(..., "--out"),
           format: str = typer.Option("html,docx,rtf", "--format")) -> None:
    """The report of a snapshot (pooled for coordinators; own site for site users); byte-identical on rerun."""
    from cartalysis.registry import snapshots

    w = snapshots.report(_who(), snapshot, out, tuple(f.strip() for f in format.split(",") if f.strip()))
    typer.echo(f"report:  {w.report_html}")


@app.command()
@_errors
def export(snapshot: str = typer.Option(..., "--snapshot"), out: Path = typer.Option(..., "--out"),
           deidentify: bool = typer.Option(False, "--deidentify", help="Apply HIPAA Safe Harbor rules."),
           key_file: Path | None = typer.Option(None, "--key-file", help="Pseudonym key (outside --out)."),
           drop: list[str] = typer.Option([], "--drop", help="Extra identifying column to drop (repeatable)."),
           allow_text: list[str] = typer.Option([], "--allow-text", help="Free-text column to keep (repeatable).")) -> None:
    """Write a snapshot as a study folder, optionally de-identified."""
    from cartalysis.registry import deid

    path = deid.export(_who(), snapshot, out, deidentify, key_file, tuple(drop), tuple(allow_text))
    typer.echo(f"export: {path}")


@query_app.command("raise")
@_errors
def query_raise(patient: str = typer.Option(..., "--patient"), text: str = typer.Option(..., "--text"),
                table: str = typer.Option("", "--table"), key: str = typer.Option("", "--key"),
                field: str = typer.Option("", "--field")) -> None:
    """Raise a data query (coordinator)."""
    from cartalysis.registry import access as a

    q = a.raise_query(_who(), patient, text, table, key, field)
    typer.echo(f"query {q.id} raised at site {q.site}")


@query_app.command("answer")
@_errors
def query_answer(query_id: int = typer.Argument(...), text: str = typer.Option(..., "--text")) -> None:
    """Answer a query of your site (site data manager)."""
    from cartalysis.registry import access as a

    a.answer_query(_who(), query_id, text)
    typer.echo(f"query {query_id} answered")


@query_app.command("close")
@_errors
def query_close(query_id: int = typer.Argument(...)) -> None:
    """Close a query (coordinator)."""
    from cartalysis.registry import access as a

    a.close_query(_who(), query_id)
    typer.echo(f"query {query_id} closed")


@query_app.command("list")
@_errors
def query_list(site: str | None = typer.Option(None, "--site"),
               status: str = typer.Option("open", "--status", help="open, answered, closed or all.")) -> None:
    """List queries (default: open ones), per site."""
    from cartalysis.registry import access as a

    for q in a.list_queries(_who(), site, None if status == "all" else status):
        typer.echo(f"{q.id}\t{q.site}\t{q.patient_id}\t{q.table}\t{q.field}\t{q.status}\t{q.text}")


@app.command()
def demo(out: Path = typer.Option(Path("registry-demo"), "--out", help="Folder for the demo registry and files.")) -> None:
    """Build a registry from the ROCCA twin split across its 31 sites, with a user per role."""
    from cartalysis.registry.demo import build_demo
    from cartalysis.study.errors import StudyError, UsageError

    url = os.environ.get("CARTALYSIS_DATABASE_URL") or f"sqlite:///{(out / 'registry.sqlite3').resolve()}"
    try:
        _open(url)
        lines = build_demo(out, url)
    except (UsageError, StudyError) as e:
        _fail([f"error: {e}"], 2)
    for line in lines:
        typer.echo(line)


@app.command()
def serve(host: str = typer.Option("127.0.0.1", "--host"), port: int = typer.Option(8000, "--port"),
          demo_dir: Path | None = typer.Option(None, "--demo", help="Serve the demo registry in this folder "
                                               "(built first when absent; prints the log-in).")) -> None:
    """Run the registry web application (development server; put a WSGI server and HTTPS in front in production)."""
    from cartalysis.study.errors import StudyError, UsageError

    url = None
    try:
        if demo_dir is not None:
            url = f"sqlite:///{(demo_dir / 'registry.sqlite3').resolve()}"
        from cartalysis.registry.web.server import configure, run

        lines = configure(host, url, demo_dir)
        for line in lines:
            typer.echo(line)
        typer.echo(f"serving on http://{host}:{port}/ (Ctrl-C stops)")
        run(host, port)
    except (UsageError, StudyError) as e:
        _fail([f"error: {e}"], 2)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="registry")
