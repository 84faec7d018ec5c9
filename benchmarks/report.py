"""Benchmark: wall time of ``cartalysis report`` on the demo study and on a 20,000-patient registry-style study.

    python benchmarks/report.py [--patients 20000] [--keep DIR]

The large study is made by replicating the patients of a twin (``rocca_registry`` when available, with its
``sap.toml``; otherwise ``pivotal`` with a plan grouping by sex), each copy with new patient ids and every date
shifted by a few days so that times are not all tied. Prints the wall time of each run, of ``cartalysis
validate`` on the large study, and where the report's time went (load + derive, statistics and layout, writing
files) from a cProfile of the large run.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from cartalysis.twins.generate import list_twins, write_twin


def replicate(src: Path, dst: Path, patients: int) -> Path:
    """Copy the study at ``src`` with its patients repeated until there are ``patients`` screened patients."""
    dst.mkdir(parents=True, exist_ok=True)
    tables = {p.stem: pd.read_csv(p, dtype=str, keep_default_na=False) for p in sorted(src.glob("*.csv"))}
    copies = int(np.ceil(patients / len(tables["subjects"])))
    shifts = np.random.default_rng(20000).integers(-40, 40, size=copies)
    keep = None
    for name in ["subjects"] + [n for n in tables if n != "subjects"]:
        df = tables[name]
        out = []
        for k in range(copies):
            c = df.copy()
            c["patient_id"] = c["patient_id"] + f"-{k:04d}"
            for col in c.columns:
                if col == "date" or col.endswith("_date"):
                    d = pd.to_datetime(c[col], errors="coerce") + pd.Timedelta(days=int(shifts[k]))
                    c[col] = d.dt.strftime("%Y-%m-%d").fillna("")
            out.append(c)
        big = pd.concat(out, ignore_index=True)
        if keep is None:
            big = big.iloc[:patients]
            keep = set(big["patient_id"])
        else:
            big = big[big["patient_id"].isin(keep)]
        big.to_csv(dst / f"{name}.csv", index=False)
    if (src / "sap.toml").exists():
        shutil.copy(src / "sap.toml", dst / "sap.toml")
    return dst


def timed_cli(study: Path, out: Path, extra: list[str] | None = None) -> float:
    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", "cartalysis.cli", "report", str(study), "--out", str(out)] + (extra or []),
                   check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t


def timed_validate(study: Path) -> float:
    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", "cartalysis.cli", "validate", str(study)], check=True,
                   stdout=subprocess.DEVNULL)
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--patients", type=int, default=20_000)
    ap.add_argument("--keep", type=Path, help="keep the generated studies and reports here")
    args = ap.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="cartalysis-bench-"))
    work.mkdir(parents=True, exist_ok=True)

    demo = write_twin("pivotal", work / "demo")
    t_demo = timed_cli(demo, work / "demo-report")
    print(f"demo (pivotal twin, {len(pd.read_csv(demo / 'subjects.csv'))} patients): {t_demo:.2f} s")

    registry = "rocca_registry" if "rocca_registry" in {t.name for t in list_twins()} else "pivotal"
    src = write_twin(registry, work / f"{registry}-base")
    big = replicate(src, work / "registry-20k", args.patients)
    extra = []
    if not (big / "sap.toml").exists():
        (work / "group.toml").write_text('[groups]\nby = "sex"\n', encoding="utf-8")
        extra = ["--sap", str(work / "group.toml")]
    t_big = timed_cli(big, work / "registry-20k-report", extra)
    print(f"registry-style ({registry} replicated to {args.patients} patients): {t_big:.2f} s")
    print(f"cartalysis validate on it: {timed_validate(big):.2f} s")

    # where the time goes, in-process (imports already paid)
    from cartalysis.report.build import build_report

    prof = cProfile.Profile()
    prof.enable()
    build_report(big, work / "registry-20k-profile", sap_path=(work / "group.toml") if extra else None)
    prof.disable()
    st = pstats.Stats(prof)
    total = sum(v[3] for k, v in st.stats.items() if k[2] == "build_report")
    parts = {}
    for key, label in (("load_study", "load + validate"), ("derive_all", "derive"), ("section_", "sections "
                       "(statistics + layout + figures)"), ("render", "figure rendering (PNG/SVG)"),
                       ("write_docx", "docx"), ("write_rtf", "rtf"), ("write_derived", "derived CSV")):
        parts[label] = sum(v[3] for k, v in st.stats.items() if k[2].startswith(key) and (key != "render" or
                           k[0].endswith("figures.py")))
    for name in ("kaplan_meier", "logrank", "cox", "cumulative_incidence", "proportion", "describe",
                 "compare_categorical", "compare_continuous", "median_followup"):
        parts[f"  stats.{name}"] = sum(v[3] for k, v in st.stats.items() if k[2] == name and "/stats/" in k[0])
    print(f"profile of the in-process build ({total:.1f} s under cProfile):")
    for label, secs in parts.items():
        print(f"  {label:45s} {secs:6.2f} s")
    if not args.keep:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
