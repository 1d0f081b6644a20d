"""OpenDocument texts and presentations the whole way: a text's sections with their anchors and pages, a deck's
slides with their numbers and notes; found by their words. Real files made by odfdo (and the LibreOffice-made
sample odfdo ships), real models and the embedded store."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import odfdo
import pytest
from odfdo import Cell, Document, DrawPage, Element, Frame, Header, Paragraph, PresentationNotes, Row, Table
from PIL import Image
from skimage import data as skdata

from ingest.catalog import FAILED, INDEXED
from ingest.opendocument import open_document, read_odp_slides, read_text_pieces
from omnidex.service import Omnidex
from retrieval.filters import SearchFilters
from retrieval.present import hit_json, label, place
from tests.bad_inputs import xml_bomb, zip_bomb
from tests.conftest import make_settings

LIBREOFFICE_SAMPLE = Path(odfdo.__file__).parent / "templates" / "lpod_styles.odt"  # saved by LibreOffice


def _jpeg() -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(skdata.coffee()).save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


def write_odt(path: Path, soft_breaks: bool = True) -> Path:
    """A text in three sections: a table, a list, a bookmarked heading, a picture, and LibreOffice's page marks."""
    document = Document("text")
    document.body.clear()
    document.meta.title = "Lighthouse keeper's log"
    body = document.body
    body.append(Paragraph("Kept by the keeper of the north light."))
    body.append(Header(1, "Lamp and lens"))
    body.append(Paragraph("The mercury bath under the lens was topped up after the autumn gale."))
    table = Table("Spares")
    for values in (["part", "count"], ["burner mantle", "12"], ["wick trimmer", "3"]):
        table.append_row(_row(values))
    body.append(table)
    if soft_breaks:
        body.append(Element.from_tag("<text:soft-page-break/>"))
    body.append(Header(2, "Fog signal"))
    body.append(Paragraph("The fog horn compressor was stripped and its valves reground."))
    uri = document.add_file(io.BytesIO(_jpeg()))
    picture = Paragraph("")
    picture.append(Frame.image_frame(uri, size=("8cm", "6cm"), anchor_type="paragraph"))
    body.append(picture)
    if soft_breaks:
        body.append(Element.from_tag("<text:soft-page-break/>"))
    heading = Header(1, "Stores")
    heading.append(Element.from_tag('<text:bookmark text:name="stores"/>'))
    body.append(heading)
    body.append(Paragraph("Paraffin for the winter arrived on the supply boat."))
    document.save(path)
    return path


def _row(values: list[str]) -> Row:
    row = Row()
    for value in values:
        row.append_cell(Cell(value))
    return row


def write_odp(path: Path) -> Path:
    """A deck of three slides: titles, text, speaker notes, a picture on the third."""
    document = Document("presentation")
    document.body.clear()
    document.meta.title = "Shipyard quarterly"
    slides = [("Quarterly numbers", "Welding hours fell by a fifth after the new jigs.", "Thank the night shift."),
              ("Hiring plan", "Two riveters and a crane driver join in spring.", ""),
              ("The new dry dock", "The dry dock gates were hung in March.", "")]
    for n, (title, text, note) in enumerate(slides, 1):
        page = DrawPage(f"p{n}", name=title)
        page.append(Frame.text_frame(title, size=("20cm", "3cm"), position=("1cm", "1cm"),
                                     presentation_class="title"))
        page.append(Frame.text_frame(text, size=("20cm", "8cm"), position=("1cm", "5cm")))
        if n == 3:
            uri = document.add_file(io.BytesIO(_jpeg()))
            page.append(Frame.image_frame(uri, size=("8cm", "6cm"), position=("2cm", "10cm")))
        if note:
            notes = PresentationNotes()
            notes.append(Frame.text_frame(note, size=("16cm", "6cm"), position=("1cm", "14cm"),
                                          presentation_class="notes"))
            page.append(notes)
        document.body.append(page)
    document.save(path)
    return path


