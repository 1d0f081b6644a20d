"""Finding files, telling what they are and giving each its content identity."""

from __future__ import annotations

import codecs
import hashlib
import mimetypes
import os
import stat as file_mode
from collections.abc import Iterable, Iterator
from datetime import datetime, timezone
from pathlib import Path

from core.schema import Asset, FileType
from ingest.errors import ExtractionError
from ingest.limits import check_file_size
from ingest.package import OLE_MAGIC, ole_reason
from ingest.report import SkippedFile

EXTENSIONS: dict[str, FileType] = {
    ".pdf": FileType.PDF,
    **{ext: FileType.SLIDES for ext in (".pptx", ".odp")},
    **{ext: FileType.PLAINTEXT for ext in (".txt", ".md", ".markdown")},
    **{ext: FileType.HTML for ext in (".html", ".htm", ".xhtml")},
    ".epub": FileType.EBOOK,
    **{ext: FileType.DOCUMENT for ext in (".docx", ".odt")},
    **{ext: FileType.SHEET for ext in (".csv", ".tsv", ".xlsx", ".ods")},
    **{ext: FileType.MAIL for ext in (".eml", ".mbox")},
    **{ext: FileType.IMAGE for ext in (".jpg", ".jpeg", ".png", ".webp", ".gif", ".tif", ".tiff", ".bmp")},
    **{ext: FileType.AUDIO for ext in (".wav", ".mp3", ".m4a", ".flac", ".ogg", ".opus")},
    **{ext: FileType.VIDEO for ext in (".mp4", ".mkv", ".webm", ".mov", ".avi")},
}

# Byte signatures a file of each extension must contain near its start; a
# mislabelled file fails here with a clear reason instead of deep inside a decoder.
_ISO_MEDIA = (b"ftyp", b"moov", b"mdat", b"wide", b"free")
MAGIC: dict[str, tuple[bytes, ...]] = {
    ".pdf": (b"%PDF-",),
    ".pptx": (b"PK\x03\x04",),
    ".epub": (b"PK\x03\x04",),
    ".docx": (b"PK\x03\x04",),
    ".odt": (b"PK\x03\x04",),
    ".odp": (b"PK\x03\x04",),
    ".xlsx": (b"PK\x03\x04",),
    ".ods": (b"PK\x03\x04",),
    ".jpg": (b"\xff\xd8\xff",),
    ".jpeg": (b"\xff\xd8\xff",),
    ".png": (b"\x89PNG",),
    ".gif": (b"GIF8",),
    ".webp": (b"WEBP",),
    ".tif": (b"II*\x00", b"MM\x00*"),
    ".tiff": (b"II*\x00", b"MM\x00*"),
    ".bmp": (b"BM",),
    ".wav": (b"WAVE",),
    ".mp3": (b"ID3", b"\xff\xfb", b"\xff\xf3", b"\xff\xf2", b"\xff\xfa"),
    ".m4a": _ISO_MEDIA,
    ".flac": (b"fLaC",),
    ".ogg": (b"OggS",),
    ".opus": (b"OggS",),
    ".mp4": _ISO_MEDIA,
    ".mov": _ISO_MEDIA,
    ".mkv": (b"\x1aE\xdf\xa3",),
    ".webm": (b"\x1aE\xdf\xa3",),
    ".avi": (b"AVI ",),
    ".mbox": (b"From ",),  # every message of a mailbox starts with its "From " line, the first at byte 0
}

# Office Open XML files: a password-protected one is an OLE compound file, told apart from a mislabelled one.
OFFICE_OPEN_XML = frozenset({".docx", ".pptx", ".xlsx"})

HASH_BLOCK = 1 << 20

# System files a folder holds without anyone keeping them: never read, never listed as skipped.
SYSTEM_FILES = frozenset({"thumbs.db", "ehthumbs.db", "desktop.ini", ".ds_store"})


def discover(roots: Iterable[Path], extensions: Iterable[str] = EXTENSIONS, exclude: Iterable[Path] = (),
             skipped: list[SkippedFile] | None = None) -> Iterator[Path]:
    """Supported files under the roots, each once, in a stable order; symlinked folders are not followed.

    Folders in `exclude` (Omnidex's own data directory) are never entered. Every other file found whose
    extension is not among `extensions` is appended to `skipped` with its reason, so nothing is left out
    silently; the only files ignored without a word are hidden ones (a name starting with "." below a root,
    and everything in a hidden folder) and the system files in SYSTEM_FILES (Thumbs.db, desktop.ini, .DS_Store).
    """
    wanted = {e.lower() for e in extensions}
    excluded = {Path(e).absolute() for e in exclude}
    seen: set[Path] = set()
    for root in roots:
        root = Path(root).expanduser()
        if root.is_file():
            candidates: Iterable[Path] = [root]
        else:
            candidates = _walk(root, excluded)
        for path in candidates:
            resolved = path.absolute()
            if resolved in seen:
                continue
            seen.add(resolved)
            if path.suffix.lower() in wanted:
                yield resolved
            elif skipped is not None and path.name.lower() not in SYSTEM_FILES:
                skipped.append(SkippedFile(resolved, skip_reason(path)))


