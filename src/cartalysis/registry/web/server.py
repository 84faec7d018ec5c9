"""``registry serve``: configure Django for the web application and run its threaded development server.

The server is Django's own (``django.core.servers.basehttp``, what ``runserver`` uses, without autoreload); it is
meant for loopback and small deployments. In production run the WSGI ``application`` behind a proper server and
HTTPS (``CARTALYSIS_HTTPS=1`` then marks the cookies ``Secure`` and turns on HSTS).
"""

from __future__ import annotations

import secrets
from pathlib import Path

from cartalysis.study.errors import UsageError


def configure(host: str, url: str | None = None, demo_dir: Path | None = None) -> list[str]:
    """Configure Django (registry + web settings) for ``url``; build the demo in ``demo_dir`` when asked and absent."""
    import django
    from django.conf import settings

    from cartalysis.registry.settings import settings_dict
    from cartalysis.registry.web.config import web_settings

    hosts = tuple(dict.fromkeys([host, "127.0.0.1", "localhost"]))
    settings.configure(**{**settings_dict(url), **web_settings(hosts)})
    django.setup()
    from django.db import DatabaseError

    from cartalysis.registry import access as a

    if demo_dir is not None and not (demo_dir / "registry.sqlite3").exists():
        from cartalysis.registry.demo import build_demo

        password = secrets.token_urlsafe(12)
        build_demo(demo_dir, url, password)
        (demo_dir / "demo-password.txt").write_text(password + "\n", encoding="utf-8")
    try:
        a.sites()
    except DatabaseError as e:
        raise UsageError(f"registry database: {str(e).strip().splitlines()[0]} (run: cartalysis registry init)") from None
    if demo_dir is None:
        return []
    password = (demo_dir / "demo-password.txt").read_text(encoding="utf-8").strip()
    first = a.sites()[0]
    return [f"demo registry in {demo_dir}: log in as coordinator, dm_{first} or viewer_{first} "
            f"with password {password}"]


def run(host: str, port: int) -> None:
    from django.core.servers.basehttp import run as django_run
    from django.core.wsgi import get_wsgi_application

    django_run(host, port, get_wsgi_application(), ipv6=":" in host, threading=True)
