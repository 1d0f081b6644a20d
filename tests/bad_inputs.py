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
from sample_corpus.media import SAMPLE_RATE, silent_video, speak, write_wav

# The limits the corpus is made for: small enough that over-limit files are cheap to make.
LIMITS = {"max_file_mb": 8, "max_pages": 5_000, "max_duration_s": 60.0, "max_attachment_mb": 1, "max_mail_depth": 20}
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
    _hostile_mail(corpus, root / "mail")
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
    """Office files that are encrypted, mislabelled, corrupt, another ZIP, a ZIP bomb or an XML bomb."""
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
    corpus.failed[folder / "laughs.docx"] = r"word/document.xml declares entities"
    (folder / "deck as sheet.xlsx").write_bytes((folder / "deck as word.docx").read_bytes())
    corpus.failed[folder / "deck as sheet.xlsx"] = r"not an Excel workbook: a ZIP archive without xl/workbook.xml"
    encrypt_office(_write_deck(folder / "plain deck.pptx"), folder / "locked deck.pptx", "hunter2")
    (folder / "plain deck.pptx").unlink()
    corpus.failed[folder / "locked deck.pptx"] = r"^encrypted PowerPoint deck: it is password-protected"
    (folder / "spreadsheet.odt").write_bytes(b"PK\x03\x04" + os.urandom(1024))
    corpus.failed[folder / "spreadsheet.odt"] = r"corrupt or unreadable OpenDocument text"


def write_docx(path: Path, sections: list[tuple[str, str]]) -> Path:
    """A real Word document (python-docx): a heading and a paragraph per section."""
    import docx

    document = docx.Document()
    for title, text in sections:
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


def _broken_pictures(corpus: BadCorpus, folder: Path) -> None:
    from skimage import data as skdata

    folder.mkdir(parents=True)
    buffer = io.BytesIO()
    Image.fromarray(skdata.astronaut()).save(buffer, "JPEG", quality=90)
    (folder / "half.jpg").write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])
    corpus.failed[folder / "half.jpg"] = r"truncated"
    (folder / "bomb.png").write_bytes(png_bomb(60_000, 60_000))
    corpus.failed[folder / "bomb.png"] = r"pixels.*limit"
    png = io.BytesIO()
    Image.new("RGB", (64, 64), "orange").save(png, "PNG")
    (folder / "really a png.jpg").write_bytes(png.getvalue())
    corpus.failed[folder / "really a png.jpg"] = r"not a JPEG image.*PNG"


