"""Counting-process risk sets for the Cox partial likelihood: (start, stop] rows, case weights, strata, score
residuals with the cluster-robust (sandwich) variance, and the proportional-hazards test of R ``cox.zph``.

Row i is at risk at time t when start_i < t ≤ stop_i (same stratum); right-censored data are start = −∞ and left
truncation (delayed entry) is start = entry, so one machinery serves time-dependent covariates, delayed entry
and weights. Written in numpy because lifelines' ``CoxTimeVaryingFitter`` has no Breslow ties, strata of several
columns or cox.zph, and statsmodels' ``PHReg`` has no Efron robust variance as R computes it; every quantity
below is R survival's (``agreg.fit``, ``residuals.coxph``, ``cox.zph``), the reference of the tests.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from cartalysis.stats._common import chi2_sf


class CountingRisk:
    """Rows sorted by (stratum, stop) with the index arrays that turn risk-set sums into suffix sums.

    Times are replaced by their rank among all start and stop values and offset by stratum (key = stratum·K +
    rank). For an event group (distinct stratum and stop time among events) with key k in stratum s:
    Σ_risk a = Σ_{k ≤ key_stop < (s+1)K} a − Σ_{k ≤ key_start < (s+1)K} a. Only rows that start at or after the
    first event of their stratum ("late" rows: delayed entry, later intervals of a split subject) enter the
    second sum, so right-censored rows and (0, t] rows cost one pass.
    """

    def __init__(self, start: np.ndarray | None, stop: np.ndarray, event: np.ndarray, strata: np.ndarray,
                 weights: np.ndarray | None):
        n = stop.size
        allt = np.unique(stop if start is None else np.concatenate([start, stop]))
        big = np.int64(allt.size + 2)
        kstop = strata * big + np.searchsorted(allt, stop) + 1
        # right-censored rows start at −∞ of their stratum (rank 0)
        kstart = strata * big + (0 if start is None else np.searchsorted(allt, start) + 1)
        order = np.argsort(kstop, kind="stable")
        self.order = order
        kstop, kstart = kstop[order], kstart[order]
        self.e = event[order].astype(float)
        self.w = np.ones(n) if weights is None else weights[order].astype(float)
        ev = np.flatnonzero(self.e > 0)
        self.ev_rows = ev
        gkeys, ev_group = np.unique(kstop[ev], return_inverse=True)
        self.ev_group = ev_group.ravel()  # event row -> event group
        self.g_key = gkeys
        m = gkeys.size
        g_end = (gkeys // big + 1) * big  # first key of the next stratum
        self.d = np.bincount(self.ev_group, minlength=m).astype(float)  # events per group (count, not weight)
        self.wsum = np.bincount(self.ev_group, weights=self.w[ev], minlength=m)
        self.mw = self.wsum / self.d  # R's meanwt: Efron's l-terms carry the mean weight of the tied events
        # rows are reduced to their distinct stop keys first (one pass), then cumulated over those (few with ties)
        self.ustop_first = np.flatnonzero(np.r_[True, kstop[1:] != kstop[:-1]])
        ustop = kstop[self.ustop_first]
        self.stop_pos = np.searchsorted(ustop, gkeys, side="left")
        self.stop_end = np.searchsorted(ustop, g_end, side="left")
        # event groups in (key_start_i, key_stop_i] for each row: cumulative per-group sums at these positions
        self.row_hi = np.searchsorted(gkeys, kstop, side="right")
        self.row_lo = np.searchsorted(gkeys, kstart, side="right")
        first_in_stratum = np.searchsorted(gkeys, (kstart // big) * big, side="left")
        fk = gkeys[np.minimum(first_in_stratum, m - 1)]
        late = (first_in_stratum < m) & (fk // big == kstart // big) & (kstart >= fk)
        self.late = np.flatnonzero(late) if late.any() else None
        if self.late is not None:
            ustart, code = np.unique(kstart[self.late], return_inverse=True)
            self.start_code, self.n_ustart = code.ravel(), ustart.size
            self.start_pos = np.searchsorted(ustart, gkeys, side="left")
            self.start_end = np.searchsorted(ustart, g_end, side="left")
        self.ev_first = np.flatnonzero(np.r_[True, self.ev_group[1:] != self.ev_group[:-1]])
        de = self.d.astype(np.int64)
        # Efron expansion: one entry per event, l = 0..d−1 within its tied group
        self.x_k = np.repeat(np.arange(m), de)
        self.x_l = (np.arange(de.sum()) - np.repeat(np.cumsum(de) - de, de)).astype(float)
        self.x_d = np.repeat(self.d, de)

    def risk_sums(self, a: np.ndarray) -> np.ndarray:
        """Σ over the risk set of each event group of the rows' values ``a`` (n or n × p, in sorted order)."""
        suf = _suffix(np.add.reduceat(a, self.ustop_first, axis=0))
        out = suf[self.stop_pos] - suf[self.stop_end]
        if self.late is not None:
            al = a[self.late]
            cols = [al] if al.ndim == 1 else list(al.T)
            per_start = np.stack([np.bincount(self.start_code, weights=c, minlength=self.n_ustart) for c in cols],
                                 axis=-1).reshape((self.n_ustart,) + a.shape[1:])
            suf = _suffix(per_start)
            out = out - (suf[self.start_pos] - suf[self.start_end])
        return out

    def over_risk_times(self, per_group: np.ndarray) -> np.ndarray:
        """For each row: the sum of ``per_group`` over the event groups at which the row is at risk."""
        c = np.concatenate([np.zeros((1,) + per_group.shape[1:]), np.cumsum(per_group, axis=0)])
        return c[self.row_hi] - c[self.row_lo]

    def pieces(self, beta: np.ndarray, X: np.ndarray, efron: bool):
        """Per-event-group building blocks at β (X in sorted order), shared by the likelihood and residuals."""
        eta = X @ beta
        c = eta.max()
        r = np.exp(eta - c)
        a = self.w * r
        aX = a[:, None] * X
        S0 = self.risk_sums(a)
        S1 = self.risk_sums(aX)
        ev, g = self.ev_rows, self.ev_group
        m = self.g_key.size
        D0 = np.add.reduceat(a[ev], self.ev_first)  # event rows are sorted by group
        D1 = np.add.reduceat(aX[ev], self.ev_first, axis=0)
        k = self.x_k
        f = self.x_l / self.x_d if efron else np.zeros(k.size)
        den = S0[k] - f * D0[k]
        return eta, c, r, a, S0, S1, D0, D1, f, den

    def loglik(self, beta: np.ndarray, X: np.ndarray, efron: bool, gmult: np.ndarray | None = None):
        """Weighted log partial likelihood, score and information (R ``agreg.fit``; Efron 1977, Breslow 1974).

        At an event time with d tied events of total weight W (mean weight m̄ = W/d) and l = 0..d−1:
        den_l = S0 − (l/d)·D0 (Breslow: S0), S_k = Σ_risk w·r·x^⊗k, D_k the same over the tied events,
        a_l = (S1 − (l/d)·D1)/den_l; ℓ = Σ_events w·η − Σ_t m̄ Σ_l log den_l, U = Σ_events w·x − Σ_t m̄ Σ_l a_l,
        I = Σ_t m̄ Σ_l [(S2 − (l/d)·D2)/den_l − a_l a_lᵀ]. ``gmult`` multiplies each event time's terms of U and I
        by a factor (cox.zph's g(t), g(t)²); the S2 sums become one weighted crossproduct XᵀWX, so the cost is
        O(n·p²) whatever the ties.
        """
        eta, c, r, a, S0, S1, D0, D1, f, den = self.pieces(beta, X, efron)
        m = self.g_key.size
        k = self.x_k
        mw = self.mw if gmult is None else self.mw * gmult

        def per_group(v):
            return np.bincount(k, weights=v, minlength=m)

        inv = 1 / den
        w1, w2 = per_group(inv) * mw, per_group(f * inv) * mw
        ev, e_w = self.ev_rows, self.w[self.ev_rows]
        ll = float(e_w @ eta[ev] - np.sum(self.mw[k] * (np.log(den) + c)))
        ew_g = e_w if gmult is None else e_w * gmult[self.ev_group]
        score = ew_g @ X[ev] - (S1 * w1[:, None] - D1 * w2[:, None]).sum(0)
        inv2 = inv * inv
        q0, q1, q2 = per_group(inv2) * mw, per_group(f * inv2) * mw, per_group(f * f * inv2) * mw
        cross = S1.T @ (D1 * q1[:, None])
        aa = S1.T @ (S1 * q0[:, None]) - cross - cross.T + D1.T @ (D1 * q2[:, None])
        C = self.over_risk_times(w1)
        wrow = a * C
        wrow[ev] -= a[ev] * w2[self.ev_group]
        info = (X * wrow[:, None]).T @ X - aa
        return ll, score, info

    def score_residuals(self, beta: np.ndarray, X: np.ndarray, efron: bool) -> np.ndarray:
        """Unweighted score residuals per row (sorted order), R ``residuals(fit, "score")``.

        L_i = δ_i (x_i − ā(t_i)) − r_i Σ_{t: at risk} Σ_l h_l (x_i − a_l) + δ_i r_i Σ_l h_l (l/d)(x_i − a_l) at t_i,
        with h_l = m̄/den_l and ā the mean of the a_l over a tied group: Efron's partial removal of the tied events
        from the risk set (Therneau & Grambsch 2000 §4.6; R ``agscore2``).
        """
        eta, c, r, a, S0, S1, D0, D1, f, den = self.pieces(beta, X, efron)
        m = self.g_key.size
        k = self.x_k

        def per_group(v):
            return np.bincount(k, weights=v, minlength=m)

        inv = 1 / den
        inv2 = inv * inv
        s1, s2 = per_group(inv), per_group(f * inv)
        q0, q1, q2 = per_group(inv2), per_group(f * inv2), per_group(f * f * inv2)
        mw = self.mw[:, None]
        H = mw[:, 0] * s1
        A = mw * (S1 * q0[:, None] - D1 * q1[:, None])
        HT = mw[:, 0] * s2
        AT = mw * (S1 * q1[:, None] - D1 * q2[:, None])
        abar = (S1 * s1[:, None] - D1 * s2[:, None]) / self.d[:, None]
        res = -r[:, None] * (X * self.over_risk_times(H)[:, None] - self.over_risk_times(A))
        ev, g = self.ev_rows, self.ev_group
        res[ev] += X[ev] - abar[g] + r[ev, None] * (X[ev] * HT[g, None] - AT[g])
        return res


