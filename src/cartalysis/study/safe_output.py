"""Spreadsheet-safe text for every CSV or XLSX cartalysis writes (CSV/formula injection, OWASP).

A spreadsheet opening a CSV runs a cell that starts with ``=``, ``+``, ``-`` or ``@`` as a formula
(``=HYPERLINK(...)`` exfiltrates data, ``+cmd|' /C calc'!A0`` runs a program under DDE), and tab or carriage
return at the start lets a cell shift into such a formula. OWASP's recommendation
(https://owasp.org/www-community/attacks/CSV_Injection) is to prefix such a cell with a single quote, which
spreadsheets show as text and do not evaluate. Numbers are left as numbers: ``-1.5`` or ``+3`` is data, not a
formula, and is only neutralised when it is not a plain number. The quote stays visible in a text editor; the
README explains why a cell may start with ``'``.
"""

from __future__ import annotations

import re

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?((\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?|inf|nan)", re.IGNORECASE)


def neutralise(text: str) -> str:
    """``text`` prefixed with ``'`` when a spreadsheet would run it as a formula; any other text unchanged."""
    if text.startswith(FORMULA_START) and not _NUMBER.fullmatch(text):
        return "'" + text
    return text


def neutralise_cell(value: object) -> object:
    """``neutralise`` for text; numbers, dates and missing values unchanged."""
    return neutralise(value) if isinstance(value, str) else value
