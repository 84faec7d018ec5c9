"""Benchmark: cartalysis.stats against lifelines on synthetic survival data with tied times.

    /work/venv/bin/python benchmarks/survival.py [--sizes 10000,100000,1000000] [--repeat 3]
    /work/venv/bin/python benchmarks/survival.py --only counting [--counting-n 1000000]
    /work/venv/bin/python benchmarks/survival.py --only finegray [--finegray-sizes 1000,5000,100000] [--crr-timeout 900]

Tasks (same data for both libraries): Kaplan–Meier with CI and median; two-group log-rank; stratified
log-rank (lifelines has none: n/a); 5-covariate Cox with Efron ties (fit only — lifelines computes its
concordance lazily — and, separately, cartalysis' fit plus Harrell's C). Times are the best of --repeat runs,
one thread (BLAS threads pinned to 1). Prints seconds and the ratio lifelines / cartalysis. Not a test.

``counting``: the right-censored Cox fit of n subjects against the same data given as (0, time] rows to the
counting-process engine, and against the subjects split at a random time into 2 rows (n rows in all, a
time-dependent covariate that switches at the split). ``finegray``: cartalysis' Fine–Gray against
``cmprsk::crr`` run by Rscript on the same CSV (if Rscript and cmprsk are installed; crr is O(n²) and more, so it
gets a timeout).
"""

from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import argparse  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
import warnings  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from cartalysis.stats import cox, fine_gray, kaplan_meier, logrank  # noqa: E402

COVS = ["x1", "x2", "x3", "x4", "x5"]


def synthetic(n: int, seed: int = 1) -> pd.DataFrame:
    """Exponential event times (rounded up to whole days: many ties), uniform censoring, 5 covariates."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 5))
    group = rng.integers(0, 2, n)
    lp = x @ np.array([0.3, -0.2, 0.1, 0.0, 0.25]) + 0.4 * group
    t_event = np.ceil(rng.exponential(400 * np.exp(-lp)))
    t_cens = np.ceil(rng.uniform(30, 1500, n))
    df = pd.DataFrame(x, columns=COVS)
    df["time"] = np.minimum(t_event, t_cens)
    df["event"] = (t_event <= t_cens).astype(int)
    df["group"] = group
    df["stratum"] = rng.integers(0, 4, n)
    return df


def best(fn, repeat: int) -> float:
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return min(out)


def tasks(df: pd.DataFrame):
    from lifelines import CoxPHFitter, KaplanMeierFitter
    from lifelines.statistics import logrank_test

    t, e, g, s = df.time.to_numpy(), df.event.to_numpy(), df.group.to_numpy(), df.stratum.to_numpy()
    a, b = g == 0, g == 1
    cox_df = df[["time", "event", *COVS]]

    def ll_km():
        k = KaplanMeierFitter().fit(t, e)
        return k.median_survival_time_, k.confidence_interval_

    return [
        ("KM + CI + median", lambda: kaplan_meier(t, e).median, ll_km),
        ("log-rank, 2 groups", lambda: logrank(t, e, g), lambda: logrank_test(t[a], t[b], e[a], e[b])),
        ("log-rank, stratified (4)", lambda: logrank(t, e, g, s), None),
        ("Cox 5 cov. Efron (fit)", lambda: cox(cox_df, "time", "event", COVS, concordance=False),
         lambda: CoxPHFitter().fit(cox_df, "time", "event")),
        ("Cox fit + concordance", lambda: cox(cox_df, "time", "event", COVS), None),
    ]


def counting(n: int, repeat: int) -> None:
    """Counting-process Cox at n rows against the right-censored fit."""
    df = synthetic(n)
    rc = best(lambda: cox(df, "time", "event", COVS, concordance=False), repeat)
    same = df.assign(start=0.0)
    cp_same = best(lambda: cox(same, "time", "event", COVS, start="start"), repeat)
    half = synthetic(n // 2, seed=2)
    rng = np.random.default_rng(3)
    cut = np.floor(rng.uniform(0, 1, half.shape[0]) * half.time.to_numpy())
    split = half[cut > 0].assign(cut=cut[cut > 0])
    pre = split.assign(start=0.0, stop=split.cut, event=0, td=0)
    post = split.assign(start=split.cut, stop=split.time, td=1)
    whole = half[cut == 0].assign(start=0.0, stop=half.time[cut == 0], td=0)
    rows = pd.concat([pre, post, whole], ignore_index=True)
    cp_split = best(lambda: cox(rows, "stop", "event", [*COVS, "td"], start="start"), repeat)
    rc6 = best(lambda: cox(df, "time", "event", [*COVS, "group"], concordance=False), repeat)
    print(f"{'Cox right-censored, 5 cov.':44} {n:>9} {rc:>8.3f}")
    print(f"{'Cox counting process, (0, time] rows, 5 cov.':44} {n:>9} {cp_same:>8.3f}  ratio {cp_same / rc:.2f}")
    print(f"{'Cox right-censored, 6 cov.':44} {n:>9} {rc6:>8.3f}")
    print(f"{'Cox counting process, split rows, 5 cov. + td':44} {len(rows):>9} {cp_split:>8.3f}  ratio "
          f"{cp_split / rc6:.2f}")


def synthetic_cr(n: int, seed: int = 4) -> pd.DataFrame:
    """Two competing causes (exponential, day resolution), uniform censoring, 3 covariates."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3))
    t1 = np.ceil(rng.exponential(500 * np.exp(-(x @ [0.4, -0.3, 0.0]))))
    t2 = np.ceil(rng.exponential(800 * np.exp(-(x @ [0.0, 0.2, 0.3]))))
    tc = np.ceil(rng.uniform(30, 1500, n))
    t = np.minimum(np.minimum(t1, t2), tc)
    status = np.where(t == tc, 0, np.where(t1 <= t2, 1, 2))
    df = pd.DataFrame(x, columns=["x1", "x2", "x3"])
    df["time"], df["status"] = t, status
    return df


