"""The whole report as one document for the medical writer: ``report.docx`` (python-docx) and ``report.rtf``
(rtflite), every table and figure in report order with its numbered caption and footnotes.

Layout rules (ICH E3 documents as sponsors hand them over): a title page with provenance (study, version, data
cutoff, plan, input checksums); each section a heading; column widths fitted to the widest text of each column
as set in the document font (rtflite's ``get_string_width``, Times New Roman 9 pt); a table wider than a portrait
text column gets a landscape section of its own; figures scaled to the text width with their caption and legend
text under them; analyses that could not be done stay in the document as their plain-language sentence.

python-docx and rtflite write the files; this module only decides the layout, which neither does by itself.
"""

from __future__ import annotations

import io
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cartalysis.report.model import Figure, NotAnalysed, Note, Section, Table

FONT, SIZE = "Times New Roman", 9.0
PORTRAIT_TEXT_IN, LANDSCAPE_TEXT_IN = 6.5, 9.0  # Letter/A4 with 1-inch margins
FIGURE_MAX_H_IN = 7.2  # a figure, its caption and legend on one portrait page
CELL_PAD_IN, MIN_COL_IN, FIRST_MAX_IN = 0.16, 0.55, 3.2


@dataclass(frozen=True)
class TableLayout:
    widths: tuple[float, ...]  # inches
    landscape: bool


_CONTROL = dict.fromkeys([*range(0x20), 0x7F], " ")  # measured as spaces (the text layout engine rejects them)


def _width(text: str, bold: bool = False) -> float:
    from rtflite import get_string_width

    lines = text.split("\n")
    w = max(get_string_width(line.translate(_CONTROL), FONT, SIZE) for line in lines)
    return w * (1.06 if bold else 1.0)


def layout(table: Table) -> TableLayout:
    """Column widths fitted to content; landscape when the table does not fit a portrait text column.

    Each column takes the width of its longest cell (headers may wrap onto two lines, so they count half), at
    least ``MIN_COL_IN``; the first (label) column is capped at ``FIRST_MAX_IN`` and wraps beyond it. When the sum
    exceeds the portrait width the table goes landscape; when it exceeds even that, columns shrink in proportion
    (cells then wrap)."""
    ncol = len(table.header)
    want = []
    for j in range(ncol):
        cells = [r.cells[j].text for r in table.rows if j < len(r.cells)]
        indent = [0.15 * r.indent if j == 0 else 0.0 for r in table.rows if j < len(r.cells)]
        body = max([_width(c) + i for c, i in zip(cells, indent)] + [0.0])
        head = _width(table.header[j].text, bold=True) / (2 if len(table.header[j].text) > 14 else 1)
        w = max(body, head) + CELL_PAD_IN
        want.append(min(max(w, MIN_COL_IN), FIRST_MAX_IN) if j == 0 else max(w, MIN_COL_IN))
    total = sum(want)
    landscape = total > PORTRAIT_TEXT_IN
    room = LANDSCAPE_TEXT_IN if landscape else PORTRAIT_TEXT_IN
    if total > room:
        want = [w * room / total for w in want]
    return TableLayout(tuple(round(w, 3) for w in want), landscape)


def _blocks(sections: list[Section]):
    for s in sections:
        yield "section", s.title
        for b in s.blocks:
            yield "block", b


def _title_lines(title: str, prov) -> list[str]:
    lines = [f"Study: {prov.study}", f"Report date (data cutoff): {prov.date}", f"Analysis plan: {prov.plan}",
             f"cartalysis version {prov.version}"]
    if getattr(prov, "source", ""):
        lines.append(f"Source: {prov.source}")
    lines.append("Input files (SHA-256):")
    lines += [f"  {name}: {digest}" for name, digest in prov.checksums]
    return lines


# -- Word -------------------------------------------------------------------------------------------------------

def write_docx_document(title: str, sections: list[Section], prov, path: Path, when) -> Path:
    """``report.docx``: title page, then every section's tables, figures and notes in order."""
    from docx.enum.section import WD_ORIENT, WD_SECTION
    from docx.enum.text import WD_BREAK
    from docx.shared import Inches, Pt

    from cartalysis.report.render import _deterministic_zip, _new_docx

    doc = _new_docx(title, when)
    style = doc.styles["Normal"]
    style.font.name, style.font.size = FONT, Pt(10)
    _orient(doc.sections[0], False, WD_ORIENT, Inches)
    doc.add_heading(title, level=0)
    for line in _title_lines(title, prov):
        p = doc.add_paragraph(line)
        p.paragraph_format.space_after = Pt(2)
    doc.add_paragraph().add_run().add_break(WD_BREAK.PAGE)
    landscape = False
    for kind, b in _blocks(sections):
        if kind == "section":
            doc.add_heading(b, level=1).paragraph_format.keep_with_next = True
        elif isinstance(b, Table):
            lay = layout(b)
            if lay.landscape != landscape:
                landscape = lay.landscape
                _orient(doc.add_section(WD_SECTION.NEW_PAGE), landscape, WD_ORIENT, Inches)
            docx_table(doc, b, lay, Pt, Inches)
        elif isinstance(b, Figure):
            if landscape:
                landscape = False
                _orient(doc.add_section(WD_SECTION.NEW_PAGE), False, WD_ORIENT, Inches)
            _caption(doc, b.title)
            w, h = figure_size(b.png)
            doc.add_picture(io.BytesIO(b.png), width=Inches(w), height=Inches(h))
            if b.caption:
                doc.add_paragraph().add_run(b.caption).font.size = Pt(8)
        elif isinstance(b, (Note, NotAnalysed)):
            doc.add_paragraph(b.text)
    buf = io.BytesIO()
    doc.save(buf)
    path.write_bytes(_deterministic_zip(buf.getvalue()))
    return path


