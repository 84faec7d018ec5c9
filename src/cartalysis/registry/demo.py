"""``registry demo``: the ROCCA twin split across its 31 sites, one user per role, ready to explore.

``split_by_site`` is also what a coordinator uses to turn one pooled study folder into per-site imports.
"""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

from cartalysis.study.errors import UsageError
from cartalysis.study.spec import TABLES


def split_by_site(study: Path | str, out: Path | str) -> dict[str, Path]:
    """Split a study folder (CSV) into one folder per site under ``out``: ``{site: folder}``.

    Cells are copied as text, untouched; every table keeps its header; ``sap.toml`` is not copied (the
    registry holds the plan).
    """
    study, out = Path(study), Path(out)
    if not (study / "subjects.csv").is_file():
        raise UsageError(f"{study} is not a study folder with subjects.csv")
    tables = {}
    for spec in TABLES:
        f = study / f"{spec.name}.csv"
        if f.is_file():
            with f.open(newline="", encoding="utf-8-sig") as fh:
                tables[spec.name] = list(csv.reader(fh))
    header, *rows = tables["subjects"]
    pid, site = header.index("patient_id"), header.index("site")
    site_of = {r[pid]: r[site] for r in rows if len(r) > max(pid, site)}
    folders = {}
    for s in sorted(set(site_of.values())):
        folder = out / s
        folder.mkdir(parents=True, exist_ok=True)
        folders[s] = folder
        for name, (head, *body) in tables.items():
            j = head.index("patient_id") if "patient_id" in head else None
            keep = [r for r in body if j is not None and j < len(r) and site_of.get(r[j]) == s]
            with (folder / f"{name}.csv").open("w", newline="", encoding="utf-8") as fh:
                csv.writer(fh, lineterminator="\n").writerows([head, *keep])
    return folders


def copy_plan(study: Path, out: Path) -> None:
    if (study / "sap.toml").is_file():
        shutil.copy(study / "sap.toml", out / "sap.toml")


DEMO_USERS = ("admin", "coordinator", "statistician", "auditor")


def build_demo(out: Path, url: str, password: str | None = None) -> list[str]:
    """Write the ROCCA twin, split it by site, load it into a new registry at ``url`` and lock it; how-to lines.

    With ``password``, the coordinator and the first site's data manager and viewer can log in to the web app with
    it (only those: hashing a password is deliberately slow).
    """
    from cartalysis.registry import access as a
    from cartalysis.registry import ingest, snapshots
    from cartalysis.twins.generate import write_twin

    out = Path(out)
    if url.startswith("sqlite:///"):
        db = Path(url[len("sqlite:///"):])
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)
    study = write_twin("rocca_registry", out / "rocca_registry")
    folders = split_by_site(study, out / "sites")
    a.migrate()
    admin = a.bootstrap_admin("admin")
    first = sorted(folders)[0]
    web_users = {"coordinator", f"dm_{first}", f"viewer_{first}"}

    def pw(username: str) -> str | None:
        return password if username in web_users else None

    for role in DEMO_USERS[1:]:
        a.create_user(admin, role, role, password=pw(role))
    for site in folders:
        a.create_site(admin, site)
        a.create_user(admin, f"dm_{site}", "site_data_manager", site, password=pw(f"dm_{site}"))
        a.create_user(admin, f"viewer_{site}", "site_viewer", site, password=pw(f"viewer_{site}"))
    coordinator = a.actor("coordinator")
    a.set_setting(coordinator, "sap", (study / "sap.toml").read_text(encoding="utf-8"))
    for site, folder in folders.items():
        ingest.import_study(a.actor(f"dm_{site}"), site, [folder])
    snap = snapshots.lock(coordinator, "demo-lock")
    env = f"CARTALYSIS_DATABASE_URL='{url}'"
    return [
        f"registry: {url} ({len(folders)} sites, {snap.patients} patients; data lock 'demo-lock' SHA-256 {snap.sha256})",
        f"users: admin, coordinator, statistician, auditor; per site dm_<SITE> and viewer_<SITE> (e.g. dm_{first})",
        "look at it:",
        f"  {env} cartalysis registry --user viewer_{first} patients",
        f"  {env} cartalysis registry --user coordinator patients",
        f"  {env} cartalysis registry --user auditor audit --since 2000-01-01",
        f"  {env} cartalysis registry --user coordinator report --snapshot demo-lock --out {out / 'report'}",
        f"  head -c 32 /dev/urandom > key.bin; {env} cartalysis registry --user statistician export "
        f"--snapshot demo-lock --deidentify --key-file key.bin --out {out / 'deidentified'}",
        f"  {env} cartalysis registry --user dm_{first} import --site {first} {folders[first]}",
    ]
