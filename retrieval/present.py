"""How a search hit is said to people and to programs: its place, its label, its JSON row, a moment's clock.

Kept apart from search, which decides what is found, so the front ends (UI, CLI, the LangChain
retriever) and the answer's citations say a hit the same way; it imports nothing at run time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from retrieval.search import SearchHit

MORE_FIELDS = ("page", "slide", "lines", "rows", "sheet", "t0", "t1", "mail", "score", "id")  # what a JSON row says of another hit in its file


def clock(seconds: float) -> str:
    """1:05 or 1:02:05."""
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def place(hit: SearchHit) -> str:
    """Where in its file the hit is, as people say it: "page 3", "slide 2", "1:05", "Install, lines 12-40"
    (a text file's section heading and lines), "Budget, page 4" (a word processor document's section and page),
    "Installation" (a web page's section), "Farms, rows 2-40" (a workbook's sheet and rows), "Chapter 2, The
    storm" (an e-book's chapter and section; its reflowed page only where its contents list none), "message 12,
    report.pdf, page 2" (a mailbox's message and an attachment's place in it); "" for a whole file."""
    if hit.payload.get("message") is not None:
        many = hit.payload.get("message_count", 1) != 1
        parts = [f"message {hit.payload['message']}" if many else "", hit.payload.get("attachment") or "",
                 _place_in_file(hit)]
        return ", ".join(part for part in parts if part)
    return _place_in_file(hit)


def mail(hit: SearchHit) -> dict[str, Any] | None:
    """An e-mail hit's message: subject, sender, when it was sent, Message-ID, its number in the file, and the
    attachment the hit was read from (with the message it belongs to); None for a hit in any other file."""
    if hit.payload.get("message") is None:
        return None
    return {key: hit.payload.get(key) for key in ("subject", "sender", "sent", "message_id", "message",
                                                   "attachment", "attachment_of")}


def mail_line(hit: SearchHit) -> str:
    """ "Budget for 2025 · Alice Smith <alice@example.org> · 2024-03-05" for an e-mail hit; "" for any other."""
    message = mail(hit)
    if message is None:
        return ""
    sent = (message["sent"] or "")[:10]
    return " · ".join(str(part) for part in (message["subject"] or "(no subject)", message["sender"], sent) if part)


def _place_in_file(hit: SearchHit) -> str:
    if chapter := hit.payload.get("chapter"):
        section = hit.payload.get("section")
        return f"{chapter}, {section}" if section and section != chapter else chapter
    if hit.page is not None:  # a Word or OpenDocument text's section, where it has one, and its page
        return f"{section}, page {hit.page}" if (section := hit.payload.get("section")) else f"page {hit.page}"
    if hit.slide is not None:
        return f"slide {hit.slide}"
    if hit.t0 is not None:
        return clock(hit.t0)
    if (span := lines(hit)) is not None:
        said = f"line {span[0]}" if span[0] == span[1] else f"lines {span[0]}-{span[1]}"
        section = hit.payload.get("section")
        return f"{section}, {said}" if section else said
    if (span := rows(hit)) is not None:  # a workbook's also says its sheet
        said = f"row {span[0]}" if span[0] == span[1] else f"rows {span[0]}-{span[1]}"
        return f"{sheet}, {said}" if (sheet := hit.payload.get("sheet")) else said
    return hit.payload.get("section") or ""  # a web page's section, opened at its anchor


def lines(hit: SearchHit) -> list[int] | None:
    """A text file's hit: its first and last line (1-based); None for any other."""
    start, end = hit.payload.get("line_start"), hit.payload.get("line_end")
    return None if start is None else [start, end if end is not None else start]


def rows(hit: SearchHit) -> list[int] | None:
    """A table's hit: its first and last row (1-based, the header being row 1); None for any other."""
    start, end = hit.payload.get("row_start"), hit.payload.get("row_end")
    return None if start is None else [start, end if end is not None else start]


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
        "lines": lines(hit),  # a text file's first and last line
        "rows": rows(hit),  # a table's first and last row
        "sheet": hit.payload.get("sheet"),  # and a workbook's sheet they are on
        "section": hit.payload.get("section"),  # and the heading of its section (a text file's or a web page's)
        "anchor": hit.payload.get("anchor"),  # a web page's section: path#anchor opens the page there
        "chapter": hit.payload.get("chapter"),  # an e-book's chapter (its page is of the reflowed book)
        "mail": mail(hit),  # an e-mail's message: subject, sender, sent, message_id, message, attachment(_of)
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
