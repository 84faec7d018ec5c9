"""A small RTF reader for tests: tokenises an RTF file, checks that braces balance, and returns the text of each
table cell (``\\cell``) and paragraph with escapes decoded (``\\\\``, ``\\{``, ``\\}``, ``\\uN?``, ``\\'hh``).

Written for the tests (rather than striprtf) because it must fail loudly: an unbalanced brace, a truncated
``\\u``, or a destination that would run code (``\\field``, ``\\object``) is an error, not text to skip.
"""

from __future__ import annotations

import re

_TOKEN = re.compile(r"\\([a-zA-Z]+)(-?\d+)? ?|\\'([0-9a-fA-F]{2})|\\([^a-zA-Z])|([{}])|([^\\{}]+)", re.S)
DANGEROUS = {"field", "fldinst", "fldrslt", "object", "objdata", "objclass", "pict", "result", "datafield"}


class RTFError(ValueError):
    pass


def read_rtf(text: str) -> tuple[list[str], set[str]]:
    """(texts of cells and paragraphs in order, control words used); raises ``RTFError`` if malformed."""
    if not text.startswith("{\\rtf1"):
        raise RTFError("does not start with {\\rtf1")
    depth, pos, skip_fallback = 0, 0, 0
    words: set[str] = set()
    pieces: list[str] = []
    current: list[str] = []
    units: list[int] = []  # pending UTF-16 code units of a surrogate pair
    ignorable = []  # per-group flag: inside \fonttbl, \colortbl, \* destinations: not visible text
    in_ignored = False

    def flush_units() -> None:
        if units:
            b = b"".join(u.to_bytes(2, "little") for u in units)
            current.append(b.decode("utf-16-le"))  # raises on a lone surrogate
            units.clear()

    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            raise RTFError(f"cannot tokenise at {pos}: {text[pos:pos + 20]!r}")
        pos = m.end()
        word, arg, hexbyte, sym, brace, plain = m.groups()
        if brace == "{":
            depth += 1
            ignorable.append(in_ignored)
            continue
        if brace == "}":
            depth -= 1
            if depth < 0:
                raise RTFError(f"unbalanced '}}' at {pos}")
            in_ignored = ignorable.pop()
            if depth == 0 and pos != len(text.rstrip()):
                raise RTFError("text after the closing brace of the document")
            continue
        if word is not None:
            words.add(word)
            if word in ("fonttbl", "colortbl", "stylesheet", "info"):
                in_ignored = True
            elif word == "u":
                n = int(arg)
                units.append(n + 0x10000 if n < 0 else n)
                if not 0xD800 <= units[-1] <= 0xDBFF:
                    flush_units()
                skip_fallback = 1
            elif word in ("cell", "par", "row"):
                flush_units()
                if word != "row" and not in_ignored:
                    pieces.append("".join(current))
                current.clear()
            elif word == "line":
                current.append("\n")
            elif word == "tab":
                current.append("\t")
            continue
        if sym is not None:
            if sym == "*":
                in_ignored = True
            elif sym in "\\{}" and not in_ignored:
                current.append(sym)
            continue
        if hexbyte is not None:
            if not in_ignored:
                current.append(bytes([int(hexbyte, 16)]).decode("cp1252", errors="replace"))
            continue
        if plain is not None and not in_ignored:
            chunk = plain.replace("\r", "").replace("\n", "")
            if skip_fallback and chunk:
                chunk, skip_fallback = chunk[1:], 0
            if chunk:
                flush_units()
                current.append(chunk)
    if depth != 0:
        raise RTFError(f"{depth} unclosed '{{'")
    if units:
        raise RTFError("truncated surrogate pair")
    return pieces, words
