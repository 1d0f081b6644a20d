"""Word documents the whole way: sections at headings with their anchors and pages, tables, pictures; found by
their words and opened at their section. Real files made by python-docx (and the blank document Word made
that ships inside python-docx), real models and the embedded store."""

from __future__ import annotations

import io
from pathlib import Path

import docx
import pytest
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Inches
from skimage import data as skdata
from PIL import Image

from ingest.catalog import FAILED, INDEXED
from ingest.word import read_pieces
from omnidex.service import Omnidex
from retrieval.filters import SearchFilters
from retrieval.present import hit_json, label, place
from tests.bad_inputs import encrypt_office, write_docx, xml_bomb, zip_bomb
from tests.conftest import make_settings

WORD_BLANK = Path(docx.__file__).parent / "templates" / "default.docx"  # made by Word, shipped by python-docx


def write_harbour(path: Path) -> Path:
    """Three sections over three pages: a table, a picture, a bookmarked heading, and Word's rendered page marks
    on the third page (as Word writes them when it lays a document out)."""
    document = docx.Document()
    document.core_properties.title = "Harbour board report"
    document.add_paragraph("Prepared for the harbour board by the port engineer.")
    document.add_heading("Crane maintenance", 1)
    document.add_paragraph("The gantry crane on the container quay is greased every Tuesday before dawn.")
    table = document.add_table(rows=3, cols=3)
    for r, row in enumerate([["crane", "tonnes", "built"], ["Goliath", "80", "1994"], ["Samson", "45", "2008"]]):
        for c, value in enumerate(row):
            table.cell(r, c).text = value
    document.add_paragraph("Crane logs are kept in the harbour office.")
    document.add_page_break()
    document.add_heading("Dredging the channel", 2)
    buffer = io.BytesIO()
    Image.fromarray(skdata.coffee()).save(buffer, "JPEG", quality=85)
    document.add_picture(io.BytesIO(buffer.getvalue()), width=Inches(3))
    document.add_paragraph("The approach channel was dredged to nine metres so the bulk carriers can berth.")
    document.add_page_break()
    heading = document.add_heading("Lighthouse lamp", 1)
    mark = OxmlElement("w:bookmarkStart")
    mark.set(qn("w:id"), "7")
    mark.set(qn("w:name"), "_Toc1234")
    heading._p.insert(1, mark)
    document.add_paragraph("A new mercury float bearing keeps the lighthouse lens turning smoothly.")
    document.save(path)
    return path


def with_rendered_breaks(source: Path, target: Path) -> Path:
    """The document as Word saves it after laying it out: each page's first run starts with a rendered break."""
    document = docx.Document(str(source))
    for br in list(document.element.body.iter(qn("w:br"))):
        br.getparent().remove(br)
    for p in document.paragraphs:
        if p.text.startswith(("Crane logs", "Dredging", "Lighthouse")):
            p.runs[0]._r.insert(0, OxmlElement("w:lastRenderedPageBreak"))
    document.save(target)
    return target


@pytest.fixture(scope="module")
def word_index(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("word")
    docs = root / "docs"
    docs.mkdir()
    write_harbour(docs / "harbour.docx")
    write_docx(docs / "minutes.docx", [("Attendance", "The ferry captain and the pilot were present."),
                                       ("Tide gauge", "The tide gauge at the north mole reads ten centimetres low.")])
    (docs / "photo.docx").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4)
    app = Omnidex(make_settings(root / "data"))
    report = app.ingest([docs])
    yield app, report, docs
    app.close()


def test_sections_pages_tables_and_pictures_are_read(tmp_path: Path) -> None:
    path = write_harbour(tmp_path / "harbour.docx")
    pieces = read_pieces(docx.Document(str(path)))
    assert [(p.title, p.page) for p in pieces] == [(None, 1), ("Crane maintenance", 1),
                                                   ("Dredging the channel", 2), ("Lighthouse lamp", 3)]
    assert [p.anchor for p in pieces] == [None, "crane-maintenance", "dredging-the-channel", "_Toc1234"]
    assert "Goliath | 80 | 1994" in pieces[1].text() and len(pieces[2].pictures) == 1
    # Laid out by Word: the rendered marks say where pages began, and the sections keep them.
    rendered = read_pieces(docx.Document(str(with_rendered_breaks(path, tmp_path / "laid out.docx"))))
    assert [(p.title, p.page) for p in rendered] == [(None, 1), ("Crane maintenance", 1), ("Crane maintenance", 2),
                                                     ("Dredging the channel", 3), ("Lighthouse lamp", 4)]
    assert rendered[2].text() == "Crane logs are kept in the harbour office."
    # Without any page break the page is unknown, and none is claimed.
    plain = read_pieces(docx.Document(str(write_docx(tmp_path / "plain.docx", [("A", "one"), ("B", "two")]))))
    assert [(p.title, p.page) for p in plain] == [("A", None), ("B", None)]


