"""A throw-away PostgreSQL server for tests and CI, plus the role set-up the registry expects on PostgreSQL.

``initdb`` and ``pg_ctl`` refuse to run as root, so when run as root the server runs as the ``postgres`` system
user (``runuser``); it listens only on a Unix socket in its own temporary directory (no TCP port to collide
with) and trusts local connections. Usage from a shell (``.ci/run``)::

    eval "$(python -m cartalysis.registry.pgserver start /tmp/pgdir)"   # exports CARTALYSIS_TEST_POSTGRES
    python -m cartalysis.registry.pgserver stop /tmp/pgdir

Roles (:func:`create_roles`): ``cartalysis_owner`` owns the tables and runs migrations; ``cartalysis_app`` is
what the application connects as: not the owner, not a superuser, ``NOBYPASSRLS``, and without UPDATE, DELETE or
TRUNCATE on the audit trail (:func:`grant_app_role`).
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

OWNER, APP = "cartalysis_owner", "cartalysis_app"


def find_bindir() -> Path | None:
    for d in [os.environ.get("PG_BINDIR", ""), *sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)]:
        if d and (Path(d) / "initdb").exists() and (Path(d) / "pg_ctl").exists():
            return Path(d)
    found = shutil.which("initdb")
    return Path(found).parent if found else None


def _as_server_user(cmd: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


def url(directory: Path | str, user: str = "postgres", db: str = "postgres") -> str:
    return f"postgresql://{user}@/{db}?host={quote(str(Path(directory) / 'sock'), safe='')}"


def start(directory: Path | str) -> str:
    """Initialise and start a server in ``directory`` (created); return the superuser URL. Raises RuntimeError."""
    bindir = find_bindir()
    if bindir is None:
        raise RuntimeError("no PostgreSQL server binaries (initdb, pg_ctl) found; install Debian's postgresql")
    d = Path(directory)
    (d / "sock").mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        shutil.chown(d, "postgres")
        shutil.chown(d / "sock", "postgres")
    d.chmod(0o755)
    data = d / "data"
    run = lambda cmd: subprocess.run(_as_server_user(cmd), capture_output=True, text=True, check=False)  # noqa: E731
    r = run([str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
             "--locale=C.UTF-8"])
    if r.returncode:
        raise RuntimeError(f"initdb failed: {(r.stderr or r.stdout).strip()[-500:]}")
    opts = f"-c listen_addresses='' -c unix_socket_directories={d / 'sock'} -c fsync=off -c max_connections=60"
    r = run([str(bindir / "pg_ctl"), "-D", str(data), "-l", str(d / "log"), "-o", opts, "-w", "-t", "60", "start"])
    if r.returncode:
        log = (d / "log").read_text(errors="replace")[-500:] if (d / "log").exists() else ""
        raise RuntimeError(f"pg_ctl start failed: {(r.stderr or r.stdout).strip()[-300:]} {log}")
    return url(d)


def stop_when_gone(pid: int, directory: Path | str) -> None:
    """Stop the server in ``directory`` (and delete it) once process ``pid`` has exited, even by ``kill -9``.

    A detached watchdog process, so that a test run killed mid-way leaves no server behind.
    """
    code = (f"import os, shutil, time\nfrom cartalysis.registry.pgserver import stop\n"
            f"while True:\n    try:\n        os.kill({pid}, 0)\n    except OSError:\n        break\n"
            f"    time.sleep(1)\nstop({str(directory)!r})\nshutil.rmtree({str(directory)!r}, ignore_errors=True)\n")
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2]))
    subprocess.Popen([sys.executable, "-c", code], env=env, start_new_session=True, stdin=subprocess.DEVNULL,
                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def stop(directory: Path | str) -> None:
    bindir = find_bindir()
    data = Path(directory) / "data"
    if bindir and (data / "postmaster.pid").exists():
        subprocess.run(_as_server_user([str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"]),
                       capture_output=True, check=False)


def create_roles(superuser_url: str) -> None:
    """Create the owner and application roles (idempotent)."""
    import psycopg

    with psycopg.connect(superuser_url, autocommit=True) as c:
        for role, extra in ((OWNER, "CREATEDB"), (APP, "")):
            if not c.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role]).fetchone():
                c.execute(f"CREATE ROLE {role} LOGIN NOSUPERUSER NOBYPASSRLS {extra}")


def grant_app_role(owner_url: str, app_role: str = APP) -> None:
    """Give the application role what it needs and nothing more (run after every migration)."""
    import psycopg

    with psycopg.connect(owner_url, autocommit=True) as c:
        c.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {app_role}")
        c.execute(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {app_role}")
        c.execute(f"REVOKE UPDATE, DELETE, TRUNCATE ON registry_auditentry FROM {app_role}")
        c.execute(f"REVOKE UPDATE, DELETE, TRUNCATE ON registry_snapshot, registry_snapshotpart FROM {app_role}")


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] not in ("start", "stop"):
        print("usage: python -m cartalysis.registry.pgserver start|stop DIR", file=sys.stderr)
        return 2
    if argv[0] == "stop":
        stop(argv[1])
        return 0
    try:
        print(f"export CARTALYSIS_TEST_POSTGRES='{start(argv[1])}'")
    except RuntimeError as e:
        print(f"echo 'PostgreSQL could not be started: {e}' >&2", file=sys.stdout)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
