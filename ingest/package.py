"""ZIP packages (Word, Excel and PowerPoint files, OpenDocument files, EPUB books) checked before a parser opens them.

Each of these formats is a ZIP archive of XML parts, and each parser reads its parts whole. So before one does:
- the sizes the archive declares for its members, then what actually comes out of them (the headers may lie),
  must stay within EXPANSION times the file-size limit (OMNIDEX_MAX_FILE_MB): a ZIP bomb fails with a reason
  instead of filling memory;
- no XML part may declare an entity (`<!ENTITY`) or hold a document type with an internal subset
  (`<!DOCTYPE x [...]>`): none of these formats needs one, and a declared entity is how an XML bomb (billion
  laughs) or an external-entity read of another file begins. This holds whatever the parser underneath would do
  with it. A bare document type is let through: every EPUB 3 page opens with `<!DOCTYPE html>` and EPUB 2 pages
  name XHTML's public DTD, which no parser here fetches;
- a member encrypted inside the ZIP fails as encrypted.
A password-protected Office file is no ZIP at all but an OLE compound file holding the encrypted package
(`ole_reason` says so in words).
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Callable
from pathlib import Path

from ingest.errors import ExtractionError
from ingest.limits import MB, setting_name

EXPANSION = 10  # a package may hold this many times the file-size limit once decompressed
READ_BLOCK = 1 << 20
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # an OLE compound file: old .doc/.xls/.ppt, or encrypted OOXML
_ENCRYPTED_STREAM = "EncryptedPackage".encode("utf-16-le")  # the stream an encrypted Office file keeps its ZIP in
# An entity declaration, or a document type with an internal subset ("[") or one too long to be a bare one.
_DTD = re.compile(rb"<!ENTITY|<!DOCTYPE(?:[^>\[]{0,400}\[|[^>\[]{400})")
_DTD_SPAN = 512  # bytes of one block kept to find a declaration cut by the next
_XML_MEMBER = re.compile(r"\.(xml|rels|rdf|xhtml|html|htm|opf|ncx|svg)$", re.IGNORECASE)

Check = Callable[[zipfile.ZipFile], None]


def check_package(path: Path, max_file_mb: float, kind: str, check: Check | None = None) -> None:
    """Refuse a package that is corrupt, encrypted, no `kind` (`check` raises for that), decompresses beyond the
    budget, or holds an XML part with a document type declaration."""
    budget = int(max_file_mb * MB * EXPANSION)
    over = (f"skipped: the {kind} decompresses to more than {budget / MB:,.0f} MB, {EXPANSION} times the "
            f"file-size limit ({setting_name('max_file_mb')}): a ZIP bomb, or a file too large to read")
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
            if any(m.flag_bits & 0x1 for m in members):
                raise ExtractionError(f"encrypted {kind}: it cannot be read without its password")
            if sum(m.file_size for m in members) > budget:
                raise ExtractionError(over)
            if check is not None:
                check(archive)
            total = 0
            for member in members:
                xml = bool(_XML_MEMBER.search(member.filename))
                tail = b""
                with archive.open(member) as f:
                    while block := f.read(READ_BLOCK):
                        total += len(block)
                        if total > budget:
                            raise ExtractionError(over)
                        if xml and _DTD.search(tail + block):
                            raise ExtractionError(
                                f"refused: its part {member.filename} declares entities (<!ENTITY, or a "
                                f"<!DOCTYPE with its own declarations), which a {kind} never needs: the way an XML "
                                f"bomb or an external-entity attack begins")
                        tail = block[-_DTD_SPAN:]
    except ExtractionError:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, EOFError, OSError, KeyError,
            ValueError) as e:
        raise ExtractionError(f"corrupt or unreadable {kind}: {e}") from e


def has_member(name: str, kind: str) -> Check:
    """A check that the package holds `name` (word/document.xml for Word): else it is a ZIP of another kind."""
    def check(archive: zipfile.ZipFile) -> None:
        if name not in archive.namelist():
            raise ExtractionError(f"not {kind}: a ZIP archive without {name}")
    return check


def has_mimetype(mimetypes: tuple[bytes, ...], kind: str, name: str) -> Check:
    """A check for the `mimetype` entry ODF and EPUB packages start with (`name` says whose: "EPUB")."""
    def check(archive: zipfile.ZipFile) -> None:
        if "mimetype" not in archive.namelist() or archive.read("mimetype").strip() not in mimetypes:
            raise ExtractionError(f"not {kind}: a ZIP archive without the {name} mimetype entry")
    return check


def ole_reason(path: Path, kind: str) -> str:
    """Why an OLE compound file under an Office Open XML name ("a Word document") is not read: encrypted, or the
    older format."""
    found = False
    tail = b""
    try:
        with path.open("rb") as f:
            while block := f.read(READ_BLOCK):
                if _ENCRYPTED_STREAM in tail + block:
                    found = True
                    break
                tail = block[-len(_ENCRYPTED_STREAM):]
    except OSError as e:
        return f"cannot read file: {e.strerror or e}"
    if found:
        return (f"encrypted {kind.split(' ', 1)[1]}: it is password-protected (an OLE container holding the encrypted package), "
                f"so it cannot be read; save a copy without a password to index it")
    return (f"not {kind}: the content is an OLE compound file, the older binary Office format (.doc, .xls, .ppt), "
            f"which is not read")
