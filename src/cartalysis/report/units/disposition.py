"""Table 1 and Figure 1: patient disposition from screening to infusion (CONSORT flow).

Needs: nothing beyond the subjects table. A step is shown only when the study records it (enrollment flags,
product release dates, lymphodepletion dates): a registry without manufacturing dates has no "Manufactured" step,
rather than "0 manufactured" beside the infused patients. A patient who reached a later step counts as having
passed the earlier ones (an infused patient was manufactured even when the release date is missing).
"""

from __future__ import annotations

import textwrap

import pandas as pd

from cartalysis.report import figures as F
from cartalysis.report import fmt
from cartalysis.report import records as R
from cartalysis.report.model import Row, Table, c_count, label
from cartalysis.report.units import text as T
from cartalysis.report.units.base import Ctx, Unit, flag

LOST = {  # (step lost before, previous step) -> (id, text); None = any previous step
    ("enrolled", None): ("not_enrolled", "Not enrolled"),
    ("manufactured", None): ("not_manufactured", "Enrolled, product not manufactured"),
    ("lymphodepleted", None): ("not_lymphodepleted", "Stopped before lymphodepletion"),
    ("infused", "lymphodepleted"): ("not_infused", "Lymphodepleted, not infused"),
    ("infused", "manufactured"): ("not_infused", "Manufactured, not infused"),
    ("infused", "enrolled"): ("not_infused", "Enrolled, not infused"),
    ("infused", "screened"): ("not_infused", "Screened, not infused"),
}


def stages(a: pd.DataFrame) -> list[tuple[str, str, pd.Series]]:
    """The recorded steps as ``(key, text, patients who reached it)``, each a subset of the one before."""
    infused = flag(a["saffl"])
    steps = [("screened", "Screened", pd.Series(True, index=a.index))]
    evidence = [
        ("enrolled", "Enrolled (ITT)", a["enrolled"].notna().any(), flag(a["ittfl"])),
        ("manufactured", "Manufactured", a["release_date"].notna().any(), a["release_date"].notna()),
        ("lymphodepleted", "Lymphodepleted", a["ld_start_date"].notna().any(), a["ld_start_date"].notna()),
    ]
    for key, text, recorded, reached in evidence:
        if recorded:
            steps.append((key, text, steps[-1][2] & (reached | infused)))
    steps.append(("infused", "Infused (safety, mITT)", steps[-1][2] & infused))
    return steps


def run(ctx: Ctx) -> list:
    a = ctx.adsl
    reg = ctx.reg
    steps_ = stages(a)
    rows: list[Row] = []
    boxes: list[F.FlowStep] = []
    reason = T.canonical(a["discontinuation_reason"]).fillna("reason not recorded").astype(str)
    for i, (key, text, mask) in enumerate(steps_):
        rec = R.count(reg, f"disposition.{key}", text, int(mask.sum()))
        rows.append(Row((label(text), c_count(rec))))
        exclusion = ""
        if i + 1 < len(steps_):
            nxt = steps_[i + 1][0]
            lost_key, lost_text = LOST.get((nxt, key)) or LOST[nxt, None]
            lost = mask & ~steps_[i + 1][2]
            lrec = R.count(reg, f"disposition.{lost_key}", lost_text, int(lost.sum()))
            if lrec.value:
                rows.append(Row((label(lost_text), c_count(lrec)), indent=1))
                lines = [f"{lost_text} (n = {fmt.integer(lrec.value)})"]
                counts = sorted(reason[lost].value_counts().items(), key=lambda kv: (-kv[1], kv[0]))
                rid = T.ids(r for r, _ in counts)
                for k, (r, n) in enumerate(counts):
                    rr = R.count(reg, f"disposition.{lost_key}.{rid[r]}", f"{lost_text}: {r}", int(n))
                    rows.append(Row((label(r), c_count(rr)), indent=2))
                    if k < 8:  # the figure keeps the 8 commonest reasons readable; the table lists them all
                        lines.append(textwrap.fill(f"{r}: {fmt.integer(rr.value)}", 52, initial_indent="  ",
                                                   subsequent_indent="    "))
                    elif k == 8:
                        lines.append("  other reasons: see Table 1")
                exclusion = "\n".join(lines)
        boxes.append(F.FlowStep(f"{text}\nn = {fmt.integer(rec.value)}", exclusion))
    table = Table("t01_disposition", "Table 1. Patient disposition", (label("Stage"), label("Patients, n")),
                  tuple(rows), ("Counts of patients; reasons as recorded in subjects.discontinuation_reason.",)
                  + _omitted_note(steps_))
    caption = ""
    if not any(b.exclusion for b in boxes):
        # nobody lost before infusion (a registry of infused patients, no screening data): one box, not a column
        # of identical counts that reads as a trial flow
        boxes = [F.FlowStep(f"{steps_[-1][1]}\nn = {fmt.integer(int(steps_[-1][2].sum()))}")]
        caption = "No patient was lost between screening and infusion (no screening or enrollment losses recorded)."
    fig = ctx.figure("f01_consort", "Figure 1. CONSORT flow diagram", F.consort_figure(boxes), caption)
    return [fig, table]


def _omitted_note(steps_) -> tuple[str, ...]:
    """A footnote naming the steps left out because the study does not record them."""
    columns = {"enrolled": "subjects.enrolled", "manufactured": "subjects.release_date",
               "lymphodepleted": "subjects.ld_start_date"}
    missing = [f"{k} ({c})" for k, c in columns.items() if k not in {s[0] for s in steps_}]
    if not missing or missing == ["lymphodepleted (subjects.ld_start_date)"]:
        return ()  # lymphodepletion dates are optional in trials and registries alike: no remark
    return (f"Steps not recorded in the study and therefore not shown: {', '.join(missing)}.",)


UNITS = (Unit("disposition", "patient disposition", run),)
