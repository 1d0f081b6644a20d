"""Short, query-focused excerpts of long segments for result lists."""

from __future__ import annotations

import re
from functools import lru_cache

from encoders.bm25 import tokenize

_WORD = re.compile(r"\w+", re.UNICODE)


@lru_cache(maxsize=65536)
def _stems(word: str) -> frozenset[str]:
    """A word's BM25 terms; cached, since windows are cut from many segments on every reranked query."""
    return frozenset(tokenize(word))


def snippet(text: str, query: str, width: int = 240, marks: bool = True) -> str:
    """The window of about `width` characters holding the most query terms, cut at word boundaries."""
    flat = " ".join(text.split())
    if len(flat) <= width:
        return flat
    terms = set(tokenize(query))
    words = list(_WORD.finditer(flat))
    hits = [m.start() for m in words if terms and terms.intersection(_stems(m.group()))]
    if not hits:
        start = 0
    else:
        best_start, best_count = hits[0], 0
        for i, pos in enumerate(hits):
            count = sum(1 for h in hits[i:] if h < pos + width)
            if count > best_count:
                best_start, best_count = pos, count
        start = max(0, best_start - width // 6)
    end = min(len(flat), start + width)
    if start > 0:
        space = flat.find(" ", start)
        start = space + 1 if 0 <= space < end else start
    if end < len(flat):
        space = flat.rfind(" ", start, end)
        end = space if space > start else end
    if not marks:
        return flat[start:end]
    return ("… " if start > 0 else "") + flat[start:end] + (" …" if end < len(flat) else "")
