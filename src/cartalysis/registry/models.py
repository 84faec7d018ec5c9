"""The registry's tables (Django models). Read and write them only through :mod:`cartalysis.registry.access`.

Storage of study data: one ``Patient`` per patient and one ``Row`` per row of any study table, holding that row's
cells as canonical text in a JSON object (``{"column": "text"}``; missing cells are absent). Why not one model per
spec table: the data model (``study/spec.py``) grows with every issue (new tables, new columns) and a study may
carry extra covariate columns; with rows as JSON a spec change needs no migration and extra columns are kept,
while every row is still one relational record with its own site, version (optimistic locking) and audit
identity. Values are validated and typed by ``study`` before they get here; canonical text (ISO dates,
``yes``/``no``, shortest float ``repr``) makes "the same value" a string comparison and lets a snapshot write
the study folder back byte for byte.

``site`` is repeated on every site-owned row (patients, rows, audit entries, queries) so that PostgreSQL
row-level security can filter each table on its own column (migration 0002).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

ROLES = ("site_data_manager", "site_viewer", "coordinator", "statistician", "auditor", "admin")
SITE_ROLES = ("site_data_manager", "site_viewer")


class Site(models.Model):
    code = models.CharField(max_length=64, unique=True)
    name = models.CharField(max_length=200, blank=True)

    def __str__(self) -> str:
        return self.code


class Membership(models.Model):
    """A user's role (one per user); site roles name their site."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="registry_role")
    role = models.CharField(max_length=32, choices=[(r, r) for r in ROLES])
    site = models.ForeignKey(Site, null=True, blank=True, on_delete=models.PROTECT)

    class Meta:
        constraints = [
            models.CheckConstraint(
                name="site_roles_have_a_site",
                condition=models.Q(role__in=SITE_ROLES, site__isnull=False) | ~models.Q(role__in=SITE_ROLES),
            )
        ]


class Patient(models.Model):
    site = models.ForeignKey(Site, on_delete=models.PROTECT)
    patient_id = models.CharField(max_length=200, unique=True)
    locked = models.BooleanField(default=False)  # set by a data lock: later changes need a reason
    signed_by = models.CharField(max_length=150, blank=True)
    signed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["patient_id"]


class Row(models.Model):
    """One row of a study table. ``key`` identifies it within (patient, table): see ``ingest.row_keys``."""

    site = models.ForeignKey(Site, on_delete=models.PROTECT)
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="rows")
    table = models.CharField(max_length=64)
    key = models.CharField(max_length=1000)
    values = models.JSONField()
    version = models.PositiveIntegerField(default=1)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["patient", "table", "key"], name="one_row_per_key")]
        indexes = [models.Index(fields=["site", "table"])]


class AuditEntry(models.Model):
    """Append-only (database triggers refuse UPDATE and DELETE; migration 0002).

    ``action`` insert: ``new`` holds the whole row as JSON and ``field`` is empty; update: one entry per changed
    field with ``old`` and ``new`` text (``None`` = empty cell); delete: ``old`` holds the whole row as JSON.
    Patient-level actions (``sign``, ``lock``) and query actions use ``table`` ``"patient"``/``"query"``.
    """

    at = models.DateTimeField()
    actor = models.CharField(max_length=150)
    site = models.ForeignKey(Site, on_delete=models.PROTECT)
    action = models.CharField(max_length=16)
    patient_id = models.CharField(max_length=200)
    table = models.CharField(max_length=64)
    record = models.CharField(max_length=1000)
    field = models.CharField(max_length=200, blank=True)
    old = models.TextField(null=True)
    new = models.TextField(null=True)
    reason = models.TextField(blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["patient_id"]), models.Index(fields=["at"])]


class DataQuery(models.Model):
    """A data query on a record/field: raised by a coordinator, answered by the site, closed by a coordinator."""

    STATUSES = ("open", "answered", "closed")
    site = models.ForeignKey(Site, on_delete=models.PROTECT)
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE)
    table = models.CharField(max_length=64)
    record = models.CharField(max_length=1000, blank=True)
    field = models.CharField(max_length=200, blank=True)
    text = models.TextField()
    status = models.CharField(max_length=16, default="open")
    raised_by = models.CharField(max_length=150)
    raised_at = models.DateTimeField()
    answer = models.TextField(blank=True)
    answered_by = models.CharField(max_length=150, blank=True)
    answered_at = models.DateTimeField(null=True, blank=True)
    closed_by = models.CharField(max_length=150, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]


class Setting(models.Model):
    """Registry-wide settings (the analysis plan text ``sap.toml``, extra identifying columns)."""

    name = models.CharField(max_length=64, unique=True)
    value = models.TextField()


class Snapshot(models.Model):
    """A data lock: the study folder of all sites at a moment, content-addressed by ``sha256``.

    ``manifest`` has one ``<sha256 of file>  <file name>`` line per file of the study folder, sorted by name;
    ``sha256`` is the SHA-256 of the manifest, so equal contents give the same address whatever the name. The
    files themselves are stored per site (``SnapshotPart``) so that row-level security keeps a site's part
    to that site; ``sap`` is the analysis plan in force at the lock (``sap.toml`` text, may be empty).
    """

    name = models.CharField(max_length=200, unique=True)
    sha256 = models.CharField(max_length=64)
    manifest = models.TextField()
    sap = models.TextField(blank=True)
    created_at = models.DateTimeField()
    created_by = models.CharField(max_length=150)
    patients = models.PositiveIntegerField()


class SnapshotPart(models.Model):
    """One site's rows of one table in a snapshot: the file is ``header`` + every site's ``body`` by site code."""

    snapshot = models.ForeignKey(Snapshot, on_delete=models.PROTECT, related_name="parts")
    site = models.ForeignKey(Site, on_delete=models.PROTECT)
    table = models.CharField(max_length=64)
    header = models.TextField()
    body = models.BinaryField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["snapshot", "site", "table"], name="one_part_per_site_table")]
