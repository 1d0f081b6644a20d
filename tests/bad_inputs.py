"""A folder of files Omnidex cannot index, each with what its recorded reason must say, beside good ones.

Everything is made on the spot with the real tools (PyMuPDF, Pillow, PyAV,
espeak-ng): broken and mislabelled files of every supported type, files over
the configured limits, awkward names and links. `write_bad_corpus` returns
what each file is expected to become, so a test can hold the index to it.
"""

from __future__ import annotations

import io
import os
import struct
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pymupdf
from PIL import Image

from ingest.files import EXTENSIONS
from tests.conftest import write_pdf
from tests.media_fixtures import SAMPLE_RATE, silent_video, speak, write_wav

# The limits the corpus is made for: small enough that over-limit files are cheap to make.
LIMITS = {"max_file_mb": 8, "max_pages": 5_000, "max_duration_s": 60.0}
HUGE_PDF_PAGES = 10_000


@dataclass(frozen=True)
class GoodFile:
    path: Path
    query: str  # words only this file holds, to find it by


@dataclass
class BadCorpus:
    root: Path
    good: list[GoodFile] = field(default_factory=list)
    failed: dict[Path, str] = field(default_factory=dict)  # path -> regex its recorded reason must match
    huge_pdf: Path | None = None


def write_bad_corpus(root: Path, work: Path) -> BadCorpus:
    """The whole corpus under root; scratch files go to work."""
    corpus = BadCorpus(root)
    _good_files(corpus, root / "good", work)
    _broken_documents(corpus, root / "documents")
    _broken_pictures(corpus, root / "pictures")
    _broken_media(corpus, root / "media")
    _empty_files(corpus, root / "empty")
    _over_the_limits(corpus, root / "limits")
    _links_and_odd_entries(corpus, root / "links")
    return corpus


def _good_files(corpus: BadCorpus, folder: Path, work: Path) -> None:
    """A real PDF, photo and speech clip, and PDFs whose names have spaces, accents, CJK and a newline."""
    folder.mkdir(parents=True)
    pdf = write_pdf(folder / "ferry.pdf", ["The night ferry to the lighthouse island leaves at eleven sharp."])
    corpus.good.append(GoodFile(pdf, "night ferry to the lighthouse island"))
    from skimage import data as skdata

    photo = folder / "coffee.jpg"
    Image.fromarray(skdata.coffee()).save(photo, quality=90)
    corpus.good.append(GoodFile(photo, "a cup of coffee"))
    clip = speak("Please water the tomato plants on the balcony every morning.", folder / "reminder.wav")
    corpus.good.append(GoodFile(clip, "water the tomato plants on the balcony"))
    names = {
        "minutes of the harbour board.pdf": "The harbour board approved a new crane for the container quay.",
        "café menü ☕ 会議.pdf": "Tonight the café serves pumpkin soup with roasted chestnuts.",
        "two\nlines.pdf": "The glacier museum reopens after the roof repairs in April.",
    }
    for name, text in names.items():
        path = write_pdf(folder / name, [text])
        corpus.good.append(GoodFile(path, text.rstrip(".")))
    # A clip with pictures and no sound track is indexed by its frames.
    corpus.good.append(GoodFile(silent_video(folder / "no sound.mp4", seconds=2.0), ""))


