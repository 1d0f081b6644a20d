"""The two nouns of Omnidex: an Asset (one source file) and its Segments (what is indexed and returned)."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from pathlib import Path
from typing import Any

import numpy as np


@dataclass(frozen=True)
class SparseVector:
    """A bag of weighted terms (BM25): term ids and their weights."""

    indices: list[int]
    values: list[float]


class PayloadType(str, Enum):
    """How a payload field is indexed for filters and facets."""

    KEYWORD = "keyword"
    INTEGER = "integer"
    FLOAT = "float"
    BOOL = "bool"
    DATETIME = "datetime"


# Fixed namespace: point ids must be the same on every machine and every run.
POINT_NAMESPACE = uuid.UUID("6f1c3a0e-8b9d-4c52-a2f7-0d4e9b1c7a31")


class FileType(str, Enum):
    """What the user filters on (`--type pdf`)."""

    PDF = "pdf"
    SLIDES = "slides"  # a deck: PowerPoint .pptx, OpenDocument .odp
    IMAGE = "image"
    AUDIO = "audio"
    VIDEO = "video"
    PLAINTEXT = "plaintext"  # a text file: .txt, Markdown (sections by heading, places by line)
    HTML = "html"  # a saved web page: its main text, sections by heading, each linked by its anchor
    EBOOK = "ebook"  # an EPUB: pages of the reflowed book, placed by chapter and section
    SHEET = "sheet"  # a table (CSV, TSV) or a workbook's sheets (.xlsx, .ods): runs of rows under the header row
    DOCUMENT = "document"  # a word processor's (Word .docx, OpenDocument .odt): sections by heading, with pages
    MAIL = "mail"  # e-mail: one message (.eml) or a mailbox of many (.mbox), placed by message, attachments too
    TEXT = "text"  # plain-text documents without a file (evaluation corpora, API input)


class Modality(str, Enum):
    """What a segment is made of; scores are calibrated per modality."""

    TEXT = "text"  # a text-layer chunk of a page or slide
    OCR = "ocr"
    IMAGE = "image"
    FRAME = "frame"
    TRANSCRIPT = "transcript"
    SOUND = "sound"


@dataclass(frozen=True)
class Asset:
    path: Path
    asset_id: str  # content hash
    file_type: FileType
    mime: str
    size: int
    modified: datetime


@dataclass
class Segment:
    """One indexable piece; its locator is unique within its asset and stable across runs."""

    locator: str
    modality: Modality
    text: str
    page: int | None = None
    slide: int | None = None
    t0: float | None = None
    t1: float | None = None
    # A text file's place, as a page is a PDF's: the first and last line (1-based) the segment was read from,
    # and the heading of the section it lies in (None before the first heading and in plain text).
    lines: tuple[int, int] | None = None
    section: str | None = None
    rows: tuple[int, int] | None = None  # a table's first and last row (1-based, the header being row 1)
    extra: dict[str, Any] = field(default_factory=dict)
    # Set by extractors whose segments are not plain text: a vector already in
    # the text space (ConSE), a CLIP-family image vector, a JPEG thumbnail.
    vector: np.ndarray | None = field(default=None, repr=False)
    clip: np.ndarray | None = field(default=None, repr=False)
    thumbnail: bytes | None = field(default=None, repr=False)
    # A text chunk's context window (ingest/chunking.py) and, once embedded, its vector.
    context: str | None = field(default=None, repr=False)
    context_span: tuple[int, int] | None = field(default=None, repr=False)  # the chunk's place in its window
    context_vector: np.ndarray | None = field(default=None, repr=False)
    # What a picture's or sound's vector was made from, kept so `omnidex adapt` can remake it with another
    # projection without reading the file again: the classifier's pooled features, the ConSE vector, and
    # the embedding of the words read in a picture (blended in with extra["ocr_weight"]).
    features: np.ndarray | None = field(default=None, repr=False)
    conse: np.ndarray | None = field(default=None, repr=False)
    ocr_vector: np.ndarray | None = field(default=None, repr=False)


# Kept vectors (store/base.py Schema.kept), never searched: what a picture's or sound's searched vector
# was made from (Segment.features, .conse, .ocr_vector).
PICTURE_FEATURES, SOUND_FEATURES, CONSE_VECTOR, OCR_VECTOR = "picture_features", "sound_features", "conse", "ocr"


def features_vector(modality: Modality) -> str:
    """The kept vector a segment's classifier features go in: sounds and pictures come from different models."""
    return SOUND_FEATURES if modality is Modality.SOUND else PICTURE_FEATURES


