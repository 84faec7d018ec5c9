"""The multi-centre registry (Django, used as a library). Nothing below ``registry`` imports it, and importing
this package does not import Django.

Modules: ``settings`` (``setup()``: Django configured from ``CARTALYSIS_DATABASE_URL``), ``models`` (tables),
``access`` (the data-access API every reader and writer uses: roles, site scope, reads, edits, queries; see its
docstring), ``ingest`` (import by site), ``snapshots`` (data lock, pooled report), ``deid`` (de-identified
export), ``cli`` (``cartalysis registry …``), ``demo``, ``pgserver`` (throw-away PostgreSQL for tests and CI).
"""