def png_bomb(width: int, height: int) -> bytes:
    """A valid PNG of a few hundred bytes whose header promises width x height grey pixels."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 1000))
            + chunk(b"IEND", b""))


def _broken_media(corpus: BadCorpus, folder: Path) -> None:
    folder.mkdir(parents=True)
    (folder / "song.mp3").write_text("Lyrics of the song, typed out by hand.\n" * 30)
    corpus.failed[folder / "song.mp3"] = r"not MP3 audio.*plain text"
    blip = np.sin(2 * np.pi * 440 * np.arange(int(0.1 * SAMPLE_RATE)) / SAMPLE_RATE) * 0.5
    # A tenth of a second is short, not broken: it is indexed as the sound it is.
    corpus.good.append(GoodFile(write_wav(folder / "blip.wav", blip), "type:audio dial tone"))
    (folder / "clip.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + os.urandom(4096))
    corpus.failed[folder / "clip.mp4"] = r"corrupt or unreadable video: Invalid data"
    (folder / "podcast.m4a").write_bytes(b"\x00\x00\x00\x18ftypM4A " + b"\x00" * 64)
    corpus.failed[folder / "podcast.m4a"] = r"corrupt or unreadable media file: Invalid data"


def nested_message(depth: int, text: str, top_text: str = "") -> bytes:
    """A message whose text part sits `depth` multiparts deep (hostile ones nest thousands)."""
    head = [b"From: Nesting Doll <doll@matryoshka.test>\nSubject: Nested parts\nMIME-Version: 1.0\n"]
    for level in range(depth):
        head.append(f'Content-Type: multipart/mixed; boundary="level{level}"\n\n--level{level}\n'.encode())
        if level == 4 and top_text:  # a readable part near the top, a sibling of the deeper ones
            head.append(f"Content-Type: text/plain\n\n{top_text}\n--level{level}\n".encode())
    head.append(f"Content-Type: text/plain\n\n{text}\n".encode())
    head.extend(f"--level{level}--\n".encode() for level in reversed(range(depth)))
    return b"".join(head)


def _hostile_mail(corpus: BadCorpus, folder: Path) -> None:
    """Mail that is garbage, mislabelled, nested without end, carries a huge attachment or odd charsets."""
    from email.message import EmailMessage

    folder.mkdir(parents=True)
    (folder / "garbage.eml").write_bytes(os.urandom(4096))
    corpus.failed[folder / "garbage.eml"] = r"not an e-mail message: the content is unrecognised binary data"
    png = io.BytesIO()
    Image.new("RGB", (64, 64), "teal").save(png, "PNG")
    (folder / "really a png.mbox").write_bytes(png.getvalue())
    corpus.failed[folder / "really a png.mbox"] = r"not an mbox mailbox: the content is a PNG image"
    (folder / "really a png.eml").write_bytes(png.getvalue())
    corpus.failed[folder / "really a png.eml"] = r"not an e-mail message: the content is a PNG image"
    (folder / "shopping list.eml").write_text("Rope, tar and two tins of blue paint for the hull.\n")
    corpus.failed[folder / "shopping list.eml"] = r"not an e-mail message: no mail headers"
    (folder / "bottomless.eml").write_bytes(nested_message(5_000, "Never reached."))
    corpus.failed[folder / "bottomless.eml"] = r"nested too deeply for the e-mail parser"
    # Read up to OMNIDEX_MAX_MAIL_DEPTH: the part near the top is indexed, the one 60 levels down is not.
    (folder / "deep.eml").write_bytes(nested_message(60, "The bottom of the well.",
                                                     top_text="The nesting dolls were painted in Sergiev Posad."))
    corpus.good.append(GoodFile(folder / "deep.eml", "nesting dolls painted in Sergiev Posad"))
    big = EmailMessage()
    big["From"], big["Subject"] = "Scanner <scanner@office.test>", "Scanned drawings"
    big.set_content("The scanned drawings of the windmill gearbox are attached.")
    big.add_attachment(os.urandom(int(1.2 * 2**20)), maintype="application", subtype="pdf", filename="scan.pdf")
    (folder / "big attachment.eml").write_bytes(bytes(big))
    corpus.good.append(GoodFile(folder / "big attachment.eml", "scanned drawings of the windmill gearbox"))
    odd = (b"From: =?x-unknown?q?Bj=F6rn?= <bjorn@fjord.test>\nTo: =?utf-8?b?!!not base64!!?= <x@y.test>\n"
           b"Subject: Sm\xf6rg\xe5sbord =?utf-8?q?f=C3=BCr?= the =?iso-8859-1?q?f=EAte?=\n"
           b"Date: the day after tomorrow\nMIME-Version: 1.0\nContent-Type: text/plain; charset=klingon\n"
           b"Content-Transfer-Encoding: 8bit\n\n"
           + "Pickled herring and lingonberry jam for the midsummer smörgåsbord.\n".encode("latin-1"))
    # Headers of half a megabyte (20,000 recipients, a subject of 10,000 encoded words): the email package's
    # header parser takes seconds on one, so only their first kilobytes are parsed.
    crowd = ", ".join(f"Member {n} <member{n}@choir.test>" for n in range(20_000))
    subject = " ".join("=?utf-8?q?Chor=C3=BCbung?=" for _ in range(10_000))
    (folder / "crowded.eml").write_bytes(f"From: Choir <choir@choir.test>\nTo: {crowd}\nSubject: {subject}\n\n"
                                         "Rehearsal of the madrigals moves to the boathouse.\n".encode())
    corpus.good.append(GoodFile(folder / "crowded.eml", "rehearsal of the madrigals moves to the boathouse"))
    (folder / "odd charsets.eml").write_bytes(odd)
    corpus.good.append(GoodFile(folder / "odd charsets.eml", "pickled herring and lingonberry jam for midsummer"))


def _empty_files(corpus: BadCorpus, folder: Path) -> None:
    """A zero-byte file of every supported extension."""
    folder.mkdir(parents=True)
    for extension in EXTENSIONS:
        path = folder / f"empty{extension}"
        path.touch()
        corpus.failed[path] = r"empty file \(0 bytes\)"


def _over_the_limits(corpus: BadCorpus, folder: Path) -> None:
    """One file over each limit in LIMITS, and the 10,000-page PDF (under the size limit, over the page limit)."""
    folder.mkdir(parents=True)
    corpus.huge_pdf = write_many_pages(folder / "tide tables.pdf", HUGE_PDF_PAGES)
    corpus.failed[corpus.huge_pdf] = r"skipped: 10,000 pages, over the limit of 5,000 \(OMNIDEX_MAX_PAGES\)"
    size_mb = LIMITS["max_file_mb"] + 1
    noise = np.random.default_rng(7).uniform(-0.1, 0.1, int(size_mb * 2**20 / 2))
    write_wav(folder / "field recording.wav", noise)
    corpus.failed[folder / "field recording.wav"] = r"skipped: 9(\.\d)? MB, over the limit of 8 MB \(OMNIDEX_MAX_FILE_MB\)"
    seconds = LIMITS["max_duration_s"] + 30
    tone = np.sin(2 * np.pi * 220 * np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE) * 0.3
    write_wav(folder / "long tone.wav", tone)
    corpus.failed[folder / "long tone.wav"] = r"skipped: 1 min 30 s long, over the limit of 1 min \(OMNIDEX_MAX_DURATION_S\)"
    silent_video(folder / "long clip.mp4", seconds=seconds, fps=1)
    corpus.failed[folder / "long clip.mp4"] = r"skipped: 1 min 30 s long, over the limit of 1 min \(OMNIDEX_MAX_DURATION_S\)"


def write_many_pages(path: Path, pages: int, block: int = 100) -> Path:
    """A PDF of `pages` small pages with a line of text each, made in seconds by copying a block of pages."""
    with pymupdf.open() as source, pymupdf.open() as doc:
        for n in range(1, block + 1):
            source.new_page(width=300, height=200).insert_text(
                (20, 40), f"Tide table {n} for the harbour berths.", fontsize=9)
        while doc.page_count < pages:
            doc.insert_pdf(source, to_page=min(block, pages - doc.page_count) - 1)
        path.parent.mkdir(parents=True, exist_ok=True)
        doc.save(path)
    return path


def _links_and_odd_entries(corpus: BadCorpus, folder: Path) -> None:
    """A file symlink that points at itself, a folder link back to its parent, and a named pipe."""
    folder.mkdir(parents=True)
    (folder / "loop.pdf").symlink_to(folder / "loop.pdf")
    corpus.failed[folder / "loop.pdf"] = r"symbolic links"
    (folder / "again").symlink_to(folder, target_is_directory=True)  # walking it would never end
    os.mkfifo(folder / "pipe.wav")  # opening it to read would wait forever for a writer
    corpus.failed[folder / "pipe.wav"] = r"not a regular file"
