"""The whole report as one Word and one RTF document: every table and figure in order with numbered captions,
landscape sections for wide tables, widths fitted to content, a title page with provenance."""

from __future__ import annotations

import json
import re

import docx
import pytest

from cartalysis.report.document import LANDSCAPE_TEXT_IN, PORTRAIT_TEXT_IN, figure_size, layout
from cartalysis.report.model import Cell, Row, Table


def _table(ncol: int, text: str) -> Table:
    header = tuple(Cell(f"Column {j}") for j in range(ncol))
    return Table("t", "Table X. Test", header, (Row(tuple(Cell(text) for _ in range(ncol))),))


def test_layout_fits_narrow_tables_in_portrait_and_turns_wide_ones():
    narrow = layout(_table(3, "12 (25.0)"))
    assert not narrow.landscape and sum(narrow.widths) < PORTRAIT_TEXT_IN
    wide = layout(_table(9, "123 (100.0) 45.6–78.9"))
    assert wide.landscape and sum(wide.widths) <= LANDSCAPE_TEXT_IN + 1e-6
    # a column holding longer text is wider
    t = Table("t", "T", (Cell("a"), Cell("b")), (Row((Cell("short"), Cell("a much longer cell text here"))),))
    w = layout(t).widths
    assert w[1] > w[0]


def test_tall_figures_are_scaled_to_fit_a_page():
    def png(w, h):
        return b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + w.to_bytes(4, "big") + h.to_bytes(4, "big")
    assert figure_size(png(1000, 500)) == (PORTRAIT_TEXT_IN, PORTRAIT_TEXT_IN / 2)
    width, height = figure_size(png(500, 1500))
    assert height <= 7.2 and width == pytest.approx(height / 3, abs=1e-3)


def _titles(out):
    """Table and figure titles in report order, from the HTML report."""
    html = (out / "report.html").read_text(encoding="utf-8")
    return re.findall(r"<(?:caption|figcaption)[^>]*>(?:<b>)?((?:Table|Figure) [0-9]+[a-z]?\.[^<]*)", html)


def test_docx_holds_every_table_and_figure_in_order(pivotal_report):
    d = docx.Document(str(pivotal_report / "report.docx"))
    paras = [p.text for p in d.paragraphs]
    captions = [p for p in paras if re.match(r"(Table|Figure) \d+[a-z]?(\.\d+)?\. ", p)]
    tables = sorted(p.stem for p in (pivotal_report / "tables").glob("*.csv"))
    figures = sorted(p.stem for p in (pivotal_report / "figures").glob("*.png"))
    assert len([c for c in captions if c.startswith("Table")]) == len(tables)
    assert len([c for c in captions if c.startswith("Figure")]) == len(figures)
    assert len(d.tables) == len(tables) and len(d.inline_shapes) == len(figures)
    # numbering runs forward: Table 1 … before Table 2 …, Figure 1 before Figure 2
    for kind in ("Table", "Figure"):
        nums = [int(re.match(rf"{kind} (\d+)", c).group(1)) for c in captions if c.startswith(kind)]
        assert nums == sorted(nums), (kind, nums)
    # title page with provenance
    assert paras[0].startswith("Inaticabtagene") or d.paragraphs[0].style.name == "Title"
    assert any("SHA-256" in p for p in paras) and any(p.startswith("Report date (data cutoff)") for p in paras)
    # every table's column widths fit the page of its section
    for section in d.sections:
        assert section.left_margin + section.right_margin < section.page_width
    assert {s.orientation for s in d.sections} <= {0, 1}


def test_wide_tables_are_in_landscape_sections(registry_report):
    d = docx.Document(str(registry_report / "report.docx"))
    body = d.element.body
    # the tables of a landscape section are wider than a portrait text column
    widths = [sum(c.width for c in t.columns) / 914400 for t in d.tables]
    assert max(widths) <= LANDSCAPE_TEXT_IN + 0.01
    if any(w > PORTRAIT_TEXT_IN + 0.01 for w in widths):
        assert any(s.orientation == 1 for s in d.sections)
    assert body is not None


def test_rtf_document_is_balanced_and_complete(pivotal_report):
    text = (pivotal_report / "report.rtf").read_text(encoding="utf-8")
    assert text.startswith("{\\rtf1") and text.rstrip().endswith("}")
    depth = 0
    for m in re.finditer(r"\\[{}\\]|[{}]", text):
        depth += {"{": 1, "}": -1}.get(m.group(), 0)
        assert depth >= 0
    assert depth == 0
    figures = list((pivotal_report / "figures").glob("*.png"))
    assert text.count("\\pict") >= len(figures)
    results = json.loads((pivotal_report / "results.json").read_text(encoding="utf-8"))
    assert results and "Table 3. Response" in text.replace("\\u8211?", "–")
