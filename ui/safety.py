"""What the UI shows and serves comes from people's files: render it as text, and serve only indexed files.

Extracted text can hold anything a document author typed, Markdown and HTML included;
file paths in a session or a link can be edited by whoever holds the browser.
"""

from __future__ import annotations

import hashlib
import re
import string
from pathlib import Path

from encoders.bm25 import tokenize
from ingest.catalog import INDEXED, Catalog

MAX_UPLOAD_MB = 200  # also server.maxUploadSize in .streamlit/config.toml; checked again in code
_MARKDOWN_SPECIAL = re.compile("([" + re.escape(string.punctuation) + "])")
_WORD = re.compile(r"\w+", re.UNICODE)
_UNSAFE_NAME = re.compile(r"[^\w.\- ]+", re.UNICODE)


def escape_markdown(text: str) -> str:
    """Text that st.markdown shows exactly as written: every ASCII punctuation mark is backslash-escaped
    (CommonMark allows it for all of them), so no link, image, HTML tag, LaTeX or colour directive
    survives; line breaks become spaces so a document cannot start a heading or a table."""
    return _escape(" ".join(text.split()))


def _escape(text: str) -> str:
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text)


def highlight(text: str, query: str) -> str:
    """Escaped Markdown of `text` with the words that match the query (after stemming) in bold."""
    terms = set(tokenize(query))
    flat = " ".join(text.split())
    if not terms:
        return escape_markdown(flat)
    parts: list[str] = []
    last = 0
    for match in _WORD.finditer(flat):
        if terms.intersection(tokenize(match.group())):
            parts.append(_escape(flat[last:match.start()]))  # keeps the spaces around the match
            parts.append(f"**{_escape(match.group())}**")  # \w+ still holds "_"
            last = match.end()
    parts.append(_escape(flat[last:]))
    return "".join(parts)


def servable_file(catalog: Catalog, path: str | Path) -> Path | None:
    """The file at `path` when it is one the catalog holds as indexed, else None.

    The path is taken literally (no `..` collapsing, no symlink following before the lookup),
    so only paths the indexer itself recorded can be opened; the file must still be a file.
    """
    candidate = Path(path)
    if not candidate.is_absolute() or ".." in candidate.parts:
        return None
    record = catalog.get(str(candidate))
    if record is None or record.status != INDEXED or not candidate.is_file():
        return None
    return candidate


def file_inside(folder: Path, relative: str | Path) -> Path | None:
    """folder/relative when it resolves to a file inside folder (thumbnails named in the index), else None."""
    root = folder.resolve()
    target = (root / relative).resolve()
    if not target.is_relative_to(root) or not target.is_file():
        return None
    return target


def upload_name(name: str, content: bytes) -> Path:
    """Where an upload is kept, relative to the uploads folder: a folder named by its content hash (two
    uploads with one name do not overwrite each other) holding the file under a cleaned-up name."""
    base = _UNSAFE_NAME.sub("_", Path(name.replace("\\", "/")).name).strip(" .") or "upload"
    return Path(hashlib.sha256(content).hexdigest()[:16]) / base
