"""What the UI shows and serves comes from people's files: render it as text, and serve only indexed files.

Extracted text can hold anything a document author typed, Markdown and HTML included;
file paths in a session or a link can be edited by whoever holds the browser.
"""

from __future__ import annotations

import hashlib
import html
import os
import re
import string
from pathlib import Path

from omnidex import tokenize

_MARKDOWN_SPECIAL = re.compile("([" + re.escape(string.punctuation) + "])")
_WORD = re.compile(r"\w+", re.UNICODE)
_UNSAFE_NAME = re.compile(r"[^\w.\- ]+", re.UNICODE)
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_BACKTICKS = re.compile(r"`+")


def readable(text: str) -> str:
    """Text every page element accepts: a file name's bytes that are not UTF-8 (surrogate escapes) as U+FFFD,
    as the store's payloads spell them."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        pass
    try:
        return os.fsencode(text).decode("utf-8", "replace")
    except UnicodeEncodeError:  # a surrogate that no byte was escaped to
        return "".join("\ufffd" if "\ud800" <= ch <= "\udfff" else ch for ch in text)


def printable(text: str) -> str:
    """One readable line: runs of white space become one space, other control characters U+FFFD."""
    return _CONTROL.sub("\ufffd", " ".join(readable(text).split()))


def escape_markdown(text: str) -> str:
    """Text that st.markdown shows exactly as written: every ASCII punctuation mark is backslash-escaped
    (CommonMark allows it for all of them), so no link, image, HTML tag, LaTeX or colour directive
    survives; line breaks become spaces so a document cannot start a heading or a table.

    Bare URLs still become links (GFM finds them after escapes are resolved): use `literal` for names and
    `text_html`/`highlight` inside `html_block` for document text."""
    return _escape(printable(text))


def _escape(text: str) -> str:
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text)


def literal(text: str) -> str:
    """A Markdown code span showing `text` exactly: for file names and tags in titles, buttons and messages,
    where escaping alone would still turn a bare URL into a link. The fence is one backtick longer than any
    run inside, padded when the text starts or ends with one (CommonMark strips the padding)."""
    flat = printable(text) or "\ufffd"
    fence = "`" * (max((len(run) for run in _BACKTICKS.findall(flat)), default=0) + 1)
    pad = " " if flat[0] == "`" or flat[-1] == "`" else ""
    return f"{fence}{pad}{flat}{pad}{fence}"


def text_html(text: str) -> str:
    """Document text as HTML that shows exactly the text, on one line."""
    return html.escape(printable(text))


def html_block(inner: str) -> str:
    """Our own HTML (around escaped text) as one Markdown HTML block, for st.markdown(..., unsafe_allow_html=True):
    Markdown leaves an HTML block alone, so no link, LaTeX or directive is made from the text inside."""
    return f"<div>{inner}</div>"


def highlight(text: str, query: str) -> str:
    """Escaped HTML of `text` with the words that match the query (after stemming) in <strong>."""
    terms = set(tokenize(query))
    flat = printable(text)
    if not terms:
        return html.escape(flat)
    parts: list[str] = []
    last = 0
    for match in _WORD.finditer(flat):
        if terms.intersection(tokenize(match.group())):
            parts.append(html.escape(flat[last:match.start()]))  # keeps the spaces around the match
            parts.append(f"<strong>{html.escape(match.group())}</strong>")
            last = match.end()
    parts.append(html.escape(flat[last:]))
    return "".join(parts)


def file_inside(folder: Path, relative: str | Path) -> Path | None:
    """folder/relative when it resolves to a file inside folder (thumbnails named in the index), else None."""
    root = folder.resolve()
    target = (root / relative).resolve()
    if not target.is_relative_to(root) or not target.is_file():
        return None
    return target


def folder_bytes(folder: Path) -> int:
    """Bytes held by the files under `folder` (0 when it does not exist): what counts against the upload quota."""
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file() and not f.is_symlink())


def upload_name(name: str, content: bytes) -> Path:
    """Where an upload is kept, relative to the uploads folder: a folder named by its content hash (two
    uploads with one name do not overwrite each other) holding the file under a cleaned-up name."""
    base = _UNSAFE_NAME.sub("_", Path(name.replace("\\", "/")).name).strip(" .") or "upload"
    return Path(hashlib.sha256(content).hexdigest()[:16]) / base
