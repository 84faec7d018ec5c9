"""Exact-count allocation: give each patient values whose summaries equal a target.

Two verbs, both seeded through a ``numpy.random.Generator`` and both exact by
construction (no rejection on the summary itself):

* :func:`allocate_levels` -- categorical values with exact counts per level,
  optionally with a fixed number of a level inside a tagged subset (e.g. "9 of
  the 10 Ph+ patients responded").
* :func:`allocate_values` -- numeric values with an exact median, minimum,
  maximum and exact counts per band (``[lo, hi]`` inclusive on the value grid),
  optionally *given* values already fixed for a nested inner group (Table 1's
  "treated" column inside its "enrolled" column).

Medians follow the usual definition (middle value, or mean of the two middle
values); when a median falls between two grid points (4.5 days on a whole-day
grid) the two middle values are put on the grid points either side.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


class TargetError(ValueError):
    """The targets cannot all hold at once (e.g. counts do not add up)."""


def allocate_levels(
    rng: np.random.Generator,
    n: int,
    counts: dict[str, int],
    in_subset: Sequence[bool] | None = None,
    subset_counts: dict[str, int] | None = None,
) -> list[str]:
    """Return ``n`` level labels, ``counts[level]`` of each, in random order.

    ``subset_counts[level]`` fixes how many of that level fall on positions
    where ``in_subset`` is true; the other levels share the remaining subset
    positions at random (a multivariate hypergeometric split).
    """
    if sum(counts.values()) != n:
        raise TargetError(f"level counts {counts} add up to {sum(counts.values())}, not {n}")
    if in_subset is None or not subset_counts:
        pool = [lvl for lvl, c in counts.items() for _ in range(c)]
        rng.shuffle(pool)
        return pool
    mask = np.asarray(in_subset, dtype=bool)
    n_in = int(mask.sum())
    inside: list[str] = []
    free: list[str] = []
    for lvl, c in counts.items():
        k = subset_counts.get(lvl)
        if k is None:
            free += [lvl] * c
            continue
        if k > c:
            raise TargetError(f"{k} of level {lvl!r} in the subset but only {c} in all")
        inside += [lvl] * k
        free += [lvl] * (c - k)
    room = n_in - len(inside)
    if room < 0:
        raise TargetError(f"subset of {n_in} cannot hold {len(inside)} fixed values")
    rng.shuffle(free)
    # Levels with a fixed subset count must not spill into the free subset slots.
    fixed = set(subset_counts)
    free_free = [v for v in free if v not in fixed]
    if len(free_free) < room:
        raise TargetError(f"not enough unconstrained values to fill the subset ({room} needed)")
    inside += free_free[:room]
    rest = free_free[room:] + [v for v in free if v in fixed]
    rng.shuffle(inside)
    rng.shuffle(rest)
    out: list[str] = []
    it_in, it_out = iter(inside), iter(rest)
    for m in mask:
        out.append(next(it_in) if m else next(it_out))
    return out


@dataclass(frozen=True)
class ValueTarget:
    """Exact targets for a numeric variable in one group.

    ``bands`` are ``(lo, hi, count)`` with inclusive bounds on the ``step``
    grid; without bands the whole ``[min, max]`` range is one band.
    ``mean``/``sd``, when given, are approached (not hit) by choosing the best
    of ``tries`` seeded draws.
    """

    n: int
    median: float
    min: float
    max: float
    step: float = 1.0
    bands: tuple[tuple[float, float, int], ...] = ()
    mean: float | None = None
    sd: float | None = None
    tries: int = 1


def _grid(x: float, step: float) -> int:
    return int(round(x / step))


def allocate_values(
    rng: np.random.Generator,
    target: ValueTarget,
    given: Sequence[float] = (),
) -> np.ndarray:
    """Return ``target.n - len(given)`` new values (random order) so that,
    pooled with ``given``, the ``n`` values have exactly the target median,
    min, max and band counts. The values are multiples of ``target.step``.
    """
    best = None
    best_loss = np.inf
    for _ in range(max(1, target.tries)):
        vals = _allocate_once(rng, target, given)
        if target.mean is None:
            return vals
        pooled = np.concatenate([np.asarray(given, float), vals])
        loss = abs(pooled.mean() - target.mean) + (
            abs(pooled.std(ddof=1) - target.sd) if target.sd is not None else 0.0
        )
        if loss < best_loss:
            best, best_loss = vals, loss
    return best


def _allocate_once(rng: np.random.Generator, t: ValueTarget, given: Sequence[float]) -> np.ndarray:
    step = t.step
    g = [_grid(v, step) for v in given]
    if len(g) > t.n:
        raise TargetError(f"{len(g)} given values exceed n={t.n}")
    lo_i, hi_i = _grid(t.min, step), _grid(t.max, step)
    bands = [(_grid(a, step), _grid(b, step), c) for a, b, c in t.bands] or [(lo_i, hi_i, t.n)]
    if sum(c for *_, c in bands) != t.n:
        raise TargetError(f"band counts add up to {sum(c for *_, c in bands)}, not {t.n}")
    if any(v < lo_i or v > hi_i for v in g):
        raise TargetError("a given value lies outside the target range")
    m2 = round(2 * t.median / step)  # twice the median, in grid units
    if t.n % 2 and m2 % 2:
        raise TargetError(f"median {t.median} of an odd count is not on the {step} grid")
    mv_lo, mv_hi = m2 // 2, (m2 + 1) // 2
    b_max = (t.n - 1) // 2  # values strictly below a single middle value
    a_max = t.n - 1 - t.n // 2  # values strictly above it
    # Values that must be present: min, max and the middle value(s).
    new: list[int] = []
    pool = list(g)
    for v in [lo_i, hi_i] + ([mv_lo] if mv_lo == mv_hi else [mv_lo, mv_hi]):
        if v in pool:
            pool.remove(v)
        else:
            new.append(v)
    left = {(a, b): c - sum(1 for v in g + new if a <= v <= b) for a, b, c in bands}
    if any(c < 0 for c in left.values()):
        raise TargetError(f"given or required values overfill a band of {t.bands}")
    slots = [b for b, c in left.items() for _ in range(c)]
    forced_b = [b for b in slots if b[1] < mv_lo]
    forced_a = [b for b in slots if b[0] > mv_hi]
    straddle = [b for b in slots if not (b[1] < mv_lo or b[0] > mv_hi)]
    if mv_lo == mv_hi:  # room strictly below / above the middle value
        x = b_max - sum(1 for v in g + new if v < mv_lo) - len(forced_b)
        y = a_max - sum(1 for v in g + new if v > mv_hi) - len(forced_a)
    else:  # two adjacent middle values: exactly half the values are <= the lower one
        x = t.n // 2 - sum(1 for v in g + new if v <= mv_lo) - len(forced_b)
        y = t.n // 2 - sum(1 for v in g + new if v >= mv_hi) - len(forced_a)
    s = len(straddle)
    if x < 0 or y < 0 or (mv_lo != mv_hi and x + y != s):
        raise TargetError(f"median {t.median} cannot be reached with the band counts {t.bands}")
    # With one middle value, slots beyond x below and y above take that value
    # (all of them when the median is also the minimum or the maximum).
    if mv_lo == mv_hi:
        x = 0 if mv_lo == lo_i else x
        y = 0 if mv_hi == hi_i else y
    xb = x if mv_lo != mv_hi else (int(rng.integers(max(0, min(x, s - y)), min(x, s) + 1)) if s else 0)
    rng.shuffle(straddle)
    rest = straddle[xb:]
    yb = min(y, len(rest))
    if mv_lo != mv_hi:
        yb = len(rest)
    tie = 0 if mv_lo != mv_hi else 1  # distinct middle values may be repeated on their side
    for blo, bhi in forced_b + straddle[:xb]:
        lo, hi = max(blo, lo_i), min(bhi, mv_lo - tie, hi_i)
        if hi < lo:
            raise TargetError(f"no room below the median {t.median} in band {blo * step}-{bhi * step}")
        new.append(int(rng.integers(lo, hi + 1)))
    for blo, bhi in forced_a + rest[:yb]:
        lo, hi = max(blo, mv_hi + tie, lo_i), min(bhi, hi_i)
        if hi < lo:
            raise TargetError(f"no room above the median {t.median} in band {blo * step}-{bhi * step}")
        new.append(int(rng.integers(lo, hi + 1)))
    new += [mv_lo] * (len(rest) - yb)
    out = np.array(new, dtype=np.int64)
    rng.shuffle(out)
    return np.round(out * step, 10)


def allocate_nested(
    rng: np.random.Generator, inner: ValueTarget, outer: ValueTarget, attempts: int = 200
) -> tuple[np.ndarray, np.ndarray]:
    """Values for an inner group and for the rest of its outer group, each
    meeting its own exact targets (the inner values are redrawn until the outer
    targets can also be met, which is seeded and therefore reproducible)."""
    last: TargetError | None = None
    for _ in range(attempts):
        v_in = allocate_values(rng, inner)
        try:
            return v_in, allocate_values(rng, outer, v_in)
        except TargetError as e:
            last = e
    raise TargetError(f"inner and outer targets incompatible: {last}")


def assign_within(rng: np.random.Generator, values: Sequence[float], capacity: Sequence[float]) -> list[int]:
    """Give value ``i`` to slot ``out[i]`` so that each value fits its slot's
    capacity (``value <= capacity``), at random among the slots that fit.

    Largest values first: a threshold structure, so greedy never fails when an
    assignment exists (e.g. a CRS lasting 34 days goes to a patient followed
    at least that long).
    """
    free = list(range(len(capacity)))
    out = [-1] * len(values)
    for i in sorted(range(len(values)), key=lambda i: (-values[i], i)):
        fits = [s for s in free if capacity[s] >= values[i]]
        if not fits:
            raise TargetError(f"no patient can hold value {values[i]} (capacities too small)")
        s = fits[int(rng.integers(len(fits)))]
        free.remove(s)
        out[i] = s
    return out