def test_documents_land_and_a_mislabelled_one_fails(word_index) -> None:
    _, report, _ = word_index
    outcomes = {o.path.name: o for o in report.outcomes}
    assert outcomes["harbour.docx"].status == INDEXED and not outcomes["harbour.docx"].partial
    assert outcomes["minutes.docx"].status == INDEXED
    assert outcomes["photo.docx"].status == FAILED and "not a Word document" in outcomes["photo.docx"].error


def test_a_search_opens_the_section_and_its_page(word_index) -> None:
    app, _, _ = word_index
    top = app.search("approach channel dredged to nine metres for bulk carriers", limit=3)[0]
    assert Path(top.path).name == "harbour.docx" and top.file_type == "document"
    assert top.payload["section"] == "Dredging the channel" and top.payload["anchor"] == "dredging-the-channel"
    assert top.page == 2 and place(top) == "Dredging the channel, page 2"
    assert label(top) == "harbour.docx · Dredging the channel, page 2"
    row = hit_json(top)
    assert (row["section"], row["anchor"], row["page"]) == ("Dredging the channel", "dredging-the-channel", 2)
    assert top.payload["title"] == "Harbour board report"
    lamp = app.search("mercury float bearing lighthouse lens", limit=3)[0]
    assert lamp.payload["anchor"] == "_Toc1234" and lamp.page == 3  # Word's own bookmark: path#_Toc1234 opens it
    crane = app.search("Goliath crane tonnes built 1994", limit=3)[0]
    assert crane.payload["section"] == "Crane maintenance" and "Goliath | 80 | 1994" in crane.text
    gauge = app.search("tide gauge north mole", limit=3)[0]
    assert Path(gauge.path).name == "minutes.docx" and place(gauge) == "Tide gauge" and gauge.page is None


def test_the_picture_goes_the_picture_way_and_the_type_filter_knows_word(word_index) -> None:
    app, _, _ = word_index
    modalities = app.counts("modality", SearchFilters(file_types=("document",)))
    assert modalities.get("image") == 1
    picture = app.search("a cup of coffee type:docx", group=False, limit=10)
    picture = [h for h in picture if h.modality == "image"]
    assert picture and picture[0].payload["section"] == "Dredging the channel" and picture[0].page == 2
    for alias in ("word", "docx", "document"):
        hits = app.search(f"ferry captain pilot type:{alias}", limit=5)
        assert hits and {h.file_type for h in hits} == {"document"}
    assert not app.search("ferry captain pilot type:pdf", limit=5)


def test_reingest_adds_nothing(word_index) -> None:
    app, first, docs = word_index
    before = app.status()
    again = app.ingest([docs])
    assert again.count("unchanged") == first.count("indexed") == 2
    assert again.points_written == 0 and app.status() == before


def test_hostile_word_files_fail_with_their_reason(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    good = write_docx(docs / "good.docx", [("Weir", "The lock keeper asked for a new winch.")])
    encrypt_office(good, docs / "locked.docx", "hunter2")
    zip_bomb(good, docs / "bomb.docx", "word/media/huge.bin", 11 << 20)
    xml_bomb(good, docs / "laughs.docx", "word/document.xml")
    (docs / "old.docx").write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(4096))  # a .doc renamed
    (docs / "empty.docx").write_bytes(b"")
    blank = docs / "blank.docx"
    blank.write_bytes(WORD_BLANK.read_bytes())
    app = Omnidex(make_settings(tmp_path / "data", max_file_mb=1))
    try:
        outcomes = {o.path.name: o for o in app.ingest([docs]).outcomes}
        assert outcomes["good.docx"].status == INDEXED
        reasons = {name: o.error for name, o in outcomes.items() if o.status == FAILED}
        assert set(reasons) == {"locked.docx", "bomb.docx", "laughs.docx", "old.docx", "empty.docx", "blank.docx"}
        assert reasons["locked.docx"].startswith("encrypted Word document: it is password-protected")
        assert "decompresses to more than 10 MB" in reasons["bomb.docx"] and "OMNIDEX_MAX_FILE_MB" in reasons["bomb.docx"]
        assert "word/document.xml declares entities" in reasons["laughs.docx"]
        assert "older binary Office format" in reasons["old.docx"]
        assert reasons["empty.docx"] == "empty file (0 bytes)"
        assert reasons["blank.docx"] == "Word document has no text"
    finally:
        app.close()


def test_a_huge_document_is_cut_at_the_text_budget(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    write_docx(docs / "log.docx", [(f"Entry {n}", f"Logbook entry {n}: the barometer fell again. " * 20)
                                   for n in range(60)])
    app = Omnidex(make_settings(tmp_path / "data", max_text_chars_per_file=5_000))
    try:
        outcome = app.ingest([docs]).outcomes[0]
        assert outcome.status == INDEXED and "OMNIDEX_MAX_TEXT_CHARS_PER_FILE" in outcome.partial
        sections = {h.payload["section"] for h in app.search("logbook barometer", group=False, limit=100)}
        assert "Entry 0" in sections and "Entry 59" not in sections
    finally:
        app.close()
