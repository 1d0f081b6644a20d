"""Cutting page text into segments that fit the text encoder's window.

Chunks are measured in the encoder's own tokens and split at paragraph,
line, sentence and word boundaries, in that order of preference, with a
small overlap so a sentence cut at a boundary is still found whole.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from langchain_text_splitters import RecursiveCharacterTextSplitter

_SPACES = re.compile(r"[ \t\u00a0]+")
_BLANK_LINES = re.compile(r"\n\s*\n+")


def normalise_whitespace(text: str) -> str:
    text = _SPACES.sub(" ", text.replace("\r", "\n"))
    text = _BLANK_LINES.sub("\n\n", text)
    return "\n".join(line.strip() for line in text.split("\n")).strip()


class TextChunker:
    def __init__(self, count_tokens: Callable[[str], int], chunk_tokens: int, overlap_tokens: int) -> None:
        self._splitter = RecursiveCharacterTextSplitter(
            chunk_size=chunk_tokens,
            chunk_overlap=overlap_tokens,
            length_function=count_tokens,
            separators=["\n\n", "\n", ". ", "? ", "! ", "; ", ", ", " ", ""],
            keep_separator="end",
        )

    def split(self, text: str) -> list[str]:
        text = normalise_whitespace(text)
        if not text:
            return []
        return [c.strip() for c in self._splitter.split_text(text) if c.strip()]
