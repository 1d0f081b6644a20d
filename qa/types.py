"""What an answer is made of: text with [n] markers, and the citations those markers point to."""

from __future__ import annotations

from dataclasses import dataclass

from retrieval.search import SearchHit

NOTHING_RETRIEVED = "I couldn't find anything about that in the indexed files."
NO_ANSWER = "I couldn't find an answer to that in the indexed files."


@dataclass(frozen=True)
class Citation:
    number: int  # 1-based, matches "[n]" markers in Answer.text
    hit: SearchHit  # where to open: path, page, slide or t0
    quote: str  # the passage or sentence(s) the answer relies on, plain text


@dataclass(frozen=True)
class Answer:
    question: str
    text: str  # plain text with [1], [2] markers; never HTML
    citations: list[Citation]
    found: bool  # False: nothing relevant was found, and the text says so instead of guessing
    generated: bool  # True when a language model wrote it, False for the extractive answer

    @classmethod
    def not_found(cls, question: str, text: str = NOTHING_RETRIEVED, generated: bool = False) -> Answer:
        return cls(question, text, [], found=False, generated=generated)