def skip_reason(path: Path) -> str:
    if not path.suffix:
        return "no file extension: its type cannot be told, so it is not read"
    return f"unsupported file type {path.suffix!r}: not read"


def _walk(root: Path, excluded: set[Path]) -> Iterator[Path]:
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        here = Path(dirpath).absolute()
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and here / d not in excluded)
        for name in sorted(filenames):
            if not name.startswith("."):
                yield Path(dirpath) / name


def file_type_of(path: Path) -> FileType:
    try:
        return EXTENSIONS[path.suffix.lower()]
    except KeyError:
        raise ExtractionError(f"unsupported file type {path.suffix or '(no extension)'!r}") from None


def content_hash(path: Path) -> str:
    """128-bit BLAKE2b of the bytes: the asset's identity, independent of name and place."""
    digest = hashlib.blake2b(digest_size=16)
    with path.open("rb") as f:
        while block := f.read(HASH_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def inspect(path: Path, max_file_mb: float | None = None) -> Asset:
    """Stat, sniff and hash one file; raises ExtractionError with the reason it cannot be an asset.

    The size limit is checked before a byte is read, so a file over it costs nothing.
    """
    file_type = file_type_of(path)
    try:
        stat = path.stat()
    except OSError as e:
        raise ExtractionError(f"cannot read file: {e.strerror or e}") from e
    if not file_mode.S_ISREG(stat.st_mode):
        raise ExtractionError("not a regular file: a named pipe, socket or device cannot be indexed")
    if stat.st_size == 0:
        raise ExtractionError("empty file (0 bytes)")
    if max_file_mb is not None:
        check_file_size(stat.st_size, max_file_mb)
    try:
        with path.open("rb") as f:
            head = f.read(1024)
        asset_id = content_hash(path)
    except OSError as e:
        raise ExtractionError(f"cannot read file: {e.strerror or e}") from e
    suffix = path.suffix.lower()
    if head.startswith(OLE_MAGIC) and suffix in OFFICE_OPEN_XML:
        raise ExtractionError(ole_reason(path, kind_of(suffix)))
    if not _has_signature(suffix, head, MAGIC.get(suffix, ())):
        raise ExtractionError(f"not {kind_of(suffix)}: the content is {looks_like(head)}, "
                              f"which does not match the {suffix} extension")
    mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return Asset(
        path=path,
        asset_id=asset_id,
        file_type=file_type,
        mime=mime,
        size=stat.st_size,
        modified=datetime.fromtimestamp(stat.st_mtime, tz=timezone.utc),
    )


def _has_signature(suffix: str, head: bytes, magics: tuple[bytes, ...]) -> bool:
    """PDF allows junk before its header; every other signature sits in the first 16 bytes."""
    window = head if suffix == ".pdf" else head[:16]
    return not magics or any(m in window for m in magics)


def kind_of(suffix: str) -> str:
    """What a file with this extension holds, in words: "a PDF document", "MP3 audio", "a JPEG image"."""
    file_type = EXTENSIONS.get(suffix)
    name = suffix.lstrip(".").upper()
    name = {"JPG": "JPEG", "TIF": "TIFF"}.get(name, name)
    if file_type is FileType.PDF:
        return "a PDF document"
    if file_type is FileType.SLIDES:
        return "an OpenDocument presentation" if suffix == ".odp" else "a PowerPoint deck"
    if file_type is FileType.PLAINTEXT:
        return "a Markdown file" if suffix in (".md", ".markdown") else "a text file"
    if file_type is FileType.HTML:
        return "an HTML page"
    if file_type is FileType.EBOOK:
        return "an EPUB e-book"
    if file_type is FileType.SHEET:
        return {".xlsx": "an Excel workbook", ".ods": "an OpenDocument spreadsheet"}.get(suffix, "a CSV table")
    if file_type is FileType.DOCUMENT:
        return "an OpenDocument text" if suffix == ".odt" else "a Word document"
    if file_type is FileType.MAIL:
        return "an mbox mailbox" if suffix == ".mbox" else "an e-mail message"
    if file_type is FileType.IMAGE:
        return f"a {name} image"
    return f"{name} {file_type.value if file_type else 'data'}"


def looks_like(head: bytes) -> str:
    """What the first bytes of a file say it is, for the reason given when they contradict its extension."""
    if head.startswith(b"PK\x03\x04"):
        return "a ZIP archive"  # a PowerPoint deck is one, and so are many other files
    if head.startswith(OLE_MAGIC):
        return "an OLE compound file (an older Office document, or an encrypted one)"
    if any(m in head[:16] for m in _ISO_MEDIA):
        return "an MP4/QuickTime media file"  # .mp4, .mov and .m4a share it
    for suffix, magics in MAGIC.items():
        if _has_signature(suffix, head, magics):
            return kind_of(suffix)
    try:  # a multi-byte character cut at the end of the sample is not a reason to call it binary
        text = codecs.getincrementaldecoder("utf-8")().decode(head)
    except UnicodeDecodeError:
        return "unrecognised binary data"
    if all(c.isprintable() or c in "\t\n\r\f" for c in text):
        return "plain text"
    return "unrecognised binary data"
