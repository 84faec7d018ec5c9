"""A small row filter language for ``--where``, parsed by hand (never ``eval``).

Grammar (keywords are case-insensitive)::

    expr       := and_expr ("or" and_expr)*
    and_expr   := not_expr ("and" not_expr)*
    not_expr   := "not" not_expr | "(" expr ")" | comparison
    comparison := COLUMN OP value | COLUMN ["not"] "in" "(" value ("," value)* ")"
    OP         := "==" | "!=" | "<" | "<=" | ">" | ">="
    value      := "text" | 'text' | number

A quoted value compares the cell's text (``<``/``>`` compare text, which orders ISO dates correctly); a number
compares the cell as a number, and a cell that is not a number is an error located at its row. A missing cell
satisfies only ``!=`` and ``not in`` (as in pandas and SAS ``where``). Errors are ``WhereError`` with the
character position in the expression.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd


class WhereError(Exception):
    """The expression cannot be parsed or applied; the message says where (``row``/``column`` for a data cell)."""

    def __init__(self, message: str, row: object = None, column: str | None = None):
        super().__init__(message)
        self.row, self.column = row, column


@dataclass(frozen=True)
class Compare:
    column: str
    op: str
    values: tuple[str | float, ...]  # one value, or the list of ``in``/``not in``


@dataclass(frozen=True)
class Not:
    operand: Node


@dataclass(frozen=True)
class Both:
    """``and`` (all) or ``or`` (any) of two or more operands."""

    op: str
    operands: tuple[Node, ...]


Node = Compare | Not | Both

_TOKEN = re.compile(r"""\s*(?:
    (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
  | (?P<number>[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
  | (?P<op>==|!=|<=|>=|<|>)
  | (?P<punct>[(),])
  | (?P<name>[A-Za-z_][A-Za-z0-9_.]*)
  | (?P<bad>\S)
)""", re.VERBOSE)
_KEYWORDS = {"and", "or", "not", "in"}


@dataclass(frozen=True)
class _Tok:
    kind: str
    text: str
    pos: int  # 1-based character position in the expression


def _tokens(expr: str) -> list[_Tok]:
    out, i = [], 0
    while i < len(expr):
        m = _TOKEN.match(expr, i)
        if m is None or m.lastgroup is None:  # only trailing white space is left
            break
        kind, text, pos = m.lastgroup, m.group(m.lastgroup), m.start(m.lastgroup) + 1
        if kind == "bad":
            hint = "; use == to compare" if text == "=" else ("; quote text with \" or '" if text in "\"'" else "")
            raise WhereError(f"character {pos}: unexpected {text!r}{hint}")
        if kind == "name" and text.lower() in _KEYWORDS:
            kind, text = "keyword", text.lower()
        out.append(_Tok(kind, text, pos))
        i = m.end()
    return out


def parse(expr: str) -> Node:
    """Parse ``expr`` into a tree of ``Compare``/``Not``/``Both``; ``WhereError`` when it is not valid."""
    toks = _tokens(expr)
    if not toks:
        raise WhereError("the expression is empty")
    parser = _Parser(toks, len(expr) + 1)
    node = parser.expr()
    if parser.i < len(toks):
        t = toks[parser.i]
        raise WhereError(f"character {t.pos}: unexpected {t.text!r} (an 'and' or 'or' may be missing)")
    return node


class _Parser:
    def __init__(self, toks: list[_Tok], end: int):
        self.toks, self.i, self.end = toks, 0, end

    def peek(self) -> _Tok | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self, kind: str, text: str | None = None, what: str = "") -> _Tok:
        t = self.peek()
        if t is None or t.kind != kind or (text is not None and t.text != text):
            where = f"character {t.pos}: found {t.text!r}" if t else f"character {self.end}: the expression ends"
            raise WhereError(f"{where}, expected {what or text or kind}")
        self.i += 1
        return t

    def at(self, kind: str, text: str) -> bool:
        t = self.peek()
        return t is not None and t.kind == kind and t.text == text

    def expr(self) -> Node:
        return self._chain("or", self.and_expr)

    def and_expr(self) -> Node:
        return self._chain("and", self.not_expr)

    def _chain(self, op: str, operand) -> Node:
        parts = [operand()]
        while self.at("keyword", op):
            self.i += 1
            parts.append(operand())
        return parts[0] if len(parts) == 1 else Both(op, tuple(parts))

    def not_expr(self) -> Node:
        if self.at("keyword", "not"):
            self.i += 1
            return Not(self.not_expr())
        if self.at("punct", "("):
            self.i += 1
            node = self.expr()
            self.take("punct", ")", "')'")
            return node
        return self.comparison()

    def comparison(self) -> Compare:
        column = self.take("name", what="a column name").text
        if self.at("keyword", "not") or self.at("keyword", "in"):
            negated = self.at("keyword", "not")
            self.i += negated
            self.take("keyword", "in", "'in'")
            self.take("punct", "(", "'(' after 'in'")
            values = [self.value()]
            while self.at("punct", ","):
                self.i += 1
                values.append(self.value())
            self.take("punct", ")", "')' or ','")
            return Compare(column, "not in" if negated else "in", tuple(values))
        op = self.take("op", what="a comparison (==, !=, <, <=, >, >=, in)").text
        return Compare(column, op, (self.value(),))

    def value(self) -> str | float:
        t = self.peek()
        if t is not None and t.kind == "string":
            self.i += 1
            return re.sub(r"\\(.)", r"\1", t.text[1:-1])
        if t is not None and t.kind == "number":
            self.i += 1
            return float(t.text)
        where = f"character {t.pos}: found {t.text!r}" if t else f"character {self.end}: the expression ends"
        hint = " (quote text values)" if t is not None and t.kind == "name" else ""
        raise WhereError(f"{where}, expected a value{hint}")


def columns(node: Node) -> list[str]:
    """The columns an expression uses, in order of first use."""
    if isinstance(node, Compare):
        return [node.column]
    parts = [node.operand] if isinstance(node, Not) else list(node.operands)
    return list(dict.fromkeys(c for p in parts for c in columns(p)))


def evaluate(node: Node, frame: pd.DataFrame) -> np.ndarray:
    """Boolean mask of the rows of ``frame`` (text cells, NaN = missing) that satisfy ``node``.

    Raises ``WhereError`` for a column not in ``frame`` or a non-number cell compared with a number; the message
    names the row by ``frame``'s index.
    """
    if isinstance(node, Not):
        return ~evaluate(node.operand, frame)
    if isinstance(node, Both):
        masks = [evaluate(p, frame) for p in node.operands]
        return np.logical_and.reduce(masks) if node.op == "and" else np.logical_or.reduce(masks)
    if node.column not in frame.columns:
        raise WhereError(f"column {node.column!r} not found (columns: {', '.join(map(str, frame.columns))})")
    cells = frame[node.column]
    missing = cells.isna().to_numpy()
    text = cells.fillna("").astype(str).str.strip().to_numpy(dtype=object)
    numeric = [isinstance(v, float) for v in node.values]
    if any(numeric) and not all(numeric):
        raise WhereError(f"the values compared with {node.column} mix numbers and quoted text")
    if any(numeric):
        x = pd.to_numeric(pd.Series(text), errors="coerce").to_numpy(dtype=float)
        bad = ~missing & np.isnan(x)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise WhereError(f"{text[i]!r} is not a number, but the expression compares {node.column} with a number "
                             f"(quote the value to compare text)", frame.index[i], node.column)
        cells_cmp = np.where(missing, np.nan, x)
    else:
        cells_cmp = text
    if node.op in ("in", "not in"):
        hit = np.logical_or.reduce([_op("==", cells_cmp, v) for v in node.values]) & ~missing
        return ~hit if node.op == "not in" else hit
    result = _op(node.op, cells_cmp, node.values[0])
    return (result | missing) if node.op == "!=" else (result & ~missing)


def _op(op: str, cells: np.ndarray, value: str | float) -> np.ndarray:
    """Element-wise comparison of cells (floats, or text objects) with one value of the same kind."""
    with np.errstate(invalid="ignore"):
        result = {"==": cells == value, "!=": cells != value, "<": cells < value, "<=": cells <= value,
                  ">": cells > value, ">=": cells >= value}[op]
    return np.asarray(result, dtype=bool)
