"""Data lock: freeze all sites' data as a content-addressed study folder; write it back, report on it.

A snapshot's study folder has one CSV file per table that holds rows (required tables always), with every spec
column in spec order then the extra columns sorted, rows sorted by site code, patient id and row key, cells in
canonical text (``canonical.py``), ``\\n`` line ends; plus ``sap.toml`` when the registry has a plan. The files
are built from the database once, at the lock, and stored per site (``SnapshotPart``); later edits of the live
data never touch them. Its address is the SHA-256 of the manifest (``models.Snapshot``), checked again whenever
the whole folder is written back.
"""

from __future__ import annotations

import hashlib
import tempfile
from collections import defaultdict
from pathlib import Path

from cartalysis.registry import access as a
from cartalysis.registry import models as m
from cartalysis.registry.canonical import csv_text
from cartalysis.registry.ingest import insert_audit
from cartalysis.study.errors import UsageError
from cartalysis.study.spec import TABLES

FULL_SCOPE = ("coordinator", "admin")


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def lock(who: a.Actor, name: str) -> m.Snapshot:
    """Freeze the registry as snapshot ``name`` (coordinator); every patient in it becomes locked."""
    a.require(who, "coordinator")
    name = name.strip()
    if not name or "/" in name or name.startswith("."):
        raise UsageError(f"bad snapshot name {name!r}: use letters, digits, - and _")
    with a._scoped(who):
        if m.Snapshot.objects.filter(name=name).exists():
            raise UsageError(f"snapshot {name!r} exists already; snapshots are never overwritten")
        site_codes = dict(m.Site.objects.values_list("id", "code"))
        rows = defaultdict(list)  # table -> [(site code, patient id, key, values)]
        for r in m.Row.objects.values("site_id", "patient__patient_id", "table", "key", "values").iterator(5000):
            rows[r["table"]].append((site_codes[r["site_id"]], r["patient__patient_id"], r["key"], r["values"]))
        parts, files = [], {}
        for spec in TABLES:
            if spec.name not in rows and not spec.required:
                continue
            table_rows = sorted(rows.get(spec.name, []), key=lambda t: t[:3])
            extra = sorted({c for *_, v in table_rows for c in v} - set(spec.names))
            header = list(spec.names) + extra
            header_text = csv_text([header])
            by_site = defaultdict(list)
            for site, _, _, values in table_rows:
                by_site[site].append([values.get(c, "") for c in header])
            bodies = {site: csv_text(body).encode("utf-8") for site, body in by_site.items()}
            files[f"{spec.name}.csv"] = header_text.encode("utf-8") + b"".join(bodies[s] for s in sorted(bodies))
            # every site gets a part of every table, empty or not, so that a site's folder has every header
            parts += [(site_id, spec.name, header_text, bodies.get(code, b"")) for site_id, code in site_codes.items()]
        sap = a.get_setting("sap")
        if sap:
            files["sap.toml"] = sap.encode("utf-8")
        manifest = "".join(f"{_sha(files[f])}  {f}\n" for f in sorted(files))
        snap = m.Snapshot.objects.create(
            name=name, sha256=_sha(manifest.encode()), manifest=manifest, sap=sap, created_at=a.now(),
            created_by=who.username, patients=m.Patient.objects.count())
        m.SnapshotPart.objects.bulk_create(
            [m.SnapshotPart(snapshot=snap, site_id=s, table=t, header=h, body=b) for s, t, h, b in parts],
            batch_size=500)
        at = a.now()
        patients = list(m.Patient.objects.values_list("id", "site_id", "patient_id"))
        m.Patient.objects.update(locked=True)
        insert_audit(
            [a.audit(who, site, "lock", pid, "patient", a.record_id("patient", pid, ""), "", None,
                     f"{name} sha256:{snap.sha256}", "", at) for _, site, pid in patients])
        return snap


def list_snapshots(who: a.Actor) -> list[tuple[str, str, str, int]]:
    """``(name, sha256, created_at ISO, patients)`` of every snapshot, oldest first."""
    a.require(who, *m.ROLES)
    with a._scoped(who, write=False):
        return [(s.name, s.sha256, s.created_at.isoformat(), s.patients) for s in m.Snapshot.objects.order_by("id")]


def _snapshot(name: str) -> m.Snapshot:
    s = m.Snapshot.objects.filter(name=name).first()
    if s is None:
        raise a.NotFound(f"no snapshot {name!r}")
    return s


def snapshot_files(who: a.Actor, name: str) -> tuple[m.Snapshot, dict[str, bytes]]:
    """The snapshot's study folder as ``{file name: bytes}`` in the actor's scope.

    Coordinators and admins get every site (checked against the manifest); site roles get their own site's rows
    only (row-level security on PostgreSQL, the site filter here on both). Statisticians read snapshots only
    through the de-identified export (``deid.export``).
    """
    a.require(who, "coordinator", "admin", "site_data_manager", "site_viewer")
    return _files(who, name)


def _files(who: a.Actor, name: str) -> tuple[m.Snapshot, dict[str, bytes]]:
    with a._scoped(who, write=False):
        snap = _snapshot(name)
        parts = m.SnapshotPart.objects.filter(snapshot=snap, **a._site_filter(who)).select_related("site")
        headers: dict[str, str] = {}
        bodies: dict[str, list[tuple[str, bytes]]] = defaultdict(list)
        for p in parts:
            headers[p.table] = p.header
            bodies[p.table].append((p.site.code, bytes(p.body)))
        files = {f"{t}.csv": headers[t].encode() + b"".join(b for _, b in sorted(bodies[t])) for t in headers}
        if snap.sap:
            files["sap.toml"] = snap.sap.encode("utf-8")
        if who.all_sites:
            manifest = "".join(f"{_sha(files[f])}  {f}\n" for f in sorted(files))
            if _sha(manifest.encode()) != snap.sha256:
                raise RuntimeError(f"snapshot {name} does not match its SHA-256: the stored data were altered")
        return snap, files


def write_folder(files: dict[str, bytes], folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for f, data in files.items():
        (folder / f).write_bytes(data)
    return folder


def report(who: a.Actor, name: str, out: Path | str, formats=("html", "docx", "rtf")):
    """The report of snapshot ``name`` (pooled for coordinators and admins; one site's for site roles)."""
    from cartalysis.report.build import build_report

    snap, files = snapshot_files(who, name)
    scope = "all sites" if who.all_sites else f"site {who.site_code} only"
    with tempfile.TemporaryDirectory(prefix="cartalysis-snapshot-") as tmp:
        folder = write_folder(files, Path(tmp) / snap.name)
        return build_report(folder, out, formats=formats,
                            source=f"registry data lock {snap.name!r} (SHA-256 {snap.sha256}), {scope}")
