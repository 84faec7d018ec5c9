"""Render the column tables of ``docs/data-model.md`` from ``spec.py``, so the two cannot drift.

The document's prose is written by hand; each table's block between
``<!-- spec:NAME -->`` and ``<!-- /spec:NAME -->`` is generated. Refresh it
after changing the spec with::

    python -m cartalysis.study.docgen docs/data-model.md

``tests/study/test_spec_doc.py`` fails when the document's blocks differ from
what this module renders.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from cartalysis.study.spec import BOOL_FALSE, BOOL_TRUE, TABLES, Column, Table

_BLOCK = re.compile(r"(<!-- spec:(\w+) -->\n)(.*?)(<!-- /spec:\2 -->)", re.S)


def _type(c: Column) -> str:
    if c.min is None and c.max is None:
        return c.dtype
    lo = "" if c.min is None else f"{c.min:g}"
    hi = "" if c.max is None else f"{c.max:g}"
    return f"{c.dtype} {lo}–{hi}" if lo and hi else f"{c.dtype} ≥ {lo}" if lo else f"{c.dtype} ≤ {hi}"


def _allowed(c: Column) -> str:
    if c.allowed:
        return ", ".join(f"`{a}`" for a in c.allowed)
    if c.dtype == "bool":
        return "yes / no"
    if c.dtype == "date":
        return "YYYY-MM-DD"
    return ""


def render_table(t: Table) -> str:
    """Markdown for one table: file, status, key, then one line per column."""
    status = "required" if t.required else "optional"
    key = ", ".join(f"`{k}`" for k in t.key) if t.key else "none (rows may repeat)"
    lines = [
        f"File `{t.name}.csv` (sheet `{t.name}`), **{status}**. {t.description} Key: {key}.",
        "",
        "| Column | Type | Unit | Allowed values | Column required | Empty cell allowed | Meaning |",
        "|---|---|---|---|---|---|---|",
    ]
    for c in t.columns:
        cells = (
            f"`{c.name}`",
            _type(c),
            c.unit,
            _allowed(c),
            "yes" if c.required else "no",
            "yes" if c.nullable else "no",
            c.description,
        )
        lines.append("| " + " | ".join(x.replace("|", "\\|") for x in cells) + " |")
    return "\n".join(lines) + "\n"


def render_bool() -> str:
    """The accepted spellings of yes/no cells."""
    return (
        f"Yes: {', '.join(f'`{v}`' for v in sorted(BOOL_TRUE))}; "
        f"no: {', '.join(f'`{v}`' for v in sorted(BOOL_FALSE))} (any case).\n"
    )


def render(document: str) -> str:
    """``document`` with every generated block replaced by the current rendering."""
    blocks = {t.name: render_table(t) for t in TABLES} | {"bool": render_bool()}

    def sub(m: re.Match[str]) -> str:
        return m.group(1) + blocks.get(m.group(2), m.group(3)) + m.group(4)

    return _BLOCK.sub(sub, document)


def block_names(document: str) -> list[str]:
    return [m.group(2) for m in _BLOCK.finditer(document)]


def main(argv: list[str]) -> int:
    path = Path(argv[0]) if argv else Path("docs/data-model.md")
    path.write_text(render(path.read_text(encoding="utf-8")), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
