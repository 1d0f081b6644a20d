"""How a search hit is said to people and to programs: its place, its label, its JSON row, a moment's clock.

Kept apart from search, which decides what is found, so the front ends (UI, CLI, the LangChain
retriever) and the answer's citations say a hit the same way; it imports nothing at run time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from retrieval.search import SearchHit

MORE_FIELDS = ("page", "slide", "t0", "t1", "score", "id")  # what a JSON row says of another hit in its file


def clock(seconds: float) -> str:
    """1:05 or 1:02:05."""
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def place(hit: SearchHit) -> str:
    """Where in its file the hit is, as people say it: "page 3", "slide 2", "1:05"; "" for a whole file."""
    if hit.page is not None:
        return f"page {hit.page}"
    if hit.slide is not None:
        return f"slide {hit.slide}"
    if hit.t0 is not None:
        return clock(hit.t0)
    return ""


def label(hit: SearchHit, separator: str = " · ") -> str:
    """File name and place, e.g. "report.pdf · page 3", for buttons, headings and citations."""
    name = hit.payload.get("file_name") or hit.path.rsplit("/", 1)[-1]
    return separator.join(part for part in (name, place(hit)) if part)


def hit_json(hit: SearchHit) -> dict[str, Any]:
    """The stable, machine-readable shape printed by `omnidex search --json`."""
    row = {
        "path": hit.path,
        "file_type": hit.file_type,
        "modality": hit.modality,
        "page": hit.page,
        "slide": hit.slide,
        "t0": hit.t0,  # the moment to jump to; inside a transcript span, when the query's words are said
        "t1": hit.t1,
        "score": round(hit.score, 6),
        "snippet": hit.snippet,
        "tags": hit.payload.get("tags", []),
        "id": hit.id,
    }
    if hit.more:
        row["more"] = [{k: hit_json(m)[k] for k in MORE_FIELDS} for m in hit.more]
    return row