CRR = """suppressMessages(library(cmprsk)); d <- read.csv(commandArgs(TRUE)[1])
t0 <- proc.time()[["elapsed"]]; f <- crr(d$time, d$status, as.matrix(d[, c("x1", "x2", "x3")]), failcode = 1)
cat(proc.time()[["elapsed"]] - t0, f$coef, sqrt(diag(f$var)), "\n")"""


def finegray_vs_crr(sizes: list[int], timeout: float) -> None:
    rscript = shutil.which("Rscript")
    print(f"{'Fine-Gray, 3 covariates':26} {'n':>9} {'cartalysis s':>13} {'crr s':>12} {'ratio':>7}  max |coef diff|")
    for n in sizes:
        df = synthetic_cr(n)
        fit = None

        def ours():
            nonlocal fit
            fit = fine_gray(df, "time", "status", 1, ["x1", "x2", "x3"])

        t_ours = best(ours, 1 if n >= 10**5 else 3)
        r_s, diff = "n/a", ""
        if rscript:
            with tempfile.TemporaryDirectory() as tmp:
                f = Path(tmp) / "d.csv"
                df.to_csv(f, index=False)
                (Path(tmp) / "crr.R").write_text(CRR)
                try:
                    out = subprocess.run([rscript, str(Path(tmp) / "crr.R"), str(f)], capture_output=True, text=True,
                                         timeout=timeout, check=True).stdout.split()
                    r_s = f"{float(out[0]):.3f}"
                    diff = f"{np.max(np.abs(np.array(out[1:4], float) - fit.terms.coef.to_numpy())):.1e}"
                except subprocess.TimeoutExpired:
                    r_s = f"> {timeout:g}"
        ratio = f"{float(r_s) / t_ours:7.0f}" if r_s.replace(".", "").isdigit() else ""
        print(f"{'':26} {n:>9} {t_ours:>13.3f} {r_s:>12} {ratio:>7}  {diff}", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="10000,100000,1000000")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--no-lifelines", action="store_true", help="time cartalysis only")
    ap.add_argument("--only", choices=["basic", "counting", "finegray"], help="run one part only")
    ap.add_argument("--counting-n", type=int, default=10**6)
    ap.add_argument("--finegray-sizes", default="1000,5000,100000")
    ap.add_argument("--crr-timeout", type=float, default=900)
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    if args.only in (None, "counting"):
        counting(args.counting_n, args.repeat)
    if args.only in (None, "finegray"):
        finegray_vs_crr([int(x) for x in args.finegray_sizes.split(",")], args.crr_timeout)
    if args.only not in (None, "basic"):
        return
    print(f"{'task':26} {'n':>9} {'cartalysis s':>13} {'lifelines s':>12} {'ratio':>7}")
    for n in (int(x) for x in args.sizes.split(",")):
        df = synthetic(n)
        for name, ours, theirs in tasks(df):
            t_ours = best(ours, args.repeat)
            if theirs is None or args.no_lifelines:
                print(f"{name:26} {n:>9} {t_ours:>13.3f} {'n/a':>12} {'':>7}", flush=True)
                continue
            t_theirs = best(theirs, 1 if n >= 10**6 else args.repeat)
            print(f"{name:26} {n:>9} {t_ours:>13.3f} {t_theirs:>12.3f} {t_theirs / t_ours:>7.1f}", flush=True)


if __name__ == "__main__":
    main()
