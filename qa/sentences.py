"""Cutting a passage into the sentences an extractive answer quotes.

Passages come from PDF pages, slides, OCR and transcripts, so line breaks are
mostly wrapping, sometimes structure (list items, headings, code). A break
counts as a boundary when the line before ends a sentence or clause, the next
line opens a list item, or the line before is a short one (a heading or the
last line of a paragraph); otherwise the lines are joined.
"""

from __future__ import annotations

import re

MIN_WORDS = 3  # shorter pieces ("See below.", "1.") are joined to a neighbour
MAX_CHARS = 400  # longer runs without punctuation (code, tables) are cut at a space
SHORT_LINE_SHARE = 0.6  # a line shorter than this share of the passage's longest line ends its block

# A sentence ends at . ! ? or … (closing quotes and brackets stay with it) before a space and a capital,
# digit or opening quote/bracket.
_SENTENCE_END = re.compile(r"[.!?\u2026]+[\"'\u201d\u2019)\]]*(?=\s+[\"'\u201c\u2018(\[]?[A-Z0-9])")
_LIST_ITEM = re.compile(r"^([-*\u2022\u00b7\u25aa\u2013]|\d{1,2}[.)]|[a-z][.)])\s")
_ENDS_CLAUSE = re.compile(r"[.!?:;\u2026][\"'\u201d\u2019)\]]*$")
_WORD_BEFORE = re.compile(r"(\w+)\W*$")
# Words that end with a period without ending the sentence; lower-cased, without the period.
ABBREVIATIONS = frozenset(
    "e.g i.e cf vs etc al approx fig figs no nos vol pp p mr mrs ms dr prof st jr sr inc ltd co corp dept "
    "jan feb mar apr jun jul aug sep sept oct nov dec".split()
)


def split_sentences(text: str) -> list[str]:
    """Sentences of `text` in reading order, whitespace collapsed; none shorter than MIN_WORDS unless alone."""
    pieces: list[str] = []
    for block in _blocks(text):
        pieces.extend(_cut_long(s) for s in _sentences(block))
    return _merge_short([p for group in pieces for p in group])


def _blocks(text: str) -> list[str]:
    """Structural units (paragraphs, list items, headings) with wrapped lines joined."""
    lines = [" ".join(line.split()) for line in text.replace("\r", "\n").split("\n")]
    longest = max((len(line) for line in lines), default=0)
    blocks: list[list[str]] = []
    previous = ""
    for line in lines:
        if not line:
            previous = ""
            continue
        starts_new = (not previous or _ENDS_CLAUSE.search(previous) or _LIST_ITEM.match(line)
                      or len(previous) < SHORT_LINE_SHARE * longest)
        if starts_new or not blocks:
            blocks.append([line])
        elif previous.endswith("-") and line[:1].islower():  # a word hyphenated at the line end
            blocks[-1][-1] = blocks[-1][-1][:-1] + line
        else:
            blocks[-1].append(line)
        previous = line
    return [" ".join(block) for block in blocks]


def _sentences(block: str) -> list[str]:
    sentences: list[str] = []
    start = 0
    for match in _SENTENCE_END.finditer(block):
        if match.group().startswith(".") and _is_abbreviation(block[start : match.start()]):
            continue
        sentences.append(block[start : match.end()].strip())
        start = match.end()
    sentences.append(block[start:].strip())
    return [s for s in sentences if s]


def _is_abbreviation(before: str) -> bool:
    """Whether the period after `before` belongs to an abbreviation or an initial ("J. Smith")."""
    word = _WORD_BEFORE.search(before)
    if word is None:
        return False
    token = word.group(1)
    if len(token) == 1 and token.isalpha():
        return True
    # "e.g." and "i.e.": the word before the last period is a letter preceded by a period.
    dotted = re.search(r"((?:\w\.)+\w)$", before)
    return token.lower() in ABBREVIATIONS or (dotted is not None and dotted.group(1).lower() in ABBREVIATIONS)


def _cut_long(sentence: str) -> list[str]:
    """Sentences over MAX_CHARS cut at spaces, so a quote stays readable and the cross-encoder sees all of it."""
    parts: list[str] = []
    while len(sentence) > MAX_CHARS:
        cut = sentence.rfind(" ", 0, MAX_CHARS)
        cut = cut if cut > MAX_CHARS // 2 else MAX_CHARS
        parts.append(sentence[:cut].strip())
        sentence = sentence[cut:].strip()
    if sentence:
        parts.append(sentence)
    return parts


def _merge_short(pieces: list[str]) -> list[str]:
    """Short pieces join a neighbour: a heading or label the sentence after it, a short sentence the one before."""
    merged: list[str] = []
    carry = ""
    for piece in pieces:
        piece = f"{carry} {piece}".strip() if carry else piece
        carry = ""
        if len(piece.split()) >= MIN_WORDS:
            merged.append(piece)
        elif _ENDS_CLAUSE.search(piece) and merged:
            merged[-1] = f"{merged[-1]} {piece}"
        else:
            carry = piece
    if carry:
        if merged:
            merged[-1] = f"{merged[-1]} {carry}"
        else:
            merged.append(carry)
    return merged
