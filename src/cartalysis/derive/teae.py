"""Treatment-emergent adverse events by MedDRA system organ class and preferred term, and by onset window.

Patients are counted once per SOC and once per PT (any grade; worst grade ≥ 3; serious; related). ``serious`` and
``related`` are read from their own ``adverse_events`` columns — never inferred from the grade; when a column has no
value at all among the rows counted, its counts are empty (not recorded), not 0. SOC rows are sorted by the number
of patients (then name), PT rows within their SOC likewise; an AE without ``soc`` is under "SOC not recorded".
Onset windows (*plan* ``safety.teae_windows`` = [30, 91]): day 0–30, 31–91 (to 3 months), > 91.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cartalysis.derive.infections import window_labels

NO_SOC = "SOC not recorded"
COUNT_COLUMNS = ["level", "soc", "term", "n", "n_g3", "n_serious", "n_related"]


def _counts(te: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    g = te.groupby(keys + ["patient_id"], sort=False).agg(grade=("grade", "max"), serious=("serious", "max"),
                                                           related=("related", "max")).reset_index()
    out = g.groupby(keys, sort=False).agg(n=("patient_id", "size"), n_g3=("grade", lambda x: int((x >= 3).sum())),
                                          n_serious=("serious", lambda x: int(x.fillna(False).astype(bool).sum())),
                                          n_related=("related", lambda x: int(x.fillna(False).astype(bool).sum())))
    return out.reset_index()


def teae_by_soc_pt(adae: pd.DataFrame, patients: pd.Index, window: str | None = None,
                   windows: tuple[float, ...] = (30.0, 91.0)) -> pd.DataFrame:
    """Rows ``level`` (``soc``/``pt``), ``soc``, ``term``, ``n``, ``n_g3``, ``n_serious``, ``n_related``, SOC then its
    PTs, most frequent first. ``window`` keeps the TEAEs whose onset falls in that window label."""
    te = adae[adae["trtemfl"] & adae["patient_id"].isin(patients)].copy()
    if window is not None:
        te = te[window_labels(te["asty"], windows) == window]
    if te.empty:
        return pd.DataFrame(columns=COUNT_COLUMNS)
    te["soc"] = te["soc"].astype(object).where(te["soc"].notna(), NO_SOC)
    te["serious"] = te["serious"].astype("boolean")
    te["related"] = te["related"].astype("boolean")
    soc = _counts(te, ["soc"]).sort_values(["n", "soc"], ascending=[False, True], kind="stable")
    pt = _counts(te, ["soc", "term"])
    rows = []
    for s in soc.itertuples(index=False):
        rows.append({"level": "soc", "soc": s.soc, "term": None, "n": s.n, "n_g3": s.n_g3, "n_serious": s.n_serious,
                     "n_related": s.n_related})
        sub = pt[pt["soc"] == s.soc].sort_values(["n", "term"], ascending=[False, True], kind="stable")
        rows += [{"level": "pt", **r} for r in sub.to_dict("records")]
    out = pd.DataFrame(rows, columns=COUNT_COLUMNS)
    for col, src in (("n_serious", "serious"), ("n_related", "related")):
        if te[src].isna().all():
            out[col] = np.nan
    return out
