"""Omnidex: self-hosted multimodal search over PDFs, slides, images, audio and video.

The front ends (the CLI, the browser UI) come through this one door: the facade `Omnidex` and the few types
and helpers they hand to it or read from it. Each name is imported on first use, so `omnidex --help`
loads no model, PDF or video library.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# name -> module it lives in
_EXPORTS = {
    "Omnidex": "omnidex.service",
    "InvalidRequest": "omnidex.service",
    "MAX_LIMIT": "omnidex.service",
    "SearchResults": "omnidex.service",
    "words_only_notice": "omnidex.service",
    "Settings": "core.config",
    "FileType": "core.schema",
    "Modality": "core.schema",
    "SearchFilters": "retrieval.filters",
    "SearchHit": "retrieval.search",
    "SearchMode": "retrieval.search",
    "place": "retrieval.present",
    "label": "retrieval.present",
    "hit_json": "retrieval.present",
    "clock": "retrieval.present",
    "mail_line": "retrieval.present",
    "parse_query": "retrieval.query",
    "Progress": "ingest.report",
    "IngestReport": "ingest.report",
    "FileOutcome": "ingest.report",
    "shown_path_bytes": "ingest.report",
    "EXTENSIONS": "ingest.files",
    "content_hash": "ingest.files",  # a file's identity: whether it is still the indexed asset
    "INDEXED": "ingest.catalog",  # a file's status in Omnidex.files()
    "FAILED": "ingest.catalog",
    "WORDS": "ingest.catalog",  # read and searchable by its words; its meaning follows
    "over_size_limit": "ingest.limits",
    "Watcher": "ingest.watch",
    "tokenize": "encoders.bm25",
    "Answer": "qa.types",
    "evaluate": "omnidex.evaluation",
    "is_media_set": "omnidex.evaluation",
    "display": "core.paths",
    "escape_controls": "core.paths",
    "readable": "core.paths",
    "is_clean": "core.paths",
    "raw_bytes_hex": "core.paths",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'omnidex' has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value  # found directly from now on
    return value
