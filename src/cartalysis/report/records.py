"""Turning ``cartalysis.stats`` results into result records (the report computes nothing itself).

Each helper takes a stats result object, registers the record(s) and returns them. Proportions are
converted to percent (scale only); everything else is copied as the statistics layer returned it.
"""

from __future__ import annotations

import re

from cartalysis.report.results import Record, Registry


_SYMBOLS = (("<=", "le"), (">=", "ge"), ("≤", "le"), ("≥", "ge"), ("<", "lt"), (">", "gt"), ("+", "plus"),
            ("%", "pct"))


def slug(text: object) -> str:
    """An id component: lower case, comparison signs spelled out, other runs of characters as ``_``
    (``">25-<=50"`` → ``gt25_le50``, ``"<40"`` → ``lt40``, ``"Ph+ ALL"`` → ``phplus_all``)."""
    s = str(text).strip().lower()
    for sym, word in _SYMBOLS:
        s = s.replace(sym, word)
    s = re.sub(r"[^0-9a-z]+", "_", s).strip("_")
    return s or "missing"


def _pct(x):
    return None if x is None else 100.0 * x


def count(reg: Registry, rid: str, label: str, n: int, unit: str = "patients") -> Record:
    """A number of patients (or events)."""
    return reg.add(Record(rid, label, int(n), unit=unit))


def proportion(reg: Registry, rid: str, label: str, prop, *, with_ci: bool = True, p_value: float | None = None,
               method: str | None = None) -> Record:
    """A ``stats.Proportion`` (or ``BinomTest``) as percent with n and N, optionally its CI."""
    ci_obj = getattr(prop, "ci", prop)  # BinomTest carries its Clopper–Pearson interval in .ci
    ci = (_pct(ci_obj.lower), _pct(ci_obj.upper)) if with_ci else None
    if method is None:
        method = ci_obj.method if with_ci else "n (%)"
    if hasattr(prop, "p_value") and p_value is None:
        p_value = prop.p_value
        method = f"{method}; {prop.method}"
    return reg.add(Record(rid, label, _pct(prop.estimate), unit="%", n=prop.x, N=prop.n, ci=ci, p_value=p_value,
                          method=method))


def quantile(reg: Registry, rid: str, label: str, q, unit: str, n: int | None = None) -> Record:
    """A ``stats.Quantile`` (e.g. a Kaplan–Meier median); ``None`` estimate = not reached, said in the label."""
    if q.estimate is None:
        label = f"{label} (not reached)"
    return reg.add(Record(rid, label, q.estimate, unit=unit, N=n, ci=(q.lower, q.upper), method=q.method))


def rate(reg: Registry, rid: str, label: str, row, method: str, n_risk: int | None = None) -> Record:
    """A landmark survival (or cumulative-incidence) rate in percent with its CI, from one row of ``.at()``."""
    value = row.get("surv", row.get("cif"))
    return reg.add(Record(rid, label, _pct(value), unit="%", n=n_risk, ci=(_pct(row["lower"]), _pct(row["upper"])),
                          method=method))


def summary(reg: Registry, prefix: str, label: str, s, unit: str | None,
            stats: tuple[str, ...] = ("n", "median", "min", "max"), sep: str = ".", suffix: str = "") -> dict[str, Record]:
    """Records ``<prefix><sep><stat>`` from a ``stats.describe.Summary`` (median, min, max, q1, q3, mean, sd,
    geo_mean, geo_cv, n); ``sep="_"`` gives ids such as ``safety.crs.onset_median``; ``suffix`` (e.g. a group,
    ``".male"``) ends each id."""
    names = {"n": "number with a value", "median": "median", "min": "minimum", "max": "maximum",
             "q1": "first quartile", "q3": "third quartile", "mean": "mean", "sd": "standard deviation",
             "geo_mean": "geometric mean", "geo_cv": "geometric coefficient of variation"}
    out = {}
    for st in stats:
        value = getattr(s, st)
        u = "patients" if st == "n" else "%" if st == "geo_cv" else unit
        out[st] = reg.add(Record(f"{prefix}{sep}{st}{suffix}", f"{label}: {names[st]}", value, unit=u,
                                 N=s.n if st != "n" else None, method=None if st == "n" else s.method))
    return out


def test(reg: Registry, rid: str, label: str, t) -> Record:
    """A between-group test (``GroupTest``, ``LogRank``, Gray's test): value = statistic, p_value, method."""
    stat = getattr(t, "statistic", None)
    if stat is None:
        stat = getattr(t, "chisq", getattr(t, "stat", None))
    return reg.add(Record(rid, label, stat, p_value=t.p_value, method=t.method))
