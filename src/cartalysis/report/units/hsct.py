"""Table 3b: infused patients proceeding to HSCT after infusion (any, and allogeneic HSCT in remission).

Needs: at least one infused patient.
"""

from __future__ import annotations

from cartalysis.report import fmt
from cartalysis.report.model import Cell, Row, Table, c_n_of_N_pct, label
from cartalysis.report import records as R
from cartalysis.report.units.base import Ctx, Unit, flag, infused


def run(ctx: Ctx) -> list:
    """Infused patients proceeding to HSCT after infusion (any, and allogeneic HSCT in remission), n/N with CI."""
    inf = ctx.infused
    conf = f"{ctx.conf:.0%}"
    rows = []
    for rid, text, col in (("response.hsct", "Proceeded to HSCT after infusion", "hsct"),
                           ("response.hsct_in_remission", "Allogeneic HSCT in remission (consolidation)",
                            "hsct_in_remission")):
        r = R.proportion(ctx.reg, rid, f"{text} (of infused patients)", ctx.prop(int(flag(inf[col]).sum()), len(inf)))
        rows.append(Row((label(text), c_n_of_N_pct(r), Cell(fmt.ci(*r.ci), (r.id,)))))
    return [Table("t03b_hsct", "Table 3b. Haematopoietic stem-cell transplantation after infusion",
                  (label("Infused patients"), label("n/N (%)"), label(f"{conf} CI")), tuple(rows),
                  (f"First HSCT after infusion (events table); in remission: an allogeneic HSCT on or after the first "
                   f"CR/CRi and before relapse. {conf} CI, Clopper–Pearson (exact).",))]


UNITS = (Unit("response.hsct", "transplantation after infusion", run, needs=(infused(),)),)
