"""Benchmark: cartalysis.stats against lifelines on synthetic survival data with tied times.

    /work/venv/bin/python benchmarks/survival.py [--sizes 10000,100000,1000000] [--repeat 3]

Tasks (same data for both libraries): Kaplan–Meier with CI and median; two-group log-rank; stratified
log-rank (lifelines has none: n/a); 5-covariate Cox with Efron ties (fit only — lifelines computes its
concordance lazily — and, separately, cartalysis' fit plus Harrell's C). Times are the best of --repeat runs,
one thread (BLAS threads pinned to 1). Prints seconds and the ratio lifelines / cartalysis. Not a test.
"""

from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import argparse  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from cartalysis.stats import cox, kaplan_meier, logrank  # noqa: E402

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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="10000,100000,1000000")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--no-lifelines", action="store_true", help="time cartalysis only")
    args = ap.parse_args()
    warnings.simplefilter("ignore")
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
