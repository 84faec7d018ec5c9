"""Helpers for registry tests: a registry holding the small study (sites S1 and S2) with one user per role."""

from __future__ import annotations

from pathlib import Path

from cartalysis.registry import access as a
from cartalysis.registry import ingest
from cartalysis.registry.demo import split_by_site

USERS = {  # username -> (role, site)
    "dm1": ("site_data_manager", "S1"),
    "dm2": ("site_data_manager", "S2"),
    "view1": ("site_viewer", "S1"),
    "view2": ("site_viewer", "S2"),
    "coord": ("coordinator", None),
    "stat": ("statistician", None),
    "aud": ("auditor", None),
    "root": ("admin", None),
}
SITE_PATIENTS = {"S1": {"P01", "P02", "P05"}, "S2": {"P03", "P04"}}


def populate(study: Path, work: Path) -> dict[str, Path]:
    """Sites S1, S2, the users of ``USERS``, and each site's part of ``study`` imported; returns the site folders."""
    admin = a.bootstrap_admin("root")
    for s in ("S1", "S2"):
        a.create_site(admin, s)
    for name, (role, site) in USERS.items():
        if role != "admin":
            a.create_user(admin, name, role, site)
    folders = split_by_site(study, work / "sites")
    for site, folder in folders.items():
        ingest.import_study(a.actor(f"dm{site[-1]}"), site, [folder])
    return folders


# the password of the web tests' users (tests/registry/web)
WEB_PASSWORD = "correct horse battery staple"
