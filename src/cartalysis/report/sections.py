"""The report's sections, each an ordered list of analysis units (``cartalysis.report.units``).

A section is laid out by running its units in order (``SectionSpec.build``); a unit whose needs are not met shows
why instead of numbers.
"""

from __future__ import annotations

from cartalysis.report.units import (aesi, baseline, bcells, cif, comparisons, competing_regression, crs_course,
                                     cytopenia, deaths, design, disposition, exposure, hsct, immortal, infections, mrd,
                                     pk, regression, relapse, response, sae, sites, subgroups, swimmer, teae,
                                     teae_socpt, tte)
from cartalysis.report.model import Note, Section
from cartalysis.report.results import Record
from cartalysis.report.units.base import Ctx, SectionSpec

__all__ = ["SECTIONS", "Ctx", "build_sections"]


def _response_title(ctx: Ctx) -> str:
    return "3. Response" if ctx.plan.efficacy.orr != "none" else "3. MRD and transplantation"


SECTIONS = (
    SectionSpec("disposition", "1. Disposition", disposition.UNITS + design.UNITS + sites.UNITS),
    SectionSpec("baseline", "2. Baseline characteristics", baseline.UNITS),
    SectionSpec("response", _response_title, response.UNITS + mrd.UNITS + hsct.UNITS + relapse.UNITS + subgroups.UNITS),
    SectionSpec("tte", "4. Time to event", tte.UNITS + comparisons.UNITS + immortal.UNITS + cif.UNITS
                + competing_regression.UNITS),
    SectionSpec("regression", "5. Regression", regression.UNITS),
    SectionSpec("safety", "6. Safety", teae.UNITS + teae_socpt.UNITS + sae.UNITS + aesi.UNITS + crs_course.UNITS
                + cytopenia.UNITS + infections.UNITS + bcells.UNITS + deaths.UNITS),
    SectionSpec("pk", "7. Cellular kinetics", pk.UNITS + exposure.UNITS),
    SectionSpec("swimmer", "8. Swimmer plot", swimmer.UNITS),
)


def warnings_section(ctx: Ctx, problems) -> Section:
    """The validation warnings of the study data and plan (``file:row:column: warning: …``), each a note of the
    report's first section and a record ``data.warning.<k>`` (no value; the warning as its label), so that a reader
    of the numbers sees what the checks found doubtful."""
    for k, p in enumerate(problems, start=1):
        ctx.reg.add(Record(f"data.warning.{k}", str(p), None, method="validation warning (cartalysis validate)"))
    head = Note(f"{len(problems)} warning(s) from the checks of the study data and plan; the analyses below use the "
                "data as recorded:")
    return Section("warnings", "Data and plan warnings", (head,) + tuple(Note(str(p)) for p in problems))


def build_sections(ctx: Ctx) -> list:
    """Every section of the report, in order."""
    return [s.build(ctx) for s in SECTIONS]