def _suffix(a: np.ndarray) -> np.ndarray:
    """Suffix sums with a trailing zero: out[i] = Σ_{j ≥ i} a[j]."""
    c = np.cumsum(a[::-1], axis=0)[::-1]
    return np.concatenate([c, np.zeros((1,) + a.shape[1:])])


def robust_variance(risk: CountingRisk, beta: np.ndarray, X: np.ndarray, efron: bool, var: np.ndarray,
                    cluster: np.ndarray) -> np.ndarray:
    """Cluster-robust (sandwich) variance DᵀD, D = Σ_{rows of a cluster} w_i·L_i·I⁻¹ (R ``coxph(cluster=)``:
    weighted dfbeta residuals summed by cluster; Lin & Wei 1989). ``cluster`` holds codes in sorted-row order."""
    dfb = (risk.score_residuals(beta, X, efron) * risk.w[:, None]) @ var
    nc = int(cluster.max()) + 1
    D = np.stack([np.bincount(cluster, weights=dfb[:, j], minlength=nc) for j in range(dfb.shape[1])], axis=1)
    return D.T @ D


ZPH_TRANSFORMS = ("km", "identity", "rank")


def _quad(m: np.ndarray, u: np.ndarray) -> float:
    """uᵀ m⁻¹ u, NaN (not estimable) when m is singular — e.g. a covariate constant at every event time."""
    try:
        return float(u @ np.linalg.solve(m, u))
    except np.linalg.LinAlgError:
        return float("nan")


