"""``cartalysis validate``: every problem of a study and of its analysis plan, as ``file:row:column: message``."""

from __future__ import annotations

from pathlib import Path

from cartalysis.study.adam import is_adam_folder, load_adam
from cartalysis.study.errors import Problem, StudyError
from cartalysis.study.load import read_and_check_with_plan, sort_problems
from cartalysis.study.plan import check_plan


def validate_study(path: Path | str, sap_path: Path | str | None = None) -> list[Problem]:
    """All problems (errors and warnings) of the study at ``path`` and of its plan, sorted; empty when clean.

    The plan is ``sap_path`` when given, else ``STUDY/sap.toml`` when the study has one. Raises ``UsageError``
    when the study or plan cannot be opened at all (missing path, not a folder or workbook, unreadable file);
    the CLI exits 2 then, 1 when an error is returned, 0 otherwise (warnings alone exit 0).
    """
    if is_adam_folder(path):  # a folder of ADaM datasets (ADSL, ADTTE, ...): the checks of its report
        try:
            problems, plan_path = [], load_adam(path).plan_path
        except StudyError as e:
            problems, plan_path = list(e.problems), (Path(path) / "sap.toml" if (Path(path) / "sap.toml").is_file() else None)
        plan_file = Path(sap_path) if sap_path is not None else plan_path
        return sort_problems(problems + check_plan(plan_file)[1])
    return read_and_check_with_plan(path, sap_path)[3]
