"""Free text with inline filters: `type:image after:2024-01-01 in:~/photos tag:cat lang:en sunset`.

E-mail has two more: `from:alice`, `from:alice@example.org`, `from:example.org`, `from:"Alice Smith"` (the
sender's address, its local part, its domain, the display name or a word of it; commas give alternatives) and
`subject:invoice` (every word named is in the subject). A message's date is when it was sent.

The UI, the CLI and the API all parse queries here, so the syntax means the
same everywhere. Unknown `word:value` pairs stay part of the text (a query
like "ratio 3:1" must still work).
"""

from __future__ import annotations

import calendar
import re
import shlex
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timezone

from core.errors import BadQuery
from core.schema import FileType, filter_term, word_terms
from retrieval.filters import SearchFilters

TYPE_ALIASES = {
    "pdf": FileType.PDF,
    "document": FileType.DOCUMENT, "doc": FileType.DOCUMENT, "docx": FileType.DOCUMENT, "word": FileType.DOCUMENT,
    "odt": FileType.DOCUMENT, "writer": FileType.DOCUMENT,
    "slides": FileType.SLIDES, "slide": FileType.SLIDES, "pptx": FileType.SLIDES, "deck": FileType.SLIDES,
    "odp": FileType.SLIDES, "presentation": FileType.SLIDES,
    "image": FileType.IMAGE, "photo": FileType.IMAGE, "picture": FileType.IMAGE, "img": FileType.IMAGE,
    "audio": FileType.AUDIO, "sound": FileType.AUDIO, "podcast": FileType.AUDIO,
    "video": FileType.VIDEO, "movie": FileType.VIDEO, "clip": FileType.VIDEO,
    "plaintext": FileType.PLAINTEXT, "txt": FileType.PLAINTEXT, "md": FileType.PLAINTEXT,
    "markdown": FileType.PLAINTEXT, "note": FileType.PLAINTEXT, "notes": FileType.PLAINTEXT,
    "html": FileType.HTML, "htm": FileType.HTML, "web": FileType.HTML, "webpage": FileType.HTML,
    "ebook": FileType.EBOOK, "epub": FileType.EBOOK, "book": FileType.EBOOK,
    "sheet": FileType.SHEET, "csv": FileType.SHEET, "tsv": FileType.SHEET, "table": FileType.SHEET,
    "xlsx": FileType.SHEET, "excel": FileType.SHEET, "ods": FileType.SHEET, "spreadsheet": FileType.SHEET,
    "workbook": FileType.SHEET,
    "mail": FileType.MAIL, "email": FileType.MAIL, "e-mail": FileType.MAIL, "eml": FileType.MAIL,
    "mbox": FileType.MAIL, "message": FileType.MAIL,
}

_FILTER = re.compile(r"^(type|after|before|in|tag|lang|from|subject):(.+)$", re.IGNORECASE)


class QuerySyntaxError(BadQuery):
    """A filter the user typed cannot be understood; the message says how to write it."""


@dataclass(frozen=True)
class ParsedQuery:
    text: str
    filters: SearchFilters


def parse_query(raw: str, base: SearchFilters = SearchFilters()) -> ParsedQuery:
    """Split inline filters from the words; filters add to those already chosen in `base` (sidebar, flags)."""
    try:
        tokens = shlex.split(raw, posix=True)
    except ValueError:  # an unbalanced quote: take the words as they are
        tokens = raw.split()
    words: list[str] = []
    types = list(base.file_types)
    tags = list(base.tags)
    languages = list(base.languages)
    senders, subject_words = list(base.senders), list(base.subject_words)
    folder, after, before = base.path_prefix, base.after, base.before
    for token in tokens:
        match = _FILTER.match(token)
        if not match:
            words.append(token)
            continue
        key, value = match.group(1).lower(), match.group(2)
        if key == "type":
            for name in value.lower().split(","):
                if name not in TYPE_ALIASES:
                    raise QuerySyntaxError(f"unknown type {name!r}: use one of {', '.join(t.value for t in FileType)}")
                types.append(TYPE_ALIASES[name].value)
        elif key == "after":
            after = _parse_date(value, end_of_day=False)
        elif key == "before":
            before = _parse_date(value, end_of_day=True)
        elif key == "in":
            folder = value
        elif key == "tag":
            tags.extend(t for t in value.split(",") if t)
        elif key == "lang":
            languages.extend(v.lower() for v in value.split(",") if v)
        elif key == "from":
            senders.extend(filter_term(v) for v in value.split(",") if v.strip())
        elif key == "subject":
            subject_words.extend(word_terms(value))
    filters = replace(base, file_types=tuple(dict.fromkeys(types)), path_prefix=folder, after=after,
                      before=before, tags=tuple(dict.fromkeys(tags)), languages=tuple(dict.fromkeys(languages)),
                      senders=tuple(dict.fromkeys(senders)), subject_words=tuple(dict.fromkeys(subject_words)))
    return ParsedQuery(" ".join(words), filters)


def _parse_date(value: str, end_of_day: bool) -> datetime:
    """YYYY, YYYY-MM or YYYY-MM-DD (or a full ISO timestamp); `before:` includes the whole period named."""
    try:
        if re.fullmatch(r"\d{4}", value):
            day = date(int(value), 12, 31) if end_of_day else date(int(value), 1, 1)
        elif re.fullmatch(r"\d{4}-\d{2}", value):
            year, month = map(int, value.split("-"))
            day = date(year, month, calendar.monthrange(year, month)[1] if end_of_day else 1)
        elif re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            day = date.fromisoformat(value)
        else:
            parsed = datetime.fromisoformat(value)
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
    except ValueError:
        raise QuerySyntaxError(f"cannot read the date {value!r}: write it as YYYY-MM-DD") from None
    return datetime.combine(day, time.max if end_of_day else time.min, tzinfo=timezone.utc)
