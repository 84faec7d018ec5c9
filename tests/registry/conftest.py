"""Registry fixtures: ``db`` gives each test a fresh, migrated registry on SQLite and on PostgreSQL.

PostgreSQL comes from ``CARTALYSIS_TEST_POSTGRES`` (a superuser URL; ``.ci/run`` starts a server and sets it), or
else from a throw-away server this conftest starts itself (``pgserver.start``). When neither works the
PostgreSQL half is skipped with the reason, except under CI (``CI`` set), where it fails.

Django is configured once per process; switching backends swaps the connection settings (``use_database``).
Each backend is migrated once into a template (a SQLite file copied per test; a PostgreSQL template database
cloned per test), and tests connect as the application role ``cartalysis_app`` (non-owner, RLS applies).
"""

from __future__ import annotations

import itertools
import os
import shutil
import tempfile
from pathlib import Path

import pytest

pytest.importorskip("django")

from cartalysis.registry import settings as rs  # noqa: E402

rs.setup("sqlite:///" + str(Path(tempfile.gettempdir()) / "cartalysis-registry-unused.sqlite3"))

from django.db import connections  # noqa: E402

from cartalysis.registry import access, pgserver  # noqa: E402

_counter = itertools.count()


def use_database(default_url: str, owner_url: str | None = None) -> None:
    """Point Django's connections at other databases (closing the old connections)."""
    connections.close_all()
    for alias in list(connections.settings):
        try:
            del connections[alias]
        except AttributeError:
            pass
    databases = {"default": rs.database_config(default_url)}
    if owner_url:
        databases["owner"] = rs.database_config(owner_url)
    connections.__dict__["settings"] = connections.configure_settings(databases)
    if owner_url:
        os.environ["CARTALYSIS_DATABASE_OWNER_URL"] = owner_url
    else:
        os.environ.pop("CARTALYSIS_DATABASE_OWNER_URL", None)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("sqlite") / "template.sqlite3"
    use_database(f"sqlite:///{path}")
    access.migrate()
    connections.close_all()
    return path


@pytest.fixture(scope="session")
def postgres_server(tmp_path_factory):
    """The superuser URL of a PostgreSQL server for the tests (skips with a reason when none can be had)."""
    url = os.environ.get("CARTALYSIS_TEST_POSTGRES")
    directory = None
    if not url:
        directory = Path(tempfile.mkdtemp(prefix="cartalysis-pg-"))
        try:
            url = pgserver.start(directory)
            pgserver.stop_when_gone(os.getpid(), directory)
        except (RuntimeError, OSError) as e:
            shutil.rmtree(directory, ignore_errors=True)
            if os.environ.get("CI"):
                pytest.fail(f"PostgreSQL is required in CI: {e}")
            pytest.skip(f"PostgreSQL half skipped: no server could be started ({e})")
    pgserver.create_roles(url)
    yield url
    if directory is not None:
        connections.close_all()
        pgserver.stop(directory)
        shutil.rmtree(directory, ignore_errors=True)


def _with(url: str, user: str, db: str) -> str:
    from urllib.parse import urlsplit, urlunsplit

    p = urlsplit(url)
    return urlunsplit((p.scheme, f"{user}@{p.hostname or ''}" + (f":{p.port}" if p.port else ""), f"/{db}", p.query, ""))


@pytest.fixture(scope="session")
def postgres_template(postgres_server) -> str:
    import psycopg

    name = f"cartalysis_tmpl_{os.getpid()}"
    with psycopg.connect(postgres_server, autocommit=True) as c:
        c.execute(f"DROP DATABASE IF EXISTS {name}")
        c.execute(f"CREATE DATABASE {name} OWNER {pgserver.OWNER}")
    use_database(_with(postgres_server, pgserver.APP, name), _with(postgres_server, pgserver.OWNER, name))
    access.migrate()
    connections.close_all()
    return name


class Db:
    """The registry database of one test: ``backend``, ``url`` (application role), ``owner_url``, ``superuser_url``."""

    def __init__(self, backend: str, url: str, owner_url: str | None = None, superuser_url: str | None = None):
        self.backend, self.url, self.owner_url, self.superuser_url = backend, url, owner_url, superuser_url

    def env(self) -> dict[str, str]:
        """Environment for a subprocess using this registry."""
        env = dict(os.environ, CARTALYSIS_DATABASE_URL=self.url)
        env.pop("CARTALYSIS_DATABASE_OWNER_URL", None)
        if self.owner_url:
            env["CARTALYSIS_DATABASE_OWNER_URL"] = self.owner_url
        return env


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request, tmp_path):
    if request.param == "sqlite":
        template = request.getfixturevalue("sqlite_template")
        path = tmp_path / "registry.sqlite3"
        shutil.copy(template, path)
        use_database(f"sqlite:///{path}")
        yield Db("sqlite", f"sqlite:///{path}")
        connections.close_all()
        return
    import psycopg

    server = request.getfixturevalue("postgres_server")
    template = request.getfixturevalue("postgres_template")
    name = f"cartalysis_t{os.getpid()}_{next(_counter)}"
    with psycopg.connect(server, autocommit=True) as c:
        c.execute(f"CREATE DATABASE {name} TEMPLATE {template} OWNER {pgserver.OWNER}")
    app, owner = _with(server, pgserver.APP, name), _with(server, pgserver.OWNER, name)
    use_database(app, owner)
    yield Db("postgresql", app, owner, _with(server, "postgres", name))
    connections.close_all()
    with psycopg.connect(server, autocommit=True) as c:
        c.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
