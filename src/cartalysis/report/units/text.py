"""Free text as a grouping key and as part of a result id.

Sites spell the same adverse-event term or death cause differently ("Anemia", "anemia ", "ANAEMIA" are not all the
same, but the first two are): before grouping, text is put in Unicode NFC, stripped, inner whitespace collapsed and
compared case-insensitively (``str.casefold``); each group is shown in its most frequent spelling. Ids are readable
slugs, with a short hash only where the slug alone would be empty (non-Latin text) or shared by two different texts.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

import pandas as pd

from cartalysis.report import records as R


def normal(text: object) -> str:
    """NFC, stripped, whitespace runs as one space (the display form before choosing a spelling)."""
    return re.sub(r"\s+", " ", unicodedata.normalize("NFC", str(text))).strip()


def key(text: object) -> str:
    """The grouping key: ``normal`` text, case-folded."""
    return normal(text).casefold()


def canonical(values: pd.Series) -> pd.Series:
    """Each value replaced by the most frequent spelling of its group (ties: the lexically first); missing stays
    missing. Grouping by the result groups "Anemia", "anemia" and "Anemia " together."""
    ok = values.dropna().astype(str)
    if ok.empty:
        return values.astype(object)
    shown = ok.map(normal)
    keys = shown.map(str.casefold)
    counts = pd.DataFrame({"k": keys, "s": shown}).value_counts().reset_index(name="n")
    counts = counts.sort_values(["k", "n", "s"], ascending=[True, False, True]).drop_duplicates("k")
    spelling = dict(zip(counts["k"], counts["s"]))
    out = values.astype(object).copy()
    out[ok.index] = keys.map(spelling)
    return out


def _ascii(text: object) -> str:
    """Latin letters without their accents (``"Café"`` → ``"Cafe"``); other scripts drop out."""
    return unicodedata.normalize("NFKD", normal(text)).encode("ascii", "ignore").decode("ascii").strip()


def ids(texts) -> dict[str, str]:
    """An id component for each distinct text: ``R.slug`` when it is unique and not empty, else the slug (or
    ``text``) plus the first 8 hex digits of the SHA-1 of the grouping key. Unique and the same for the same set of
    texts."""
    texts = list(dict.fromkeys(texts))
    slugs = {t: R.slug(_ascii(t)) if _ascii(t) else "" for t in texts}
    shared = pd.Series(list(slugs.values())).value_counts()
    out = {}
    for t, s in slugs.items():
        plain = s and s != "missing" and shared[s] == 1
        if plain:
            out[t] = s
        else:
            h = hashlib.sha1(key(t).encode("utf-8")).hexdigest()[:8]
            out[t] = f"{(s if s and s != 'missing' else 'text')[:40]}_{h}"
    return out
