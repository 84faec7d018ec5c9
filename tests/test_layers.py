"""The folders follow the data and dependencies point one way: study -> derive -> stats -> report <- cli.

stats/ knows nothing of CAR-T (imports no other cartalysis layer); derive/ never reaches into report/ or twins/;
study/ depends on nothing downstream; report/ may use everything upstream but not twins/.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "cartalysis"

FORBIDDEN = {
    "stats": {"study", "derive", "report", "twins", "cli", "cli_stats"},
    "study": {"derive", "stats", "report", "twins", "cli", "cli_stats"},
    "derive": {"report", "twins", "cli", "cli_stats"},
    "report": {"twins", "cli", "cli_stats"},
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