def _broken_documents(corpus: BadCorpus, folder: Path) -> None:
    folder.mkdir(parents=True)
    (folder / "garbage.pdf").write_bytes(b"%PDF-1.7\n" + os.urandom(4096))
    corpus.failed[folder / "garbage.pdf"] = r"corrupt or unreadable PDF"
    whole = write_pdf(folder / "whole.pdf", ["The audit of the canal locks found three leaking gates.",
                                             "Page two was lost.", "Page three was lost."]).read_bytes()
    (folder / "whole.pdf").unlink()
    (folder / "stub.pdf").write_bytes(whole[:200])
    corpus.failed[folder / "stub.pdf"] = r"corrupt or unreadable PDF"
    # Cut in half: MuPDF recovers the first page, which is indexed; the rest is gone.
    (folder / "half a report.pdf").write_bytes(whole[: len(whole) // 2])
    corpus.good.append(GoodFile(folder / "half a report.pdf", "audit of the canal locks found three leaking gates"))
    write_pdf(folder / "locked.pdf", ["Salaries for the coming year."], password="hunter2")
    corpus.failed[folder / "locked.pdf"] = r"encrypted.*password"
    (folder / "deck.pptx").write_bytes(b"PK\x03\x04" + os.urandom(2048))
    corpus.failed[folder / "deck.pptx"] = r"corrupt or unreadable PowerPoint file: it is not a valid ZIP package"
    (folder / "scan.pdf").write_bytes(b"This is a note someone saved with the wrong extension.\n" * 20)
    corpus.failed[folder / "scan.pdf"] = r"not a PDF document.*plain text"
    _broken_office_files(corpus, folder / "office")


def _broken_office_files(corpus: BadCorpus, folder: Path) -> None:
    """Word files that are encrypted, mislabelled, corrupt, another ZIP, a ZIP bomb or an XML bomb."""
    folder.mkdir(parents=True)
    good = write_docx(folder / "good.docx", [("Minutes", "The lock keeper asked for a new winch on the weir.")])
    corpus.good.append(GoodFile(good, "lock keeper asked for a new winch on the weir"))
    encrypt_office(good, folder / "locked.docx", "hunter2")
    corpus.failed[folder / "locked.docx"] = r"^encrypted Word document: it is password-protected"
    (folder / "notes.docx").write_text("A note saved under the wrong name.\n" * 20)
    corpus.failed[folder / "notes.docx"] = r"not a Word document.*plain text"
    (folder / "garbage.docx").write_bytes(b"PK\x03\x04" + os.urandom(2048))
    corpus.failed[folder / "garbage.docx"] = r"corrupt or unreadable Word document"
    _write_deck(folder / "deck as word.docx")
    corpus.failed[folder / "deck as word.docx"] = r"not a Word document: a ZIP archive without word/document.xml"
    zip_bomb(good, folder / "bomb.docx", "word/media/huge.bin", (LIMITS["max_file_mb"] * 10 + 1) << 20)
    corpus.failed[folder / "bomb.docx"] = r"decompresses to more than 80 MB.*OMNIDEX_MAX_FILE_MB"
    xml_bomb(good, folder / "laughs.docx", "word/document.xml")
    corpus.failed[folder / "laughs.docx"] = r"word/document.xml declares a document type"


def write_docx(path: Path, sections: list[tuple[str, str]], page_breaks: bool = False) -> Path:
    """A real Word document (python-docx): a heading and a paragraph per section, a page break between sections."""
    import docx

    document = docx.Document()
    for n, (title, text) in enumerate(sections):
        if n and page_breaks:
            document.add_page_break()
        document.add_heading(title, 1)
        document.add_paragraph(text)
    path.parent.mkdir(parents=True, exist_ok=True)
    document.save(path)
    return path


def _write_deck(path: Path) -> Path:
    from pptx import Presentation

    deck = Presentation()
    deck.slides.add_slide(deck.slide_layouts[5]).shapes.title.text = "A deck under a Word name"
    deck.save(path)
    return path


def encrypt_office(source: Path, target: Path, password: str) -> Path:
    """The file password-protected as Office does it (msoffcrypto-tool): an OLE container holding the package."""
    from msoffcrypto.format.ooxml import OOXMLFile

    with source.open("rb") as f, target.open("wb") as out:
        OOXMLFile(f).encrypt(password, out)
    return target


def zip_bomb(source: Path, target: Path, member: str, size: int) -> Path:
    """A copy of a ZIP package with one more member of `size` zero bytes, a few KB once compressed. (A header
    that under-declares its size gains nothing: zipfile stops at the declared size and fails the CRC.)"""
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as new:
        for item in old.infolist():
            new.writestr(item, old.read(item))
        info = zipfile.ZipInfo(member)
        info.compress_type = zipfile.ZIP_DEFLATED
        with new.open(info, "w", force_zip64=True) as f:
            block = b"\0" * (1 << 20)
            for _ in range(size // len(block)):
                f.write(block)
            f.write(b"\0" * (size % len(block)))
    return target


LAUGHS = (b'<?xml version="1.0"?>\n<!DOCTYPE lolz [<!ENTITY lol "lol">'
          + b"".join(b'<!ENTITY lol%d "%s">' % (n, (b"&lol%d;" % (n - 1) if n > 1 else b"&lol;") * 10)
                     for n in range(1, 10))
          + b"]>\n")


def xml_bomb(source: Path, target: Path, member: str) -> Path:
    """A copy of a ZIP package whose XML part `member` is a billion laughs: nine levels of ten entities declared
    in its prolog, the last referenced inside its root element (3 GB of "lol" once expanded)."""
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as new:
        for item in old.infolist():
            data = old.read(item)
            if item.filename == member:
                body = data[data.index(b"?>") + 2:] if data.startswith(b"<?xml") else data
                close = body.rindex(b"</")
                data = LAUGHS + body[:close] + b"&lol9;" + body[close:]
            new.writestr(item, data)
    return target
