"""Benchmark: the registry with the 20,000-patient registry-style study across the ROCCA twin's 31 sites.

    python benchmarks/registry.py [--patients 20000] [--backend sqlite|postgresql|both]

Builds the study as ``benchmarks/report.py`` does (the ``rocca_registry`` twin replicated with new ids and
shifted dates), splits it by site, then times on a fresh registry: importing all 31 sites (31 transactions,
each validated with the study checks), re-importing them unchanged, the data lock, and the pooled report from
the snapshot (HTML only). PostgreSQL runs on a throw-away server (``cartalysis.registry.pgserver``), connected
as the non-owner application role with row-level security on.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import pandas as pd  # noqa: E402
from report import replicate  # noqa: E402

from cartalysis.twins.generate import write_twin  # noqa: E402


def run(backend: str, sites: dict[str, Path], plan: str, work: Path) -> dict[str, float]:
    import subprocess

    env = dict(os.environ)
    server = None
    if backend == "sqlite":
        env["CARTALYSIS_DATABASE_URL"] = f"sqlite:///{work / 'registry.sqlite3'}"
    else:
        from urllib.parse import quote

        from cartalysis.registry import pgserver

        server = work / "pg"
        su = pgserver.start(server)
        pgserver.create_roles(su)
        import psycopg

        with psycopg.connect(su, autocommit=True) as c:
            c.execute(f"CREATE DATABASE bench OWNER {pgserver.OWNER}")
        sock = quote(str(server / "sock"), safe="")
        env["CARTALYSIS_DATABASE_URL"] = f"postgresql://{pgserver.APP}@/bench?host={sock}"
        env["CARTALYSIS_DATABASE_OWNER_URL"] = f"postgresql://{pgserver.OWNER}@/bench?host={sock}"
    code = f"""
import time, json, sys
from pathlib import Path
from cartalysis.registry.settings import setup; setup()
from cartalysis.registry import access as a, ingest, snapshots
a.migrate()
admin = a.bootstrap_admin("admin")
a.create_user(admin, "coord", "coordinator")
sites = {{k: Path(v) for k, v in {dict((k, str(v)) for k, v in sites.items())!r}.items()}}
for s in sites:
    a.create_site(admin, s)
    a.create_user(admin, "dm_" + s, "site_data_manager", s)
a.set_setting(a.actor("coord"), "sap", {plan!r})
t = {{}}
t0 = time.perf_counter()
for s, f in sites.items():
    ingest.import_study(a.actor("dm_" + s), s, [f])
t["import (31 sites)"] = time.perf_counter() - t0
print("import", t["import (31 sites)"], file=sys.stderr, flush=True)
t0 = time.perf_counter()
for s, f in sites.items():
    r = ingest.import_study(a.actor("dm_" + s), s, [f])
    assert r.inserted == r.updated == r.deleted == 0
t["re-import unchanged"] = time.perf_counter() - t0
print("reimport", t["re-import unchanged"], file=sys.stderr, flush=True)
t0 = time.perf_counter()
snap = snapshots.lock(a.actor("coord"), "bench")
t["data lock"] = time.perf_counter() - t0
print("lock", t["data lock"], file=sys.stderr, flush=True)
t0 = time.perf_counter()
snapshots.report(a.actor("coord"), "bench", {str(work / 'report')!r}, formats=("html",))
t["pooled report from the snapshot"] = time.perf_counter() - t0
print(json.dumps(t))
"""
    try:
        r = subprocess.run([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, text=True)
        if r.returncode:
            raise SystemExit(f"{backend}: failed (see the messages above)")
        import json

        return json.loads(r.stdout.strip().splitlines()[-1])
    finally:
        if server is not None:
            from cartalysis.registry import pgserver

            pgserver.stop(server)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--patients", type=int, default=20000)
    ap.add_argument("--backend", default="both", choices=["sqlite", "postgresql", "both"])
    args = ap.parse_args()
    from cartalysis.registry.demo import split_by_site

    work = Path(tempfile.mkdtemp(prefix="cartalysis-registry-bench-"))
    work.chmod(0o755)  # the PostgreSQL server runs as the postgres user and must reach its folder
    try:
        twin = write_twin("rocca_registry", work / "twin")
        big = replicate(twin, work / "big", args.patients)
        # The twin's extra column "anakinra" now clashes with a derived ADSL column of the same name (the plain
        # `cartalysis report` on the twin refuses it too); the benchmark drops it so the report can run.
        subjects = pd.read_csv(big / "subjects.csv", dtype=str, keep_default_na=False)
        subjects.drop(columns=[c for c in ("anakinra",) if c in subjects.columns]).to_csv(big / "subjects.csv", index=False)
        sites = split_by_site(big, work / "sites")
        rows = sum(sum(1 for _ in open(p)) - 1 for p in big.glob("*.csv"))
        print(f"{args.patients} patients, {rows} rows, {len(sites)} sites")
        plan = (big / "sap.toml").read_text()
        for backend in (["sqlite", "postgresql"] if args.backend == "both" else [args.backend]):
            (work / backend).mkdir(mode=0o755)
            for task, seconds in run(backend, sites, plan, work / backend).items():
                print(f"{backend:10} {task:34} {seconds:7.1f} s")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
