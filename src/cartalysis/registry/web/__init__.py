"""The registry's web application (issue 16): server-rendered pages on the data-access layer (``access``).

Views never query models: every read and write goes through ``access``/``ingest``/``snapshots``, so site isolation
is enforced in one place (and by row-level security on PostgreSQL). Configuration is :func:`config.web_settings`;
``cartalysis registry serve`` runs it.
"""
