"""The folders follow the data and dependencies point one way: study -> derive -> stats -> report <- cli.

stats/ knows nothing of CAR-T (imports no other cartalysis layer); derive/ never reaches into report/ or twins/;
study/ depends on nothing downstream; report/ may use everything upstream but not twins/. registry/ sits on top:
nothing below imports it, and the core imports without Django.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "cartalysis"

FORBIDDEN = {
    "stats": {"study", "derive", "report", "twins", "cli", "cli_stats", "cli_survival", "registry"},
    "study": {"derive", "stats", "report", "twins", "cli", "cli_stats", "cli_survival", "registry"},
    "derive": {"report", "twins", "cli", "cli_stats", "cli_survival", "registry"},
    "report": {"twins", "cli", "cli_stats", "cli_survival", "registry"},
}


def _imported_layers(path: Path) -> set[str]:
    layers = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        for name in names:
            parts = name.split(".")
            if parts[0] == "cartalysis" and len(parts) > 1:
                layers.add(parts[1])
    return layers


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_dependencies_point_one_way(layer):
    bad = {
        f"{p.relative_to(SRC)} imports cartalysis.{imp}"
        for p in (SRC / layer).rglob("*.py")
        for imp in _imported_layers(p) & FORBIDDEN[layer]
    }
    assert not bad, sorted(bad)


def test_core_imports_without_django():
    import subprocess
    import sys

    code = ("import sys; sys.modules['django'] = None\n"
            "import cartalysis.cli, cartalysis.report.build, cartalysis.study.load, cartalysis.registry\n"
            "print('ok')")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.stdout.strip() == "ok", r.stderr
