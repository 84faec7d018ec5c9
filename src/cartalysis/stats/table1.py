"""Table-1 group comparisons: chi-square, Fisher's exact, Wilcoxon rank-sum, Kruskal–Wallis.

Computed by scipy (``chi2_contingency``, 2×2 ``fisher_exact``, ``mannwhitneyu``, ``kruskal``) with the options
that make them equal R's ``chisq.test``, ``fisher.test``, ``wilcox.test`` and ``kruskal.test``. Fisher's test for
r×c tables is written here: scipy's r×c ``fisher_exact`` is a Monte Carlo estimate (0.0729 against R's exact
0.0699 on veteran celltype × trt). The choice rule:

    Categorical: Fisher's exact test if any expected count is below 5, else Pearson's chi-square without
    continuity correction; continuous: Wilcoxon rank-sum for two groups, Kruskal–Wallis for more.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from cartalysis.stats._common import StatsInputError, numeric

RULE = ("categorical: Fisher's exact test if any expected count < 5, else Pearson chi-square without continuity "
        "correction; continuous: Wilcoxon rank-sum (2 groups) or Kruskal–Wallis (> 2 groups)")

# The categorical test a plan can ask for (plan ``tables.categorical_test``): "auto" is the rule above; the others
# force one test whatever the expected counts (a paper's methods section often names one: "chi-square test").
CATEGORICAL_TESTS = ("auto", "chisq", "yates", "fisher")
MISSING_LEVEL = "Missing"


@dataclass(frozen=True)
class GroupTest:
    """A test of no difference between groups. ``statistic``/``df`` are None when the test has none."""

    statistic: float | None
    df: int | None
    p_value: float
    method: str


def _table(table) -> np.ndarray:
    tab = np.asarray(table, dtype=float)
    if tab.ndim != 2 or min(tab.shape) < 2 or (tab < 0).any() or np.any(tab != np.round(tab)):
        raise StatsInputError("need an r×c table (r, c ≥ 2) of non-negative counts")
    if (tab.sum(0) == 0).any() or (tab.sum(1) == 0).any():
        raise StatsInputError("a row or column of the table is empty")
    return tab


def chisq_test(table, correct: bool = False) -> GroupTest:
    """Pearson's chi-square test of independence, Σ (O − E)²/E, df = (r − 1)(c − 1).

    ``correct=True`` applies Yates' continuity correction (|O − E| − ½, only for 2×2 tables, as R
    ``chisq.test``; SAS prints both as "Chi-Square" and "Continuity Adj. Chi-Square").
    """
    from scipy import stats as _st  # imported here: the survival commands need no scipy.stats

    tab = _table(table)
    res = _st.chi2_contingency(tab, correction=correct)
    yates = correct and tab.shape == (2, 2)
    return GroupTest(float(res.statistic), int(res.dof), float(res.pvalue),
                     "Pearson chi-square test" + (" with Yates continuity correction" if yates else ""))


def fisher_test(table) -> GroupTest:
    """Fisher's exact test (two-sided): the sum of the probabilities of all tables with the observed margins
    that are no more probable than the observed one (hypergeometric; Freeman–Halton for r×c; R ``fisher.test``)."""
    from scipy import stats as _st

    tab = _table(table).astype(np.int64)
    if tab.shape == (2, 2):
        return GroupTest(None, None, float(_st.fisher_exact(tab).pvalue), "Fisher's exact test")
    return GroupTest(None, None, _fisher_rxc(tab), "Fisher's exact test (Freeman–Halton, full enumeration)")


_MAX_TABLES = 5_000_000


def _compositions(total: int, bounds: np.ndarray) -> np.ndarray:
    """All vectors x with 0 ≤ x ≤ bounds and Σ x = total (one per row)."""
    if bounds.size == 1:
        return np.array([[total]]) if total <= bounds[0] else np.empty((0, 1), dtype=np.int64)
    rest = int(bounds[1:].sum())
    parts = [np.column_stack([np.full(len(sub), x0), sub])
             for x0 in range(max(0, total - rest), min(int(bounds[0]), total) + 1)
             for sub in [_compositions(total - x0, bounds[1:])] if len(sub)]
    return np.vstack(parts) if parts else np.empty((0, bounds.size), dtype=np.int64)


def _fisher_rxc(tab: np.ndarray) -> float:
    """Exact r×c Fisher p: Σ P(table) over tables with the observed margins and P ≤ P(observed)·(1 + 1e-7).

    P(table) = Π r_i! Π c_j! / (n! Π x_ij!). Tables are enumerated column by column (the largest column last,
    as it is determined by the others); an error asks for the chi-square test when there are too many.
    """
    from scipy.special import gammaln

    tab = tab[:, np.argsort(tab.sum(0), kind="stable")]
    rows, cols = tab.sum(1), tab.sum(0)
    n = int(tab.sum())
    const = gammaln(rows + 1).sum() + gammaln(cols + 1).sum() - gammaln(n + 1)
    count = [0]

    def completions(j: int, rem: np.ndarray) -> np.ndarray:
        # Σ_{columns ≥ j} −Σ log x! over every way to fill the remaining columns
        if j == cols.size - 1:
            return np.array([-gammaln(rem + 1).sum()])
        xs = _compositions(int(cols[j]), rem)
        if j == cols.size - 2:
            count[0] += len(xs)
            if count[0] > _MAX_TABLES:
                raise StatsInputError("Fisher's exact test: too many tables to enumerate; use the chi-square test")
            return -gammaln(xs + 1).sum(1) - gammaln(rem - xs + 1).sum(1)
        return np.concatenate([completions(j + 1, rem - x) - gammaln(x + 1).sum() for x in xs])

    logp = const + completions(0, rows)
    obs = const - gammaln(tab + 1).sum()
    p = np.exp(logp[logp <= obs + np.log1p(1e-7)]).sum()
    return float(min(p, 1.0))


def wilcoxon_test(x, y) -> GroupTest:
    """Wilcoxon rank-sum (Mann–Whitney) test, two-sided; statistic W = U of the first sample.

    As R ``wilcox.test``: exact null distribution when both samples have fewer than 50 values and there are no
    ties, otherwise the normal approximation with tie correction and continuity correction.
    """
    from scipy import stats as _st

    x, y = _clean(x), _clean(y)
    if x.size == 0 or y.size == 0:
        raise StatsInputError("each group needs at least one non-missing value")
    ties = np.unique(np.r_[x, y]).size < x.size + y.size
    exact = x.size < 50 and y.size < 50 and not ties
    res = _st.mannwhitneyu(x, y, alternative="two-sided", method="exact" if exact else "asymptotic",
                           use_continuity=True)
    return GroupTest(float(res.statistic), None, float(res.pvalue),
                     "Wilcoxon rank-sum test (" + ("exact" if exact else "normal approximation, continuity "
                                                   "correction") + ")")


def kruskal_test(*samples) -> GroupTest:
    """Kruskal–Wallis rank-sum test with tie correction, χ² with k − 1 df (R ``kruskal.test``)."""
    from scipy import stats as _st

    groups = [_clean(s) for s in samples]
    groups = [g for g in groups if g.size]
    if len(groups) < 2:
        raise StatsInputError("need at least two non-empty groups")
    res = _st.kruskal(*groups)
    return GroupTest(float(res.statistic), len(groups) - 1, float(res.pvalue), "Kruskal–Wallis rank-sum test")


def compare_categorical(values, group, test: str = "auto", missing_level: bool = False) -> GroupTest:
    """Compare a categorical variable between groups (rows with a missing group are always excluded).

    ``test``: ``"auto"`` (the Table-1 rule: Fisher if any expected count < 5, else Pearson chi-square),
    ``"chisq"`` (Pearson, no correction), ``"yates"`` (Pearson with Yates' correction; 2×2 only, as R) or
    ``"fisher"``. ``missing_level``: a missing value is its own level ``"Missing"`` (R ``addNA()``, gtsummary's
    and tableone's "include missing") instead of being dropped — the two can give different P values (a
    paper that tested with the unknowns as a category reports the former).
    """
    from scipy import stats as _st

    if test not in CATEGORICAL_TESTS:
        raise StatsInputError(f"unknown categorical test {test!r}; choose from {', '.join(CATEGORICAL_TESTS)}")
    v = pd.Series(values).reset_index(drop=True).astype(object)
    frame = pd.DataFrame({"v": v.where(v.notna(), MISSING_LEVEL if missing_level else None),
                          "g": pd.Series(group).reset_index(drop=True)}).dropna()
    tab = _table(pd.crosstab(frame.v, frame.g).to_numpy())
    if test == "auto":
        test = "fisher" if (_st.contingency.expected_freq(tab) < 5).any() else "chisq"
    if test == "fisher":
        return fisher_test(tab)
    return chisq_test(tab, correct=test == "yates")


def compare_continuous(values, group) -> GroupTest:
    """Compare a continuous variable between groups by the Table-1 rule (missing values excluded)."""
    frame = pd.DataFrame({"v": numeric(pd.Series(values).reset_index(drop=True)),
                          "g": pd.Series(group).reset_index(drop=True)}).dropna()
    samples = [s.v.to_numpy() for _, s in frame.groupby("g", sort=True)]
    if len(samples) < 2:
        raise StatsInputError("need at least two groups")
    return wilcoxon_test(*samples) if len(samples) == 2 else kruskal_test(*samples)


def _clean(x) -> np.ndarray:
    a = numeric(x)
    return a[~np.isnan(a)]
