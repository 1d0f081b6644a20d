"""The filters a person can put on a search, and their translation to store conditions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from store.base import Condition, DatetimeRange, Filter, MatchAny, MatchValue


@dataclass(frozen=True)
class SearchFilters:
    file_types: tuple[str, ...] = ()  # pdf, slides, image, audio, video
    path_prefix: str | None = None  # a folder: matches everything below it
    after: datetime | None = None  # on the segment's date (a message's when sent, else the file's created/modified)
    before: datetime | None = None
    tags: tuple[str, ...] = ()  # every tag must be present
    languages: tuple[str, ...] = ()  # any of these (spoken or written language)
    senders: tuple[str, ...] = ()  # e-mail from any of these (an address, its local part or domain, a name)
    subject_words: tuple[str, ...] = ()  # e-mail whose subject holds every one of these words

    def to_store_filter(self) -> Filter | None:
        must: list[Condition] = []
        if self.file_types:
            must.append(MatchAny("file_type", tuple(self.file_types)))
        if self.path_prefix:
            folder = str(Path(self.path_prefix).expanduser().resolve())
            must.append(MatchValue("dirs", folder))
        if self.after or self.before:
            must.append(DatetimeRange("date", gte=self.after, lte=self.before))
        must.extend(MatchValue("tags", tag) for tag in self.tags)
        if self.languages:
            must.append(MatchAny("language", tuple(self.languages)))
        if self.senders:
            must.append(MatchAny("sender_terms", tuple(self.senders)))
        must.extend(MatchValue("subject_terms", word) for word in self.subject_words)
        return Filter(must=tuple(must)) if must else None
