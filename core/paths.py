"""File names as the file system has them, as text stores accept and as people can read them.

A POSIX file name is any bytes; Python decodes the ones that are not UTF-8
with surrogate escapes (b"\\xe9" becomes "\\udce9"), which SQLite, Qdrant and
every text protocol refuse. Three forms, each for one job:

- the native str (surrogates and all) opens the file; it is what Python code passes around;
- `to_text` is a lossless, valid-UTF-8 spelling for keys (the catalog): each escaped
  byte 0xNN becomes the private-use character U+10FFNN, and `from_text` undoes it;
- `display` shows it: undecodable bytes as U+FFFD, control characters escaped (`escape_controls`).
"""

from __future__ import annotations

import os
import unicodedata
from pathlib import Path

# surrogateescape puts byte b (0x80-0xFF) at U+DC00+b; keys put it at U+10FF00+b (Supplementary Private
# Use Area-B, its last 128 code points), which no file-name encoding produces.
_SURROGATE, _PRIVATE = 0xDC00, 0x10FF00
_TO_TEXT = {_SURROGATE + b: _PRIVATE + b for b in range(0x80, 0x100)}
_FROM_TEXT = {v: k for k, v in _TO_TEXT.items()}
# Shown as escapes: what moves the cursor, rings, clears, or reorders text (Trojan-source bidi controls).
_NAMED_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
_BIDI = set("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c")


def is_clean(text: str) -> bool:
    """True when the str encodes as UTF-8 as it is (no escaped bytes)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def to_text(path: str | os.PathLike[str]) -> str:
    """A lossless spelling that every UTF-8 store accepts; the same str for every decodable name."""
    text = os.fspath(path)
    return text if is_clean(text) else text.translate(_TO_TEXT)


def from_text(text: str) -> str:
    """The native str `to_text` was made from, which opens the file."""
    return text if text.isascii() else text.translate(_FROM_TEXT)


def raw_bytes_hex(path: str | os.PathLike[str]) -> str:
    """The name's bytes in hex: another program can reopen the file from it (os.fsdecode(bytes.fromhex(...)))."""
    return os.fsencode(path).hex()


def readable(path: str | os.PathLike[str]) -> str:
    """The name as text that can be shown anywhere: undecodable bytes as U+FFFD (the keys' private-use
    characters too, so a key shows as its file)."""
    return os.fsencode(from_text(os.fspath(path))).decode("utf-8", "replace")


def escape_controls(text: str) -> str:
    """Control and bidi characters as visible escapes (a newline as \\n), so a name or snippet printed on a
    terminal cannot start a new line, move the cursor or reorder what follows."""
    if text.isprintable():
        return text
    out = []
    for ch in text:
        if ch in _NAMED_ESCAPES:
            out.append(_NAMED_ESCAPES[ch])
        elif ch in _BIDI or unicodedata.category(ch) in ("Cc", "Zl", "Zp"):
            out.append(f"\\x{ord(ch):02x}" if ord(ch) < 0x100 else f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return "".join(out)


def display(path: str | os.PathLike[str]) -> str:
    """A file name for plain output: readable and with its control characters escaped."""
    return escape_controls(readable(path))


def native(path: str | os.PathLike[str]) -> Path:
    """A Path that opens the file, from a native str or a key."""
    return Path(from_text(os.fspath(path)))