@pytest.fixture(scope="module")
def odf_index(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("odf")
    docs = root / "docs"
    docs.mkdir()
    write_odt(docs / "log.odt")
    write_odp(docs / "shipyard.odp")
    (docs / "notes.odt").write_text("A note saved under the wrong name.\n" * 20)
    app = Omnidex(make_settings(root / "data"))
    report = app.ingest([docs])
    yield app, report, docs
    app.close()


def test_a_text_is_read_in_sections_with_pages_and_anchors(tmp_path: Path) -> None:
    pieces = read_text_pieces(open_document(write_odt(tmp_path / "log.odt"), 100))
    assert [(p.title, p.level, p.page) for p in pieces] == [(None, 0, 1), ("Lamp and lens", 1, 1),
                                                            ("Fog signal", 2, 2), ("Stores", 1, 3)]
    assert [p.anchor for p in pieces] == [None, "Lamp and lens|outline", "Fog signal|outline", "stores"]
    assert "burner mantle | 12" in pieces[1].text() and len(pieces[2].pictures) == 1
    unpaged = read_text_pieces(open_document(write_odt(tmp_path / "unpaged.odt", soft_breaks=False), 100))
    assert {p.page for p in unpaged} == {None}
    # A text LibreOffice saved: its own heading bookmarks and page marks.
    real = read_text_pieces(open_document(LIBREOFFICE_SAMPLE, 100))
    assert [(p.title, p.page) for p in real][1:] == [("Title One", 2), ("Title Two", 2), ("Title Three", 2)]
    assert real[1].anchor.startswith("__RefHeading__") and "A | B | C" in real[3].text()


def test_a_deck_is_read_slide_by_slide(tmp_path: Path) -> None:
    slides = read_odp_slides(open_document(write_odp(tmp_path / "deck.odp"), 100))
    assert [(s.number, s.title) for s in slides] == [(1, "Quarterly numbers"), (2, "Hiring plan"),
                                                     (3, "The new dry dock")]
    assert slides[0].notes == "Thank the night shift." and slides[0].body == [
        "Welding hours fell by a fifth after the new jigs."]
    assert len(slides[2].pictures) == 1 and not slides[0].pictures


def test_files_land_and_a_mislabelled_one_fails(odf_index) -> None:
    _, report, _ = odf_index
    outcomes = {o.path.name: o for o in report.outcomes}
    assert outcomes["log.odt"].status == INDEXED and outcomes["shipyard.odp"].status == INDEXED
    assert outcomes["notes.odt"].status == FAILED
    assert "not an OpenDocument text" in outcomes["notes.odt"].error and "plain text" in outcomes["notes.odt"].error


def test_a_search_opens_the_section_or_the_slide(odf_index) -> None:
    app, _, _ = odf_index
    fog = app.search("fog horn compressor valves reground", limit=3)[0]
    assert Path(fog.path).name == "log.odt" and fog.file_type == "document"
    assert (fog.payload["section"], fog.payload["anchor"], fog.page) == ("Fog signal", "Fog signal|outline", 2)
    assert place(fog) == "Fog signal, page 2" and label(fog) == "log.odt · Fog signal, page 2"
    assert hit_json(fog)["anchor"] == "Fog signal|outline" and fog.payload["title"] == "Lighthouse keeper's log"
    stores = app.search("paraffin for the winter supply boat type:odt", limit=3)[0]
    assert stores.payload["anchor"] == "stores" and stores.page == 3
    riveters = app.search("riveters and a crane driver join in spring", limit=3)[0]
    assert Path(riveters.path).name == "shipyard.odp" and riveters.file_type == "slides"
    assert riveters.slide == 2 and place(riveters) == "slide 2" and riveters.payload["slide_title"] == "Hiring plan"
    night = app.search("thank the night shift type:odp", limit=3)[0]
    assert night.slide == 1 and "Speaker notes: Thank the night shift." in night.text
    assert {h.file_type for h in app.search("dry dock gates type:presentation", limit=5)} == {"slides"}


def test_pictures_go_the_picture_way(odf_index) -> None:
    app, _, _ = odf_index
    assert app.counts("modality", SearchFilters(file_types=("document",))).get("image") == 1
    assert app.counts("modality", SearchFilters(file_types=("slides",))).get("image") == 1
    cups = [h for h in app.search("a cup of coffee", group=False, limit=20) if h.modality == "image"]
    places = {(Path(h.path).name, h.page, h.slide, h.payload.get("section")) for h in cups}
    assert places == {("log.odt", 2, None, "Fog signal"), ("shipyard.odp", None, 3, None)}


def test_hostile_opendocument_files_fail_with_their_reason(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    good = write_odt(docs / "good.odt")
    zip_bomb(good, docs / "bomb.odt", "Pictures/huge.bin", 11 << 20)
    xml_bomb(good, docs / "laughs.odt", "content.xml")
    with zipfile.ZipFile(good) as old, zipfile.ZipFile(docs / "passwd.odp", "w") as new:  # an external entity
        new.writestr("mimetype", "application/vnd.oasis.opendocument.presentation")
        new.writestr("content.xml", '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
                                    '<office:document-content>&xxe;</office:document-content>')
    # Saved with a password: the manifest says how each part was encrypted, the parts are ciphertext.
    with zipfile.ZipFile(good) as old, zipfile.ZipFile(docs / "locked.odt", "w") as new:
        for item in old.infolist():
            data = old.read(item)
            if item.filename == "META-INF/manifest.xml":
                data = data.replace(b'full-path="content.xml" manifest:media-type="text/xml"/>',
                                    b'full-path="content.xml" manifest:media-type="text/xml">'
                                    b'<manifest:encryption-data manifest:checksum-type="SHA1/1K" manifest:checksum='
                                    b'"x"><manifest:algorithm manifest:algorithm-name="Blowfish CFB"/>'
                                    b'</manifest:encryption-data></manifest:file-entry>')
            elif item.filename == "content.xml":
                data = bytes(range(256)) * 8
            new.writestr(item, data)
    with zipfile.ZipFile(docs / "other.odt", "w") as z:  # a ZIP, but a spreadsheet's
        z.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet")
    (docs / "empty.odp").write_bytes(b"")
    app = Omnidex(make_settings(tmp_path / "data", max_file_mb=1))
    try:
        outcomes = {o.path.name: o for o in app.ingest([docs]).outcomes}
        assert outcomes["good.odt"].status == INDEXED
        reasons = {name: o.error for name, o in outcomes.items() if o.status == FAILED}
        assert set(reasons) == {"bomb.odt", "laughs.odt", "passwd.odp", "locked.odt", "other.odt", "empty.odp"}
        assert "decompresses to more than 10 MB" in reasons["bomb.odt"]
        assert "content.xml declares entities" in reasons["laughs.odt"]
        assert "content.xml declares entities" in reasons["passwd.odp"]
        assert reasons["locked.odt"].startswith("encrypted OpenDocument text: it is password-protected")
        assert "without the OpenDocument text mimetype" in reasons["other.odt"]
        assert reasons["empty.odp"] == "empty file (0 bytes)"
    finally:
        app.close()
