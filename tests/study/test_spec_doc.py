"""docs/data-model.md and the code spec (study/spec.py) must agree."""

from __future__ import annotations

import re
from pathlib import Path

from cartalysis.study import docgen
from cartalysis.study.spec import BOOL_FALSE, BOOL_TRUE, TABLES

DOC = Path(__file__).resolve().parents[2] / "docs" / "data-model.md"


def _doc() -> str:
    return DOC.read_text(encoding="utf-8")


def _doc_columns(table: str) -> list[str]:
    """Column names listed in the Markdown table of ``table``'s section."""
    section = re.search(rf"^### {table}\n(.*?)(?=^##)", _doc(), re.S | re.M)
    assert section, f"no section for {table}"
    columns = re.search(r"^\| Column \|.*?\n\n", section.group(1), re.S | re.M)
    assert columns, f"no column table for {table}"
    return re.findall(r"^\| `(\w+)` \|", columns.group(0), re.M)


def test_every_spec_column_is_documented_in_its_table_and_nothing_else():
    for t in TABLES:
        assert _doc_columns(t.name) == list(t.names), t.name


def test_generated_blocks_match_the_spec():
    """Types, units, allowed values, required/empty flags and meanings: the doc is what docgen renders."""
    doc = _doc()
    assert sorted(docgen.block_names(doc)) == sorted([t.name for t in TABLES] + ["bool"])
    assert docgen.render(doc) == doc, "run: python -m cartalysis.study.docgen docs/data-model.md"


def test_render_changes_a_stale_block():
    """The drift check can fail: a doc edited by hand differs from its rendering."""
    doc = _doc().replace("| `grade` | int 1–5 |", "| `grade` | int 1–4 |")
    assert doc != _doc()
    assert docgen.render(doc) == _doc()


def test_bool_spellings_and_date_format_documented():
    doc = _doc()
    for word in BOOL_TRUE | BOOL_FALSE:
        assert f"`{word}`" in doc
    assert "YYYY-MM-DD" in doc
