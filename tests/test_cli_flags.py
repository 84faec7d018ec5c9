"""Small things users hit first: ``--version`` and boolean options shown as flags in help."""

from __future__ import annotations

import re

import pytest
from typer.testing import CliRunner

from cartalysis import __version__
from cartalysis.cli import _register_stats, app

runner = CliRunner()
_register_stats()


def test_version():
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.output.strip() == f"cartalysis {__version__}"


@pytest.mark.parametrize("command", ["km", "logrank", "cox", "binom", "design", "cif"])
def test_json_is_a_flag_in_help(command):
    result = runner.invoke(app, [command, "--help"], env={"COLUMNS": "120"})
    if result.exit_code == 2 and "No such command" in result.output:
        pytest.skip(f"no {command} command")
    line = next(ln for ln in result.output.splitlines() if "--json" in ln)
    assert "<bool>" not in line and re.search(r"--json\s+Print JSON", line), line