def point_id(asset_id: str, locator: str) -> str:
    return str(uuid.uuid5(POINT_NAMESPACE, f"{asset_id}:{locator}"))


def ancestor_dirs(path: Path) -> list[str]:
    """Every folder above a file, so a keyword match on one of them is a path-prefix filter."""
    return [str(p) for p in path.resolve().parents]


def segment_payload(asset: Asset, info: dict[str, Any], segment: Segment) -> dict[str, Any]:
    """Everything filters and the UI need, stored beside the segment's vectors."""
    payload: dict[str, Any] = {
        "asset_id": asset.asset_id,
        "locator": segment.locator,
        "path": str(asset.path),
        "file_name": asset.path.name,
        "dirs": ancestor_dirs(asset.path),
        "file_type": asset.file_type.value,
        "mime": asset.mime,
        "size": asset.size,
        "modified": asset.modified.isoformat(),
        "modality": segment.modality.value,
        "text": segment.text,
    }
    payload.update(info)
    # The one date people filter on: when the content was made, else when the file last changed.
    payload["date"] = info.get("created") or payload["modified"]
    for key in ("page", "slide", "t0", "t1"):
        value = getattr(segment, key)
        if value is not None:
            payload[key] = value
    if segment.lines is not None:
        payload["line_start"], payload["line_end"] = segment.lines
    if segment.section is not None:
        payload["section"] = segment.section
    if segment.rows is not None:
        payload["row_start"], payload["row_end"] = segment.rows
    tags = [*info.get("tags", []), *segment.extra.get("tags", [])]
    payload.update(segment.extra)
    if tags:  # asset tags (user's, EXIF keywords) and the segment's own (labels) both count
        payload["tags"] = list(dict.fromkeys(tags))
    return payload


# Payload fields that filters and facets use; everything else is display data.
PAYLOAD_INDEXES: dict[str, PayloadType] = {
    "asset_id": PayloadType.KEYWORD,
    "path": PayloadType.KEYWORD,
    "dirs": PayloadType.KEYWORD,
    "file_type": PayloadType.KEYWORD,
    "modality": PayloadType.KEYWORD,
    "mime": PayloadType.KEYWORD,
    "tags": PayloadType.KEYWORD,
    "language": PayloadType.KEYWORD,
    "page": PayloadType.INTEGER,
    "modified": PayloadType.DATETIME,
    "created": PayloadType.DATETIME,
    "date": PayloadType.DATETIME,
    "sender_terms": PayloadType.KEYWORD,  # a message's sender, as `from:` matches it (filter_terms, address_terms)
    "subject_terms": PayloadType.KEYWORD,  # the words of its subject, as `subject:` matches them
}


def filter_term(value: str) -> str:
    """A word or name as keyword filters compare it: lower case, runs of spaces as one."""
    return " ".join(value.lower().split())


def word_terms(text: str) -> list[str]:
    """The words of a subject line, each once, as `subject:` matches them."""
    return list(dict.fromkeys(re.findall(r"[^\W_]+", text.lower())))


def address_terms(name: str, address: str) -> list[str]:
    """What `from:` may name a sender by: the whole address, its local part, its domain and the domains above
    that (down to two labels), the display name and each of its words."""
    terms: list[str] = []
    address = filter_term(address)
    if address:
        terms.append(address)
        local, _, domain = address.rpartition("@")
        if local:
            terms.append(local)
            labels = domain.split(".")
            terms.extend(".".join(labels[n:]) for n in range(max(len(labels) - 1, 1)))
    name = filter_term(name)
    if name:
        terms.append(name)
        terms.extend(re.findall(r"[^\W_]+(?:[-'.][^\W_]+)*", name))
    return list(dict.fromkeys(t for t in terms if t))