@dataclass(frozen=True, eq=False)
class ZphTest:
    """Proportional-hazards test (R ``cox.zph``): ``terms`` has ``term``, ``chisq``, ``df``, ``p``; ``global_test``
    is (chisq, df, p) over all terms."""

    transform: str
    terms: pd.DataFrame
    global_chisq: float
    global_df: int
    global_p: float
    method: str


def zph(risk: CountingRisk, beta: np.ndarray, X: np.ndarray, efron: bool, start: np.ndarray | None,
        stop: np.ndarray, event: np.ndarray, terms: dict[str, list[int]], transform: str = "km") -> ZphTest:
    """Score test of β_j(t) = β_j + θ_j·g(t) at (β̂, θ = 0) per term and globally (survival ≥ 3.0 ``cox.zph``).

    g(t) = T(t) − mean of T over the event rows, T = 1 − KM(t−) (``km``, the KM of all rows, with delayed entry
    for (start, stop] data), t (``identity``) or the rank of t among all rows (``rank``). With Z(t) = X·g(t) added,
    U = (0, Σ_t g(t)·U_t) and the information has blocks I(1), I(g), I(g²) (each event time's contribution scaled);
    term j: χ² = Uᵀ I⁻¹ U over the coefficients plus the term's θ, df = its columns. Reference: Grambsch &
    Therneau (1994) Biometrika 81:515; Therneau & Grambsch (2000) §6.2; R survival 3.5 ``cox.zph``.
    """
    if transform not in ZPH_TRANSFORMS:
        raise ValueError(f"transform must be one of {', '.join(ZPH_TRANSFORMS)}")
    if transform == "identity":
        tt = stop
    elif transform == "rank":
        from scipy.stats import rankdata  # only cox.zph with rank time needs scipy.stats

        tt = rankdata(stop)
    else:
        from cartalysis.stats.survival import kaplan_meier

        km = kaplan_meier(stop, event, "plain", 0.95, entry=start).table
        idx = np.searchsorted(km["time"].to_numpy(float), stop, side="left")  # times strictly before t
        tt = 1 - np.r_[1.0, km["surv"].to_numpy(float)][idx]
    g_row = tt - tt[event == 1].mean()
    gmult = g_row[risk.order][risk.ev_rows]
    gmult = np.bincount(risk.ev_group, weights=gmult, minlength=risk.g_key.size) / risk.d  # one value per time
    p = beta.size
    _, u, i_g = risk.loglik(beta, X, efron, gmult)
    _, _, i_1 = risk.loglik(beta, X, efron)
    _, _, i_gg = risk.loglik(beta, X, efron, gmult * gmult)
    imat = np.block([[i_1, i_g], [i_g.T, i_gg]])
    rows = []
    for name, cols in terms.items():
        kk = list(range(p)) + [p + j for j in cols]
        uu = np.r_[np.zeros(p), u[cols]]
        stat = _quad(imat[np.ix_(kk, kk)], uu)
        rows.append({"term": name, "chisq": stat, "df": len(cols), "p": float(chi2_sf(stat, len(cols)))})
    gstat = _quad(imat, np.r_[np.zeros(p), u])
    return ZphTest(transform, pd.DataFrame(rows), gstat, p, float(chi2_sf(gstat, p)),
                   f"proportional-hazards score test (R cox.zph, {transform} time transform)")
