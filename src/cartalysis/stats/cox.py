"""Cox proportional-hazards regression (Efron or Breslow ties, strata) and a screening model-building helper.

Written in numpy (vectorised Newton–Raphson) rather than taken from a library because lifelines has Efron
ties only, statsmodels ``PHReg`` has no score test or concordance and is slow at 10^6 rows, and scikit-survival
gives no standard errors (docs/statistics.md). The partial likelihood, tests and concordance are R
``coxph``'s (survival 3.5), the reference of the tests.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from cartalysis.stats._common import StatsInputError, as_codes, as_event, as_labels, as_time, chi2_sf, norm_sf, numeric, sorted_levels, z_value
from cartalysis.stats.coxcp import ZPH_TRANSFORMS, CountingRisk, ZphTest, robust_variance
from cartalysis.stats.coxcp import zph as _zph

TIES = ("efron", "breslow")


@dataclass(frozen=True)
class ModelTest:
    """A global χ² test of β = 0."""

    stat: float
    df: int
    p_value: float
    method: str


@dataclass(frozen=True, eq=False)
class CoxResult:
    """Fitted Cox model.

    ``terms`` has one row per model column: ``term`` (a categorical level is ``column=level``), ``coef`` (β),
    ``se`` (sqrt of the diagonal of the inverse information), ``hr`` (exp β), ``hr_lower``/``hr_upper``
    (exp(β ± z·se), Wald), ``z`` (β/se) and ``p`` (two-sided Wald). ``loglik`` is (log partial likelihood at
    β = 0, at β̂). ``n_dropped`` counts rows removed for missing values in the used columns. With a ``cluster``,
    ``terms`` gains ``robust_se`` (sandwich) and the CI, z, p and the Wald test use it, as R does. ``zph`` is the
    proportional-hazards test when asked for. ``terms.problem`` says why a term is not estimable (None when it
    is): too few events in its level or its reference level, or an infinite coefficient (monotone likelihood,
    e.g. a covariate that separates events from non-events); such a term has no HR, CI or P (NaN), because R's
    numbers for it (HR 0 or 10^9, P ≈ 1) mean nothing. ``level_events`` maps each categorical covariate to the
    number of events per level (the reference included).
    """

    n: int
    events: int
    n_dropped: int
    ties: str
    strata: tuple[str, ...]
    terms: pd.DataFrame
    lr_test: ModelTest
    wald_test: ModelTest
    score_test: ModelTest
    concordance: float | None
    loglik: tuple[float, float]
    converged: bool
    method: str
    zph: ZphTest | None = None
    level_events: dict[str, dict[str, int]] | None = None


@dataclass(frozen=True, eq=False)
class ModelBuilding:
    """Univariable screen then multivariable model.

    ``screen`` has one row per candidate: ``covariate``, ``p`` (the screening test of its univariable model),
    ``n`` (rows used) and ``selected`` (p < threshold or forced). ``univariable`` maps each candidate to its fit.
    """

    screen: pd.DataFrame
    selected: tuple[str, ...]
    forced: tuple[str, ...]
    threshold: float
    univariable: dict[str, CoxResult]
    multivariable: CoxResult
    method: str


# ---------------------------------------------------------------------------------------------------------------
# partial likelihood on sorted arrays


class _Risk:
    """Rows sorted by stratum then descending time, with the tied-time group structure the likelihood needs."""

    def __init__(self, t: np.ndarray, e: np.ndarray, s: np.ndarray):
        order = np.lexsort((-t, s))
        self.order = order
        t, e, s = t[order], e[order], s[order]
        new = np.r_[True, (s[1:] != s[:-1]) | (t[1:] != t[:-1])]
        self.gstart = np.flatnonzero(new)  # first row of each tied-time group
        self.gid = np.cumsum(new) - 1
        gs = s[self.gstart]
        snew = np.r_[True, gs[1:] != gs[:-1]]
        # for each group: the first group of its stratum and the first group of the next stratum
        sgroup_first = np.flatnonzero(snew)
        sid = np.cumsum(snew) - 1
        self.g_sfirst_group = sgroup_first[sid]
        self.g_snext_group = np.r_[sgroup_first[1:], gs.size][sid]
        self.e = e.astype(float)
        self.d = np.add.reduceat(self.e, self.gstart)
        ev = np.flatnonzero(self.d > 0)
        de = self.d[ev].astype(np.int64)
        self.ev_groups = ev
        # Efron expansion: one row per event, l = 0..d−1 within its tied group
        self.x_k = np.repeat(np.arange(ev.size), de)
        self.x_l = np.arange(de.sum()) - np.repeat(np.cumsum(de) - de, de)
        self.x_d = np.repeat(de, de).astype(float)


def _cum_groups(a: np.ndarray, risk: _Risk) -> np.ndarray:
    """Risk-set sums: cumulate per-group sums over the groups of each stratum (descending time)."""
    c0 = np.concatenate([np.zeros((1,) + a.shape[1:]), np.cumsum(a, axis=0)])
    g = np.arange(risk.d.size)
    return c0[g + 1] - c0[risk.g_sfirst_group]


def _loglik(beta: np.ndarray, X: np.ndarray, risk: _Risk, efron: bool):
    """Log partial likelihood, score U(β) and information I(β) (Efron 1977 / Breslow 1974).

    At a time with d tied events, l = 0..d−1, Efron's denominator is den_l = S0 − (l/d)·D0, where S0 = Σ_risk
    exp(η) and D0 the same sum over the d tied events (Breslow: den_l = S0). With a_l = (S1 − (l/d)·D1)/den_l,
    ℓ = Σ_events η − Σ_l log den_l, U = Σ_events x − Σ_l a_l, I = Σ_l [(S2 − (l/d)·D2)/den_l − a_l a_lᵀ].
    Everything is reduced to per-time scalars (Σ_l 1/den_l, Σ_l l/d/den_l, ...) so the cost is O(n·p²)
    whatever the ties: the S2 sums become one weighted crossproduct XᵀWX. (start, stop] rows and case weights:
    ``coxcp.CountingRisk.loglik``.
    """
    if hasattr(risk, "loglik"):  # counting-process rows / weights (coxcp), Fine–Gray risk sets (finegray)
        return risk.loglik(beta, X, efron)
    eta = X @ beta
    c = eta.max()
    r = np.exp(eta - c)
    e = risk.e
    ev = risk.ev_groups
    rX = r[:, None] * X
    # per tied-time group sums, then risk-set sums by cumulating the groups within each stratum
    G0 = np.add.reduceat(r, risk.gstart)
    G1 = np.add.reduceat(rX, risk.gstart, axis=0)
    S0 = _cum_groups(G0, risk)[ev]
    S1 = _cum_groups(G1, risk)[ev]
    D0 = np.add.reduceat(e * r, risk.gstart)[ev]
    D1 = np.add.reduceat(e[:, None] * rX, risk.gstart, axis=0)[ev]
    k = risk.x_k  # event-row -> index among the event groups
    f = risk.x_l / risk.x_d if efron else np.zeros(k.size)
    den = S0[k] - f * D0[k]
    m = ev.size

    def per_group(w):
        return np.bincount(k, weights=w, minlength=m)

    inv = 1 / den
    w1, w2 = per_group(inv), per_group(f * inv)
    ll = float(e @ eta - np.sum(np.log(den) + c))
    score = e @ X - (S1 * w1[:, None] - D1 * w2[:, None]).sum(0)
    inv2 = inv * inv
    q0, q1, q2 = per_group(inv2), per_group(f * inv2), per_group(f * f * inv2)
    # Σ_l a_l a_lᵀ = S1S1ᵀ·Σ1/den² − (S1D1ᵀ + D1S1ᵀ)·Σf/den² + D1D1ᵀ·Σf²/den²
    cross = S1.T @ (D1 * q1[:, None])
    aa = S1.T @ (S1 * q0[:, None]) - cross - cross.T + D1.T @ (D1 * q2[:, None])
    # Σ_l S2_l/den_l = Σ_i r_i x_i x_iᵀ·(Σ of w1 over the event times whose risk set holds i) − events' D2 part
    W1 = np.zeros(risk.d.size)
    W1[ev] = w1
    W2 = np.zeros(risk.d.size)
    W2[ev] = w2
    rc = np.concatenate([np.cumsum(W1[::-1])[::-1], [0.0]])
    C = (rc[:-1] - rc[risk.g_snext_group])[risk.gid]
    wrow = r * (C - e * W2[risk.gid])
    info = (X * wrow[:, None]).T @ X - aa
    return ll, score, info


def _newton(X: np.ndarray, risk: _Risk, efron: bool, max_iter: int = 60):
    """Newton–Raphson from β = 0 with step halving (as R coxph), run until the relative change of the log
    likelihood is ≤ 1e-12 or the step < 1e-10 (R stops at 1e-9; the tests' R references at 1e-11).

    A step that lowers ℓ by more than rounding (1e-12 relative) is halved, up to 40 times."""
    beta = np.zeros(X.shape[1])
    with np.errstate(all="ignore"):
        ll0, u0, i0 = _loglik(beta, X, risk, efron)
        ll, u, info = ll0, u0, i0
        converged = False
        for _ in range(max_iter):
            try:
                step = np.linalg.solve(info, u)
            except np.linalg.LinAlgError as exc:
                raise StatsInputError("Cox model not estimable: singular information matrix "
                                      "(collinear covariates or a covariate constant among events)") from exc
            new = beta + step
            ll_new, u_new, info_new = _loglik(new, X, risk, efron)
            halvings = 0
            floor = ll - 1e-12 * abs(ll)
            while (not np.isfinite(ll_new) or ll_new < floor) and halvings < 40:
                halvings += 1
                new = (beta + new) / 2
                ll_new, u_new, info_new = _loglik(new, X, risk, efron)
            if not np.isfinite(ll_new) or ll_new < floor:
                break
            small_step = np.max(np.abs(new - beta) / (1 + np.abs(beta))) < 1e-10
            flat = abs(ll_new - ll) <= 1e-12 * abs(ll_new)
            beta, ll, u, info = new, ll_new, u_new, info_new
            if small_step or flat:
                converged = True
                break
    if not (np.all(np.isfinite(info)) and np.all(np.isfinite(beta))):
        raise StatsInputError("Cox model not estimable: the partial likelihood has no finite maximum")
    if converged:
        # R's check for a coefficient running off to infinity (monotone likelihood): the Newton step that
        # would still be taken is not negligible relative to the coefficient (coxph.fit, toler.inf)
        last = np.linalg.solve(info, u)
        converged = not np.any((np.abs(last) > 1e-9) & (np.abs(last) > np.sqrt(1e-9) * np.abs(beta)))
    return beta, ll, info, ll0, u0, i0, converged


# ---------------------------------------------------------------------------------------------------------------
# concordance


def _count_later_smaller(keys: np.ndarray) -> np.ndarray:
    """For each position i: #{j > i : keys[j] < keys[i]}, by a vectorised bottom-up merge sort, O(n log² n).

    Blocks of 16 are counted by brute force and sorted; then at each level adjacent sorted blocks are merged by
    one stable sort (the block number in the bits above 2^40 keeps blocks apart), and a left-block element has exactly its count of
    smaller right-block elements in front of it, because the stable sort puts equal right-block keys after it.
    """
    n = keys.size
    base = 16
    size = max(base, 1 << int(np.ceil(np.log2(max(n, 2)))))
    big = np.int64(int(keys.max(initial=0)) + 2)
    if big >= 1 << 40:
        raise ValueError("keys must be < 2^40")
    vals = np.full(size, big - 1, dtype=np.int64)  # padding sits at the end and is larger than every key
    vals[:n] = keys
    blocks = vals.reshape(-1, base)
    upper = np.triu(np.ones((base, base), bool), 1)  # j after i within the block
    out = ((blocks[:, None, :] < blocks[:, :, None]) & upper).sum(2).ravel()
    order = np.argsort(blocks, axis=1, kind="stable")
    perm = (order + (np.arange(blocks.shape[0]) * base)[:, None]).ravel()
    vals = np.take_along_axis(blocks, order, axis=1).ravel()
    cnt = out[perm]  # counts follow the elements as they move
    pos = np.arange(size, dtype=np.int64)
    level = int(np.log2(base))
    while (1 << level) < size:
        span, w = 1 << (level + 1), 1 << level
        idx = np.argsort(((pos >> (level + 1)) << 40) | vals, kind="stable")
        old = idx & (span - 1)  # where each merged element came from inside its block
        cnt = cnt[idx] + np.where(old < w, (pos & (span - 1)) - old, 0)
        vals, perm = vals[idx], perm[idx]
        level += 1
    out = np.empty(size, dtype=np.int64)
    out[perm] = cnt
    return out[:n]


def concordance_index(time, event, score, strata=None) -> float | None:
    """Harrell's C as R ``coxph`` reports it (``concordance(fit)``, timewt "n").

    Over pairs in the same stratum whose shorter time is an event (a subject censored at the time of an event
    counts as longer; two events at the same time are not a usable pair), C = (concordant + tied/2) /
    (concordant + discordant + tied), where concordant means the higher ``score`` (risk) has the shorter time
    and tied means equal scores. Harrell et al. (1982); Therneau, survival vignette "concordance".
    """
    _, tr = np.unique(np.asarray(time, float), return_inverse=True)
    e = np.asarray(event).astype(np.int64)
    _, xr = np.unique(np.asarray(score, float), return_inverse=True)
    tr, xr = tr.astype(np.int64).ravel(), xr.astype(np.int64).ravel()
    s = np.zeros(tr.size, np.int64) if strata is None else np.asarray(strata, np.int64)
    # order: stratum, time, events before censorings, score ascending -- so the rows after an event that share
    # its time and status (not comparable with it) never have a smaller score and are never counted; rows
    # equal in all four are interchangeable, so one unstable sort of a combined key will do
    order = np.argsort(((s * (tr.max() + 1) + tr) * 2 + (1 - e)) * (xr.max() + 1) + xr)
    t, e, xr, s = tr[order], e[order], xr[order], s[order]
    n = t.size
    key = s * np.int64(xr.max() + 2) + xr
    pos = np.arange(n, dtype=np.int64)

    def last_of_runs(*cols) -> np.ndarray:
        new = np.r_[True, np.any([c[1:] != c[:-1] for c in cols], axis=0)]
        return np.r_[np.flatnonzero(new)[1:] - 1, n - 1][np.cumsum(new) - 1]

    block_end = last_of_runs(s, t, e)
    strat_end = last_of_runs(s)
    ev = e == 1
    conc = _count_later_smaller(key)[ev].sum()
    # tied scores: rows with the same (stratum, score) after the event's block
    comp = np.sort(key * n + pos)
    kq = key[ev] * n
    tied = (np.searchsorted(comp, kq + n - 1, side="right") - np.searchsorted(comp, kq + block_end[ev], side="right")).sum()
    comparable = (strat_end - block_end)[ev].sum()
    return None if comparable == 0 else float((conc + tied / 2) / comparable)


# ---------------------------------------------------------------------------------------------------------------
# public API


def _design(frame: pd.DataFrame, covariates: Sequence[str], categorical: Mapping[str, object]):
    """Model matrix: numeric columns as they are, categorical ones as treatment contrasts against the reference."""
    cols, names = [], []
    for cov in covariates:
        if cov in categorical:
            lab = as_labels(frame[cov], len(frame), cov)
            levels = sorted_levels(lab)
            ref = categorical[cov]
            ref = levels[0] if ref is None else str(ref)
            if ref not in levels:
                raise StatsInputError(f"{cov}: reference level {ref!r} not among the levels {', '.join(levels)}")
            for lv in levels:
                if lv != ref:
                    cols.append((lab == lv).astype(float))
                    names.append(f"{cov}={lv}")
        else:
            x = numeric(frame[cov])
            if np.isnan(x).any():
                bad = frame[cov].iloc[int(np.flatnonzero(np.isnan(x))[0])]
                raise StatsInputError(f"{cov}: non-numeric value {bad!r}; declare the column categorical")
            cols.append(x)
            names.append(cov)
    return np.column_stack(cols) if cols else np.empty((len(frame), 0)), names


def cox(data: pd.DataFrame, time: str, event: str, covariates: Sequence[str],
        categorical: Mapping[str, object] | Sequence[str] | None = None, ties: str = "efron",
        strata: str | Sequence[str] | None = None, conf_level: float = 0.95, concordance: bool = True,
        start: str | None = None, weights: str | None = None, cluster: str | None = None,
        zph: str | None = None, min_events_per_level: int = 1) -> CoxResult:
    """Cox proportional-hazards model fitted by maximising the partial likelihood.

    Ties: ``efron`` (default; R coxph) or ``breslow`` (SAS PROC PHREG default). ``categorical`` lists columns
    to expand into indicators, or maps them to their reference level (None = first level in R's order).
    ``strata``: separate baseline hazards per level (combination of levels). Rows with a missing value in any
    used column are dropped and counted in ``n_dropped``.
    Counting process (R ``Surv(start, stop, event)``): with ``start`` each row is an interval (start, time] with
    the covariate values that hold in it — time-dependent covariates, and left truncation (start = entry);
    ``n`` counts rows. ``weights``: case weights (R ``weights=``). ``cluster``: rows sharing a value are one
    independent unit (e.g. a patient's rows); the robust sandwich variance of R ``coxph(cluster=)`` then gives
    ``robust_se``, the CI, z, p and the Wald test (LR and score tests stay model-based, as R); non-integer
    weights without a cluster make it robust with each row its own cluster, as R's default. ``zph``
    (``km``/``identity``/``rank``): R ``cox.zph`` proportional-hazards test per term and global.
    ``min_events_per_level``: a categorical level (or its reference) with fewer events makes the level's term
    not estimable (``terms.problem``); a term whose coefficient runs to infinity (R's ``toler.inf`` check on the
    last Newton step) is not estimable either.
    Tests of β = 0: likelihood ratio 2(ℓ(β̂) − ℓ(0)); Wald β̂ᵀ I(β̂) β̂; score U(0)ᵀ I(0)⁻¹ U(0); all χ² with
    df = number of coefficients. HR CI = exp(β̂ ± z·se). Concordance: ``concordance_index`` of the linear
    predictor (``concordance=False`` skips it — it costs about as much as the fit at 10^6 rows — and reports
    None); it is not computed (None) for (start, stop] rows or case weights. References: Cox (1972); Efron
    (1977); Andersen & Gill (1982); Lin & Wei (1989); Therneau & Grambsch (2000) ch. 3, 5, 7; R survival ``coxph``.
    """
    if ties not in TIES:
        raise StatsInputError(f"ties must be 'efron' or 'breslow'; got {ties!r}")
    if zph is not None and zph not in ZPH_TRANSFORMS:
        raise StatsInputError(f"zph transform must be one of {', '.join(ZPH_TRANSFORMS)}; got {zph!r}")
    covariates = list(covariates)
    if not covariates:
        raise StatsInputError("no covariates given")
    cat = {c: None for c in categorical} if isinstance(categorical, (list, tuple)) else dict(categorical or {})
    strata_cols = [] if strata is None else ([strata] if isinstance(strata, str) else list(strata))
    extra = [c for c in (start, weights, cluster) if c is not None]
    used = [time, event, *covariates, *strata_cols, *extra]
    missing = [c for c in dict.fromkeys(used + list(cat)) if c not in data.columns]
    if missing:
        raise StatsInputError(f"column(s) not found: {', '.join(missing)}")
    if len(set(covariates)) != len(covariates):
        raise StatsInputError("a covariate is listed twice")
    frame = data[list(dict.fromkeys(used))]
    keep = frame.notna().all(axis=1).to_numpy()
    frame = frame[keep].reset_index(drop=True)
    n_dropped = int((~keep).sum())
    if frame.empty:
        raise StatsInputError("no complete rows for the Cox model")
    t = as_time(frame[time], time)
    e = as_event(frame[event], t.size, event)
    t0 = None
    if start is not None:
        t0 = numeric(frame[start])
        if not np.isfinite(t0).all():
            raise StatsInputError(f"{start}: non-numeric value at position {int(np.flatnonzero(~np.isfinite(t0))[0])}")
        if (t0 >= t).any():
            raise StatsInputError(f"{start}: the interval start must be before {time}; not so at position "
                                  f"{int(np.flatnonzero(t0 >= t)[0])}")
    w = None
    if weights is not None:
        w = numeric(frame[weights])
        if not (np.isfinite(w) & (w > 0)).all():
            raise StatsInputError(f"{weights}: weights must be positive numbers; not so at position "
                                  f"{int(np.flatnonzero(~(np.isfinite(w) & (w > 0)))[0])}")
    X, names = _design(frame, covariates, cat)
    if strata_cols:
        codes = [as_codes(frame[c], t.size, c)[0] for c in strata_cols]
        s = np.unique(np.column_stack(codes), axis=0, return_inverse=True)[1].ravel().astype(np.int64)
    else:
        s = np.zeros(t.size, np.int64)
    if e.sum() == 0:
        raise StatsInputError("no events: the Cox model is not estimable")
    Xc = X - X.mean(axis=0)  # centring (as R) changes nothing but the conditioning
    counting = t0 is not None or w is not None or cluster is not None
    risk = CountingRisk(t0, t, e, s, w) if counting else _Risk(t, e, s)
    Xs = Xc[risk.order]
    beta, ll, info, ll0, u0, i0, converged = _newton(Xs, risk, ties == "efron")
    try:
        var = np.linalg.inv(info)
    except np.linalg.LinAlgError as exc:
        raise StatsInputError("Cox model not estimable: singular information matrix at the estimate") from exc
    se = np.sqrt(np.diag(var))
    z = z_value(conf_level)
    wald_var = var
    cols = {"term": names, "coef": beta, "se": se}
    # R: non-integer case weights make the variance robust by default, each row its own cluster
    robust = cluster is not None or (w is not None and bool((w != np.floor(w)).any()))
    if robust:
        cl = (as_codes(frame[cluster], t.size, cluster)[0] if cluster is not None else np.arange(t.size))[risk.order]
        wald_var = robust_variance(risk, beta, Xs, ties == "efron", var, cl)
        cols["robust_se"] = np.sqrt(np.diag(wald_var))
    use_se = cols.get("robust_se", se)
    zstat = beta / use_se
    with np.errstate(over="ignore"):  # an infinite coefficient gives an infinite HR, flagged below
        terms = pd.DataFrame({**cols, "hr": np.exp(beta),
                              "hr_lower": np.exp(beta - z * use_se), "hr_upper": np.exp(beta + z * use_se),
                              "z": zstat, "p": 2 * norm_sf(np.abs(zstat))})
    p = beta.size

    def test(stat: float, label: str) -> ModelTest:
        return ModelTest(float(stat), p, float(chi2_sf(stat, p)), label)

    lr = test(2 * (ll - ll0), "likelihood-ratio test")
    wald = test(beta @ np.linalg.solve(wald_var, beta), "robust Wald test" if robust else "Wald test")
    score = test(u0 @ np.linalg.solve(i0, u0), "score (log-rank) test")
    conc = concordance_index(t, e, Xc @ beta, s) if concordance and not counting else None
    converged = converged and bool(np.all(np.isfinite(se)))
    zph_test = None
    if zph is not None and converged:  # no PH test of a model without a finite maximum
        zrisk = risk if counting else CountingRisk(None, t, e, s, None)
        assign = {c: [j for j, nm in enumerate(names) if nm == c or nm.startswith(f"{c}=")] for c in covariates}
        zph_test = _zph(zrisk, beta, Xc[zrisk.order], ties == "efron", t0, t, e, assign, zph)
    label = (f"Cox proportional hazards{' (counting process, start-stop intervals)' if t0 is not None else ''}, "
             f"{ties.capitalize()} ties" + (f", stratified by {', '.join(strata_cols)}" if strata_cols else "")
             + (f", case weights {weights}" if weights else "")
             + (f"; robust (sandwich) SE clustered by {cluster}" if cluster else
                "; robust (sandwich) SE, non-integer weights" if robust else "") + f"; Wald {conf_level * 100:g}% CI")
    if not converged:  # flagged rather than silently reported
        label += "; NOT CONVERGED (a coefficient may be infinite)"
    infinite = np.zeros(p, bool)
    if not converged:
        _, u_hat, _ = _loglik(beta, Xs, risk, ties == "efron")
        with np.errstate(all="ignore"):
            try:
                last = np.linalg.solve(info, u_hat)
            except np.linalg.LinAlgError:
                last = np.full(p, np.inf)
        infinite = ~np.isfinite(se) | ((np.abs(last) > 1e-9) & (np.abs(last) > np.sqrt(1e-9) * np.abs(beta)))
    level_events = _level_events(frame, covariates, cat, e)
    terms["problem"] = _term_problems(names, cat, level_events, infinite, min_events_per_level)
    bad = terms["problem"].notna().to_numpy()
    terms.loc[bad, ["hr", "hr_lower", "hr_upper", "z", "p"]] = np.nan
    return CoxResult(int(t.size), int(e.sum()), n_dropped, ties, tuple(strata_cols), terms, lr, wald, score, conc,
                     (ll0, ll), converged, label, zph_test, level_events)


def _level_events(frame: pd.DataFrame, covariates: Sequence[str], cat: Mapping[str, object],
                  e: np.ndarray) -> dict[str, dict[str, int]]:
    """Events per level of each categorical covariate (complete cases, R level order)."""
    out = {}
    for cov in covariates:
        if cov in cat:
            lab = as_labels(frame[cov], len(frame), cov)
            out[cov] = {lv: int(e[lab == lv].sum()) for lv in sorted_levels(lab)}
    return out


def _term_problems(names: list[str], cat: Mapping[str, object], level_events: dict[str, dict[str, int]],
                   infinite: np.ndarray, min_events: int) -> list[str | None]:
    """Why each term is not estimable, in words (None = estimable)."""
    out: list[str | None] = []
    for j, name in enumerate(names):
        cov, _, level = name.partition("=")
        problem = None
        if cov in level_events and level:
            ev = level_events[cov]
            ref = cat[cov] if cat[cov] is not None else next(iter(ev))
            for lv, what in ((level, "level"), (str(ref), "reference level")):
                if ev.get(lv, 0) < min_events:
                    problem = (f"no events in {what} {lv} of {cov}" if ev.get(lv, 0) == 0 else
                               f"{ev[lv]} event{'s' if ev[lv] > 1 else ''} in {what} {lv} of {cov} (fewer than "
                               f"{min_events})")
                    break
        if problem is None and infinite[j]:
            problem = "infinite hazard ratio: the partial likelihood has no maximum (the events separate by this term)"
        out.append(problem)
    return out


def cox_model_building(data: pd.DataFrame, time: str, event: str, candidates: Sequence[str],
                       forced: Sequence[str] = (), threshold: float = 0.05,
                       categorical: Mapping[str, object] | Sequence[str] | None = None, ties: str = "efron",
                       strata: str | Sequence[str] | None = None, screen_test: str = "lr",
                       min_events_per_level: int = 1) -> ModelBuilding:
    """Univariable screen, then a multivariable model of the covariates with p < ``threshold`` plus ``forced``.

    Each candidate is fitted alone (complete cases for that covariate); its screening p is the global
    ``screen_test`` (``lr`` likelihood ratio, default; ``wald``; ``score``) of that model, so a categorical
    covariate with several levels is screened as one covariate. The multivariable model (complete cases on all
    selected covariates) keeps the candidates' order, forced covariates first. ``min_events_per_level``: as
    ``cox``.
    """
    if screen_test not in ("lr", "wald", "score"):
        raise StatsInputError(f"screen_test must be lr, wald or score; got {screen_test!r}")
    forced, candidates = list(forced), list(candidates)
    univariable, rows = {}, []
    for cov in dict.fromkeys(forced + candidates):
        fit = cox(data, time, event, [cov], categorical=_subset_cat(categorical, [cov]), ties=ties, strata=strata,
                  min_events_per_level=min_events_per_level)
        univariable[cov] = fit
        pv = {"lr": fit.lr_test, "wald": fit.wald_test, "score": fit.score_test}[screen_test].p_value
        rows.append({"covariate": cov, "p": pv, "n": fit.n, "forced": cov in forced,
                     "selected": cov in forced or pv < threshold})
    screen = pd.DataFrame(rows)
    selected = tuple(screen.loc[screen.selected, "covariate"])
    if not selected:
        raise StatsInputError(f"no covariate has p < {threshold:g} and none is forced")
    multi = cox(data, time, event, list(selected), categorical=_subset_cat(categorical, selected), ties=ties,
                strata=strata, min_events_per_level=min_events_per_level)
    return ModelBuilding(screen, selected, tuple(forced), threshold, univariable, multi,
                         f"univariable Cox screen ({screen_test} test, p < {threshold:g}) plus forced covariates, "
                         f"then multivariable Cox ({ties} ties)")


def _subset_cat(categorical, covs) -> dict:
    cat = {c: None for c in categorical} if isinstance(categorical, (list, tuple)) else dict(categorical or {})
    return {c: r for c, r in cat.items() if c in covs}