def _orient(section, landscape: bool, WD_ORIENT, Inches) -> None:
    long, short = Inches(11), Inches(8.5)
    section.orientation = WD_ORIENT.LANDSCAPE if landscape else WD_ORIENT.PORTRAIT
    section.page_width, section.page_height = (long, short) if landscape else (short, long)
    for side in ("left_margin", "right_margin", "top_margin", "bottom_margin"):
        setattr(section, side, Inches(1))


def _caption(doc, text: str) -> None:
    """A bold numbered caption kept on the page of what it introduces."""
    p = doc.add_paragraph()
    p.add_run(text).bold = True
    p.paragraph_format.keep_with_next = True


def docx_table(doc, table: Table, lay: TableLayout, Pt, Inches) -> None:
    """A captioned Word table with fitted column widths, indented levels, warnings and footnotes under it."""
    _caption(doc, table.title)
    t = doc.add_table(rows=1 + len(table.rows), cols=len(table.header))
    t.style = "Table Grid"
    t.autofit = False
    for j, w in enumerate(lay.widths):
        t.columns[j].width = Inches(w)
        for row in t.rows:
            row.cells[j].width = Inches(w)
    for j, c in enumerate(table.header):
        run = t.rows[0].cells[j].paragraphs[0].add_run(c.text)
        run.bold, run.font.size = True, Pt(SIZE)
    for i, r in enumerate(table.rows, start=1):
        for j, c in enumerate(r.cells):
            p = t.rows[i].cells[j].paragraphs[0]
            run = p.add_run(c.text)
            run.font.size = Pt(SIZE)
            if j == 0:
                p.paragraph_format.left_indent = Pt(10 * r.indent)
                run.bold = r.heading
    for f in table.notes_below():
        p = doc.add_paragraph()
        p.add_run(f).font.size = Pt(8)


# -- RTF --------------------------------------------------------------------------------------------------------

def write_rtf_document(title: str, sections: list[Section], prov, path: Path) -> Path:
    """``report.rtf``: the same content as the Word document, one rtflite document per table or figure (each in
    its own orientation) assembled into one file by rtflite's ``assemble_rtf``."""
    import rtflite as rf

    from cartalysis.report.render import rtf_table_document, rtf_escape

    with tempfile.TemporaryDirectory() as tmp:
        tmpdir = Path(tmp)
        parts: list[Path] = []

        def add(doc, stem: str) -> None:
            p = tmpdir / f"{len(parts):04d}_{stem}.rtf"
            p.write_text(doc.rtf_encode(), encoding="utf-8")
            parts.append(p)

        front = Table("title", title, (_cell(""),), tuple(_row(line) for line in _title_lines(title, prov)))
        add(rtf_table_document(front, (PORTRAIT_TEXT_IN,), False), "title")
        current = ""
        for kind, b in _blocks(sections):
            if kind == "section":
                current = b
            elif isinstance(b, Table):
                lay = layout(b)
                add(rtf_table_document(b, lay.widths, lay.landscape, section=current), b.key)
            elif isinstance(b, Figure):
                png = tmpdir / f"{b.key}.png"
                png.write_bytes(b.png)
                width, height = figure_size(b.png)
                doc = rf.RTFDocument(
                    rtf_page=rf.RTFPage(orientation="portrait"),
                    rtf_title=rf.RTFTitle(text=[rtf_escape(b.title)], text_convert=False),
                    rtf_figure=rf.RTFFigure(figures=str(png), fig_width=width, fig_height=height),
                    rtf_footnote=(rf.RTFFootnote(text=[rtf_escape(b.caption)], text_convert=False, as_table=False)
                                  if b.caption else None),
                )
                add(doc, b.key)
            elif isinstance(b, (Note, NotAnalysed)):
                note = Table("note", current, (_cell(""),), (_row(b.text),))
                add(rtf_table_document(note, (PORTRAIT_TEXT_IN,), False), "note")
        rf.assemble_rtf([str(p) for p in parts], str(path))
    return path


def _cell(text: str):
    from cartalysis.report.model import Cell

    return Cell(text)


def _row(text: str):
    from cartalysis.report.model import Row

    return Row((_cell(text),))


def figure_size(png: bytes) -> tuple[float, float]:
    """Printed width and height (inches) of a figure: the text width, or less for a tall figure so that it fits
    ``FIGURE_MAX_H_IN``; the aspect ratio from the PNG's IHDR chunk."""
    w, h = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
    width = PORTRAIT_TEXT_IN
    if width * h / w > FIGURE_MAX_H_IN:
        width = FIGURE_MAX_H_IN * w / h
    return round(width, 3), round(width * h / w, 3)
