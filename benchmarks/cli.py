"""Benchmark: whole `cartalysis` processes against the same jobs in pandas + lifelines, and the CLI's start-up.

    /work/venv/bin/python benchmarks/cli.py [--rows 1000000] [--repeat 5] [--only survival|startup]

``survival``: a --rows CSV (time, event, group, stratum, x1..x5: exponential times rounded up to whole days, so many
ties, uniform censoring) is analysed by ``cartalysis km`` / ``logrank`` / ``cox`` and by a Python process doing the
same job with pandas + lifelines (read the CSV, fit, print the same numbers). Each pair runs alternately, --repeat
times; the machine is shared, so the figures are the median wall time of each, the median of the per-pair ratios
cartalysis / lifelines (the two members of a pair see about the same load), and the CPU time (user + system, from
``resource.getrusage`` of the children), which load does not inflate. Target: every ratio <= 0.5.

``startup``: ``cartalysis --help`` (target < 0.15 s) and ``cartalysis demo`` (target < 2.5 s), median of --repeat
whole-process runs, with the share of the time spent importing modules (``python -X importtime``: the sum of the
top-level imports of the run).

Bytecode is written once before timing (``compileall``), as an installed package has it. Not a test.
"""

from __future__ import annotations

import argparse
import compileall
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
ENV = {**os.environ, "PYTHONPATH": str(SRC), "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
ENV.pop("PYTHONDONTWRITEBYTECODE", None)
COVS = ["x1", "x2", "x3", "x4", "x5"]

LIFELINES = {
    "km": """
import pandas as pd
from lifelines import KaplanMeierFitter
df = pd.read_csv(PATH, usecols=["time", "event", "group"])
for g, d in df.groupby("group"):
    kmf = KaplanMeierFitter().fit(d["time"], d["event"])
    print(g, len(d), int(d["event"].sum()), kmf.median_survival_time_)
""",
    "logrank": """
import pandas as pd
from lifelines.statistics import multivariate_logrank_test
df = pd.read_csv(PATH, usecols=["time", "event", "group"])
res = multivariate_logrank_test(df["time"], df["group"], df["event"])
print(res.test_statistic, res.p_value)
""",
    "cox": """
import pandas as pd
from lifelines import CoxPHFitter
df = pd.read_csv(PATH, usecols=["time", "event", "x1", "x2", "x3", "x4", "x5"])
cph = CoxPHFitter().fit(df, "time", "event")
print(cph.summary[["coef", "se(coef)", "p"]])
""",
}

CARTALYSIS = {
    "km": ["km", "{path}", "--time", "time", "--event", "event", "--group", "group"],
    "logrank": ["logrank", "{path}", "--time", "time", "--event", "event", "--group", "group"],
    "cox": ["cox", "{path}", "--time", "time", "--event", "event", "--covariates", ",".join(COVS)],
}


def make_csv(path: Path, n: int) -> None:
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(20261121)
    x = rng.normal(size=(n, 5))
    t = np.ceil(rng.exponential(365 * np.exp(-(x @ np.array([0.5, -0.3, 0.2, 0.0, 0.1])))))
    c = np.ceil(rng.uniform(0, 1500, n))
    df = pd.DataFrame({"time": np.minimum(t, c).astype(int), "event": (t <= c).astype(int),
                       "group": np.where(rng.random(n) < 0.5, "A", "B"), "stratum": rng.integers(1, 5, n)})
    for j, name in enumerate(COVS):
        df[name] = np.round(x[:, j], 4)
    df.to_csv(path, index=False)


def run(cmd: list[str]) -> tuple[float, float]:
    """(wall s, CPU s of the child) of one whole process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def cartalysis(*args: str) -> list[str]:
    return [sys.executable, "-m", "cartalysis.cli", *args]


def survival(rows: int, repeat: int, work: Path) -> None:
    path = work / "survival.csv"
    make_csv(path, rows)
    print(f"{rows:,} rows, {path.stat().st_size / 1e6:.0f} MB; {repeat} alternating pairs per job; load average "
          f"{os.getloadavg()[0]:.1f} at start")
    print(f"{'job':8} {'cartalysis s':>13} {'lifelines s':>12} {'ratio':>6}   {'CPU cartalysis':>15} "
          f"{'CPU lifelines':>14} {'CPU ratio':>9}")
    for job in ("km", "logrank", "cox"):
        ours, theirs = [], []
        script = f"PATH = {str(path)!r}\n" + LIFELINES[job]
        for _ in range(repeat):
            ours.append(run(cartalysis(*(a.format(path=path) for a in CARTALYSIS[job]))))
            theirs.append(run([sys.executable, "-c", script]))
        ratio = statistics.median(a[0] / b[0] for a, b in zip(ours, theirs))
        cpu = [statistics.median(x[1] for x in v) for v in (ours, theirs)]
        print(f"{job:8} {statistics.median(x[0] for x in ours):13.2f} {statistics.median(x[0] for x in theirs):12.2f} "
              f"{ratio:6.2f}   {cpu[0]:15.2f} {cpu[1]:14.2f} {cpu[0] / cpu[1]:9.2f}")
    print(f"load average {os.getloadavg()[0]:.1f} at end")


def import_seconds(cmd: list[str]) -> float:
    """Seconds spent importing (``-X importtime``: the cumulative time of each top-level import)."""
    proc = subprocess.run([cmd[0], "-X", "importtime", *cmd[1:]], capture_output=True, text=True, env=ENV)
    total = 0
    for line in proc.stderr.splitlines():
        m = re.match(r"import time:\s+\d+ \|\s+(\d+) \| (\S.*)$", line)
        if m and not m.group(2).startswith(" "):
            total += int(m.group(1))
    return total / 1e6


def startup(repeat: int, work: Path) -> None:
    for label, args, target in (("cartalysis --help", ["--help"], 0.15),
                                ("cartalysis demo", ["demo", "--out", str(work / "demo")], 2.5)):
        runs = [run(cartalysis(*args)) for _ in range(repeat)]
        imports = statistics.median(import_seconds(cartalysis(*args)) for _ in range(min(repeat, 3)))
        wall, cpu = statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs)
        print(f"{label:18} median {wall:5.2f} s wall, {cpu:5.2f} s CPU (target {target} s); imports {imports:.2f} s "
              f"({imports / wall:.0%} of the wall time)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--only", choices=("survival", "startup"))
    args = ap.parse_args()
    compileall.compile_dir(SRC, quiet=1)
    with tempfile.TemporaryDirectory(prefix="cartalysis-cli-bench-") as tmp:
        if args.only in (None, "startup"):
            startup(args.repeat, Path(tmp))
        if args.only in (None, "survival"):
            survival(args.rows, args.repeat, Path(tmp))


if __name__ == "__main__":
    main()
