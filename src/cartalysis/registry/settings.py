"""Django configured as a library: database from ``CARTALYSIS_DATABASE_URL``, SQLite file by default.

No settings module and no ``manage.py``: :func:`setup` calls ``settings.configure`` once per process. URLs:

- ``sqlite:///relative/or/absolute/path.sqlite3`` (default ``sqlite:///cartalysis-registry.sqlite3``,
  or the file named by ``CARTALYSIS_REGISTRY_DB``);
- ``postgresql://user:password@host:port/dbname`` (the *application* role: a non-owner, subject to row-level
  security). ``CARTALYSIS_DATABASE_OWNER_URL`` names the role that owns the tables and runs the migrations
  (database alias ``owner``); without it the application URL migrates too (SQLite, or a development server).

The web application (issue 16) extends :func:`settings_dict` with its own apps and middleware and passes the
result to ``settings.configure`` itself before calling :func:`setup`.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from cartalysis.study.errors import UsageError

DEFAULT_URL = "sqlite:///cartalysis-registry.sqlite3"


def database_url() -> str:
    if os.environ.get("CARTALYSIS_DATABASE_URL"):
        return os.environ["CARTALYSIS_DATABASE_URL"]
    if os.environ.get("CARTALYSIS_REGISTRY_DB"):
        return "sqlite:///" + str(Path(os.environ["CARTALYSIS_REGISTRY_DB"]).resolve())
    return DEFAULT_URL


def database_config(url: str) -> dict:
    """A Django ``DATABASES`` entry for ``url`` (``sqlite:///PATH`` or ``postgresql://…``)."""
    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        path = unquote(url[len("sqlite:///"):]) if url.startswith("sqlite:///") else ""
        if not path:
            raise UsageError(f"bad SQLite URL {url!r}; write sqlite:///path/to/registry.sqlite3")
        return {"ENGINE": "django.db.backends.sqlite3", "NAME": path, "OPTIONS": {
            "timeout": 60,  # a writer waits for another process's transaction instead of failing at once
            "transaction_mode": "IMMEDIATE",  # take the write lock at BEGIN: read-then-write transactions serialise
            "init_command": "PRAGMA journal_mode=WAL;",  # readers do not block the writer
        }}
    if parts.scheme in ("postgres", "postgresql"):
        query = parse_qs(parts.query)  # ?host=/socket/dir as libpq accepts it
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": unquote(parts.path.lstrip("/")),
            "USER": unquote(parts.username or ""),
            "PASSWORD": unquote(parts.password or ""),
            "HOST": query["host"][0] if "host" in query else unquote(parts.hostname or ""),
            "PORT": str(parts.port or ""),
            "CONN_MAX_AGE": 0,
        }
    raise UsageError(f"unsupported database URL {url!r}; use sqlite:///PATH or postgresql://USER@HOST/DB")


def settings_dict(url: str | None = None) -> dict:
    """The settings the registry needs; callers may add apps, middleware and templates."""
    databases = {"default": database_config(url or database_url())}
    owner = os.environ.get("CARTALYSIS_DATABASE_OWNER_URL")
    if owner and url is None:
        databases["owner"] = database_config(owner)
    return {
        "DATABASES": databases,
        "INSTALLED_APPS": [
            "django.contrib.contenttypes",
            "django.contrib.auth",
            "django.contrib.sessions",
            "cartalysis.registry",
        ],
        "DEFAULT_AUTO_FIELD": "django.db.models.BigAutoField",
        "USE_TZ": True,
        "TIME_ZONE": "UTC",
        "SECRET_KEY": os.environ.get("CARTALYSIS_SECRET_KEY", "cartalysis-registry-library-use-only"),
        # a cheap hasher keeps the demo and the tests fast; the web app sets its own PASSWORD_HASHERS
        "PASSWORD_HASHERS": ["django.contrib.auth.hashers.PBKDF2PasswordHasher"],
    }


def setup(url: str | None = None) -> None:
    """Configure Django for the registry (once per process; later calls are no-ops)."""
    try:
        import django
        from django.conf import settings
    except ImportError:
        raise UsageError("the registry needs Django: pip install 'cartalysis[registry]'") from None
    if not settings.configured:
        settings.configure(**settings_dict(url))
    django.setup()
