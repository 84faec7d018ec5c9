"""Web tests: the registry of ``registry_builders`` (sites S1, S2, one user per role) served by Django's test client.

The web settings (``registry.web.config``) are applied over the library settings the registry conftest configured;
passwords use a fast hasher here (the app's PBKDF2 is deliberately slow).
"""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.test.utils import override_settings
from registry_builders import populate

from cartalysis.registry import access as a
from cartalysis.registry import snapshots
from cartalysis.registry.web.config import web_settings

from registry_builders import WEB_PASSWORD as PASSWORD  # noqa: E402


@pytest.fixture
def web(db, small_study, tmp_path):
    """Settings applied, registry populated with a data lock and a query per site; ``dm1`` has ``PASSWORD``."""
    from django.contrib.auth.models import User

    fast = {"PASSWORD_HASHERS": ["django.contrib.auth.hashers.MD5PasswordHasher"]}
    with override_settings(**{**web_settings(), **fast}):
        cache.clear()
        folders = populate(small_study, tmp_path)
        snapshots.lock(a.actor("coord"), "v1")
        q1 = a.raise_query(a.actor("coord"), "P01", "age?", "subjects", "[]", "age")
        q2 = a.raise_query(a.actor("coord"), "P03", "sex?", "subjects", "[]", "sex")
        user = User.objects.get(username="dm1")
        user.set_password(PASSWORD)
        user.save()
        yield {"folders": folders, "tmp": tmp_path, "db": db, "queries": {"S1": q1.id, "S2": q2.id}}
        cache.clear()
