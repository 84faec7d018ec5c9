"""Writers: one table to CSV, Word (python-docx) and RTF (rtflite); the whole report to one HTML file.

Outputs are byte-identical for identical content: CSV and RTF carry no
timestamps; the ``.docx`` zip is rewritten with fixed member dates and fixed
core properties (python-docx stamps the current time on both); the HTML
embeds the figures as base64 PNG and takes its date from the provenance.
"""

from __future__ import annotations

import base64
import csv
import datetime as dt
import html
import io
import zipfile
from dataclasses import dataclass
from pathlib import Path

from cartalysis.report.model import Figure, NotAnalysed, Note, Section, Table
from cartalysis.study.safe_output import neutralise

_FIXED_ZIP_DATE = (1980, 1, 1, 0, 0, 0)


# -- CSV ----------------------------------------------------------------------


def write_csv(table: Table, path: Path) -> Path:
    """The table as CSV; a cell a spreadsheet would run as a formula starts with ``'`` (``study/safe_output.py``)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerows([[neutralise(c) for c in row] for row in table.text_grid()])
    path.write_text(buf.getvalue(), encoding="utf-8")
    return path


# -- Word ---------------------------------------------------------------------


def _deterministic_zip(data: bytes) -> bytes:
    """Rewrite a zip with fixed member timestamps (python-docx uses the current time)."""
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            zi = zipfile.ZipInfo(info.filename, date_time=_FIXED_ZIP_DATE)
            zi.compress_type = zipfile.ZIP_DEFLATED
            zi.external_attr = 0o644 << 16
            dst.writestr(zi, src.read(info.filename))
    return out.getvalue()


def _new_docx(title: str, when: dt.datetime):
    import docx

    doc = docx.Document()
    cp = doc.core_properties
    cp.title = title
    cp.author = "cartalysis"
    cp.last_modified_by = "cartalysis"
    cp.created = when
    cp.modified = when
    cp.revision = 1
    return doc


def write_docx(table: Table, path: Path, when: dt.datetime) -> Path:
    """One table as a Word file, laid out as in the whole-report document (``document.layout``)."""
    from docx.shared import Inches, Pt

    from cartalysis.report.document import docx_table, layout

    doc = _new_docx(table.title, when)
    docx_table(doc, table, layout(table), Pt, Inches)
    buf = io.BytesIO()
    doc.save(buf)
    path.write_bytes(_deterministic_zip(buf.getvalue()))
    return path


# -- RTF ----------------------------------------------------------------------


def rtf_escape(text: str) -> str:
    """Text as RTF: ``\\``, ``{`` and ``}`` escaped, non-ASCII as ``\\uN?`` (signed 16-bit UTF-16 units, ``?`` the
    fallback for readers without Unicode), tab and newline as ``\\tab``/``\\line``, other control characters as
    U+FFFD.

    rtflite writes cell text verbatim (a ``{\\field ...}`` in an AE term would become a live hyperlink, a lone
    ``}`` corrupts the file) and its optional LaTeX conversion would rewrite ``\\alpha``; so text is escaped here
    and rtflite's ``text_convert`` is off.
    """
    out = []
    for ch in text:
        o = ord(ch)
        if ch in "\\{}":
            out.append("\\" + ch)
        elif ch == "\t":
            out.append("\\tab ")
        elif ch == "\n":
            out.append("\\line ")
        elif o < 0x20 or o == 0x7F:
            out.append("\\u-3?")  # U+FFFD REPLACEMENT CHARACTER
        elif o < 0x80:
            out.append(ch)
        else:
            units = ch.encode("utf-16-le")
            for k in range(0, len(units), 2):
                u = int.from_bytes(units[k:k + 2], "little")
                out.append(f"\\u{u - 0x10000 if u > 0x7FFF else u}?")
    return "".join(out)


def rtf_table_document(table: Table, widths, landscape: bool, section: str = ""):
    """One table as an rtflite document: title (with the section as a first line when given), column header,
    body with indented levels, warnings and footnotes; all text through ``rtf_escape``."""
    import polars as pl
    import rtflite as rf

    grid = [[rtf_escape(c.text) for c in r.cells] for r in table.rows]
    ncol = len(table.header)
    cols = [f"c{j}" for j in range(ncol)]
    df = pl.DataFrame({c: [row[j] for row in grid] for j, c in enumerate(cols)}, schema={c: pl.String for c in cols})
    widths = list(widths)
    just = ["l"] + ["c"] * (ncol - 1)
    indent = [[240 * r.indent] + [0] * (ncol - 1) for r in table.rows] or None
    title = ([rtf_escape(section)] if section else []) + [rtf_escape(table.title)]
    header = [c.text for c in table.header]
    return rf.RTFDocument(
        df=df,
        rtf_page=rf.RTFPage(orientation="landscape" if landscape else "portrait"),
        rtf_title=rf.RTFTitle(text=title, text_convert=False),
        rtf_column_header=([rf.RTFColumnHeader(text=[rtf_escape(h) for h in header], col_rel_width=widths,
                                               text_justification=just, text_convert=False)]
                           if any(header) else []),
        rtf_body=rf.RTFBody(col_rel_width=widths, text_justification=just, text_convert=False,
                            **({"text_indent_left": indent} if indent else {})),
        rtf_footnote=(rf.RTFFootnote(text=[rtf_escape(f) for f in table.notes_below()], text_convert=False)
                      if table.notes_below() else None),
    )


def write_rtf(table: Table, path: Path) -> Path:
    """An RTF table with title and footnotes through rtflite (r2rtf-compatible layout), columns fitted to content
    and landscape when wide (``document.layout``)."""
    from cartalysis.report.document import layout

    lay = layout(table)
    path.write_text(rtf_table_document(table, lay.widths, lay.landscape).rtf_encode(), encoding="utf-8")
    return path


# -- HTML ---------------------------------------------------------------------

_CSS = """
body{font-family:Georgia,'Times New Roman',serif;max-width:62rem;margin:2rem auto;padding:0 1rem;color:#111;line-height:1.4}
h1{font-size:1.7rem;margin-bottom:.2rem}h2{border-bottom:1px solid #999;margin-top:2.5rem}
nav ul{columns:2;list-style:none;padding-left:0}pre{white-space:pre-wrap;font-size:.8rem}table{border-collapse:collapse;min-width:34rem;margin:1rem 0 .3rem;font-size:.92rem}
caption{text-align:left;font-weight:bold;padding-bottom:.4rem}
th,td{padding:.2rem .7rem;text-align:center;vertical-align:top}
th{border-top:2px solid #111;border-bottom:1px solid #111}tbody tr:last-child td{border-bottom:2px solid #111}
td:first-child,th:first-child{text-align:left}td.i1{padding-left:1.8rem}td.i2{padding-left:3.2rem}tr.h td{font-weight:bold}
.fn{font-size:.8rem;color:#333;margin:.1rem 0}figure{margin:1.5rem 0}figure img{max-width:100%}
figcaption{font-size:.9rem}.note{font-style:italic;color:#444}dl.prov{font-size:.85rem}dl.prov dt{font-weight:bold}
dl.prov dd{margin-left:1rem;font-family:monospace;word-break:break-all}
.not-analysed{border-left:4px solid #999;padding:.3rem .7rem;background:#f4f4f4;color:#333}
.warning{border-left:4px solid #b35900;padding:.2rem .7rem;background:#fff4e5;color:#5c2e00;font-size:.9rem;margin:.2rem 0}
"""


@dataclass(frozen=True)
class Provenance:
    study: str
    version: str
    date: str  # ISO date of the report (data cutoff / SOURCE_DATE_EPOCH)
    plan: str  # the plan in force, as a name and its checksum or "built-in"
    plan_text: str  # the plan's settings, one per line
    checksums: tuple[tuple[str, str], ...]
    date_source: str = ""  # where the report date comes from (the plan's data cutoff, or the data's latest date)
    source: str = ""  # where the study came from when not a plain folder (a registry data lock)


def _e(s: str) -> str:
    return html.escape(s, quote=True)


def _html_table(t: Table) -> str:
    out = [f'<table id="{_e(t.key)}" class="results">', f"<caption>{_e(t.title)}</caption>", "<thead><tr>"]
    out += [f'<th data-ids="{_e(" ".join(c.ids))}">{_e(c.text)}</th>' for c in t.header]
    out.append("</tr></thead><tbody>")
    for r in t.rows:
        out.append('<tr class="h">' if r.heading else "<tr>")
        for j, c in enumerate(r.cells):
            cls = f' class="i{r.indent}"' if j == 0 and r.indent else ""
            out.append(f'<td{cls} data-ids="{_e(" ".join(c.ids))}">{_e(c.text)}</td>')
        out.append("</tr>")
    out.append("</tbody></table>")
    out += [f'<p class="warning">Warning: {_e(w)}</p>' for w in t.warnings]
    out += [f'<p class="fn">{_e(f)}</p>' for f in t.footnotes]
    return "\n".join(out)


def _html_figure(f: Figure) -> str:
    b64 = base64.b64encode(f.png).decode("ascii")
    cap = f"<b>{_e(f.title)}.</b> {_e(f.caption)}" if f.caption else f"<b>{_e(f.title)}.</b>"
    return (
        f'<figure id="{_e(f.key)}"><img alt="{_e(f.title)}" src="data:image/png;base64,{b64}">'
        f"<figcaption>{cap}</figcaption></figure>"
    )


def render_html(title: str, sections: list[Section], prov: Provenance) -> str:
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>",
        f"<header><h1>{_e(title)}</h1><p>Study: <b>{_e(prov.study)}</b> · report date {_e(prov.date)} · "
        f"cartalysis {_e(prov.version)}</p></header>",
        '<nav id="toc"><h2>Contents</h2><ul>',
    ]
    parts += [f'<li><a href="#{_e(s.key)}">{_e(s.title)}</a></li>' for s in sections]
    parts.append('<li><a href="#provenance">Analysis plan and provenance</a></li></ul></nav>')
    for s in sections:
        parts.append(f'<section id="{_e(s.key)}"><h2>{_e(s.title)}</h2>')
        for b in s.blocks:
            if isinstance(b, Table):
                parts.append(_html_table(b))
            elif isinstance(b, Figure):
                parts.append(_html_figure(b))
            elif isinstance(b, Note):
                parts.append(f'<p class="note">{_e(b.text)}</p>')
            elif isinstance(b, NotAnalysed):
                parts.append(f'<p class="not-analysed">{_e(b.text)}</p>')
        parts.append("</section>")
    parts.append('<section id="provenance"><h2>Analysis plan and provenance</h2><dl class="prov">')
    parts.append(f"<dt>cartalysis version</dt><dd>{_e(prov.version)}</dd>")
    source = f" ({_e(prov.date_source)})" if prov.date_source else ""
    parts.append(f"<dt>Report date</dt><dd>{_e(prov.date)}{source}</dd>")
    parts.append(f"<dt>Analysis plan</dt><dd>{_e(prov.plan)}</dd>")
    if prov.source:
        parts.append(f"<dt>Data source</dt><dd>{_e(prov.source)}</dd>")
    parts += [f"<dt>{_e(name)} (SHA-256)</dt><dd>{_e(sha)}</dd>" for name, sha in prov.checksums]
    parts.append("</dl>")
    parts.append(f'<h3>Plan in force</h3><pre class="plan">{_e(prov.plan_text)}</pre></section>')
    parts.append("</body></html>\n")
    return "\n".join(parts)
