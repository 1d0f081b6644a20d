"""Cutting page text into segments that fit the text encoder's window.

Chunks are measured in the encoder's own tokens and split at paragraph,
line, sentence and word boundaries, in that order of preference, with a
small overlap so a sentence cut at a boundary is still found whole.

Each chunk can also carry its context window: the stretch of the same page
or document, as long as the encoder reads at once, that holds it. A short
chunk of code says little alone; embedded beside its window, it is found by
what the whole answer says, while a hit still deep-links to the chunk.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from langchain_text_splitters import RecursiveCharacterTextSplitter

_SPACES = re.compile(r"[ \t\u00a0]+")
_BLANK_LINES = re.compile(r"\n\s*\n+")


def normalise_whitespace(text: str) -> str:
    text = _SPACES.sub(" ", text.replace("\r", "\n"))
    text = _BLANK_LINES.sub("\n\n", text)
    return "\n".join(line.strip() for line in text.split("\n")).strip()


_SEPARATORS = ["\n\n", "\n", ". ", "? ", "! ", "; ", ", ", " ", ""]


@dataclass(frozen=True)
class Chunk:
    text: str
    window: str | None = None  # the context window holding it, when that window holds more than this chunk
    span: tuple[int, int] | None = None  # where in the window it lies (its part there, if it straddles two)


class TextChunker:
    def __init__(self, count_tokens: Callable[[str], int], chunk_tokens: int, overlap_tokens: int,
                 window_tokens: int = 0) -> None:
        """`window_tokens` 0: chunks carry no context window."""
        self.count_tokens = count_tokens  # the encoder's own count, for extractors that cut text themselves
        self.chunk_tokens = chunk_tokens
        self._splitter = _splitter(count_tokens, chunk_tokens, overlap_tokens)
        self._windows = _splitter(count_tokens, window_tokens, 0) if window_tokens > chunk_tokens else None

    def split(self, text: str) -> list[str]:
        return [c.text for c in self.chunks(text, with_windows=False)]

    def chunks(self, text: str, with_windows: bool = True) -> list[Chunk]:
        text = normalise_whitespace(text)
        if not text:
            return []
        chunks = [c.strip() for c in self._splitter.split_text(text) if c.strip()]
        if not with_windows or self._windows is None or len(chunks) < 2:
            return [Chunk(c) for c in chunks]
        windows = [w.strip() for w in self._windows.split_text(text) if w.strip()]
        window_spans = list(_spans(text, windows))
        placed = []
        best = 0
        for chunk, (start, end) in zip(chunks, _spans(text, chunks)):
            # The window holding most of the chunk. Chunks and windows both run in text order, so it never
            # lies before the previous chunk's: one walk over the windows, not one per chunk.
            def held(i: int) -> int:
                return min(end, window_spans[i][1]) - max(start, window_spans[i][0])

            while best + 1 < len(windows) and (window_spans[best][1] <= start or held(best + 1) > held(best)):
                best += 1
            # A window that is the chunk itself adds nothing.
            if windows[best] == chunk:
                placed.append(Chunk(chunk))
                continue
            left, right = window_spans[best]
            placed.append(Chunk(chunk, windows[best], (max(start, left) - left, min(end, right) - left)))
        return placed


def _splitter(count_tokens: Callable[[str], int], size: int, overlap: int) -> RecursiveCharacterTextSplitter:
    return RecursiveCharacterTextSplitter(chunk_size=max(size, 1), chunk_overlap=overlap, length_function=count_tokens,
                                          separators=_SEPARATORS, keep_separator="end")


def _spans(text: str, pieces: list[str]) -> Iterator[tuple[int, int]]:
    """Where each piece (in order, perhaps overlapping the one before) lies in the text."""
    cursor = 0
    for piece in pieces:
        start = text.find(piece, cursor)
        if start < 0:  # the splitter changed the piece (it should not): place it after the last one
            start = cursor
        yield start, start + len(piece)
        cursor = start + 1
