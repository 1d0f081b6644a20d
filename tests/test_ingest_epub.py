"""E-books (EPUB) the whole way: a real EPUB built with the standard library, searched to its chapter.

Real models and the embedded store, as tests/test_ingest_text.py does.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from ingest.catalog import FAILED, INDEXED
from omnidex.service import Omnidex
from retrieval.present import hit_json, place
from tests.conftest import make_settings

CONTAINER = """<?xml version="1.0" encoding="UTF-8"?>
<container version="1.0" xmlns="urn:oasis:names:tc:opendocument:xmlns:container">
  <rootfiles><rootfile full-path="OEBPS/content.opf" media-type="application/oebps-package+xml"/></rootfiles>
</container>"""

OPF = """<?xml version="1.0" encoding="UTF-8"?>
<package xmlns="http://www.idpf.org/2007/opf" version="3.0" unique-identifier="id">
  <metadata xmlns:dc="http://purl.org/dc/elements/1.1/">
    <dc:identifier id="id">urn:uuid:1b2c3d4e-0000-4000-8000-000000000001</dc:identifier>
    <dc:title>The Lighthouse Year</dc:title>
    <dc:creator>Ada Keldby</dc:creator>
    <dc:language>en</dc:language>
    <meta property="dcterms:modified">2026-01-01T00:00:00Z</meta>
  </metadata>
  <manifest>
    <item id="nav" href="nav.xhtml" media-type="application/xhtml+xml" properties="nav"/>
    <item id="ch1" href="ch1.xhtml" media-type="application/xhtml+xml"/>
    <item id="ch2" href="ch2.xhtml" media-type="application/xhtml+xml"/>
  </manifest>
  <spine><itemref idref="ch1"/><itemref idref="ch2"/></spine>
</package>"""

# As real books open their pages: EPUB 3's bare document type, EPUB 2's XHTML public DTD (neither declares
# entities, so the package check lets both through).
NAV = """<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE html>
<html xmlns="http://www.w3.org/1999/xhtml" xmlns:epub="http://www.idpf.org/2007/ops"><head><title>Contents</title></head>
<body><nav epub:type="toc"><ol>
  <li><a href="ch1.xhtml">Chapter 1: Spring tides</a></li>
  <li><a href="ch2.xhtml">Chapter 2: The winter storm</a></li>
</ol></nav></body></html>"""


def chapter(title: str, paragraphs: list[str]) -> str:
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    return (f'<?xml version="1.0" encoding="UTF-8"?><!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.1//EN" '
            f'"http://www.w3.org/TR/xhtml11/DTD/xhtml11.dtd"><html xmlns="http://www.w3.org/1999/xhtml"><head>'
            f"<title>{title}</title></head><body><h1>{title}</h1>{body}</body></html>")


CH1 = ["The keeper rowed out to the reef each morning to check the spring tide markers."] + [
    f"Day {n}: gulls nested on the rocks and the tide ran high." for n in range(40)]
CH2 = ["In December a gale tore the copper roof from the lamp room and smashed two panes of the lantern."] + [
    f"Night {n}: the wind howled and the keeper kept the lamp lit." for n in range(40)]


def write_epub(path: Path) -> None:
    with zipfile.ZipFile(path, "w") as z:
        z.writestr(zipfile.ZipInfo("mimetype"), "application/epub+zip")  # first and stored, as EPUB requires
        z.writestr("META-INF/container.xml", CONTAINER, zipfile.ZIP_DEFLATED)
        z.writestr("OEBPS/content.opf", OPF, zipfile.ZIP_DEFLATED)
        z.writestr("OEBPS/nav.xhtml", NAV, zipfile.ZIP_DEFLATED)
        z.writestr("OEBPS/ch1.xhtml", chapter("Chapter 1: Spring tides", CH1), zipfile.ZIP_DEFLATED)
        z.writestr("OEBPS/ch2.xhtml", chapter("Chapter 2: The winter storm", CH2), zipfile.ZIP_DEFLATED)


@pytest.fixture(scope="module")
def epub_index(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("books")
    docs = root / "docs"
    docs.mkdir()
    write_epub(docs / "lighthouse.epub")
    with zipfile.ZipFile(docs / "plain.epub", "w") as z:  # a ZIP, but no e-book
        z.writestr("notes.txt", "not a book")
    (docs / "fake.epub").write_text("just some text in an .epub name")
    app = Omnidex(make_settings(root / "data"))
    report = app.ingest([docs])
    yield app, report, docs
    app.close()


def test_the_book_lands_and_mislabelled_ones_fail_clearly(epub_index) -> None:
    _, report, _ = epub_index
    outcomes = {o.path.name: o for o in report.outcomes}
    assert outcomes["lighthouse.epub"].status == INDEXED and not outcomes["lighthouse.epub"].partial
    assert outcomes["plain.epub"].status == FAILED and "without the EPUB mimetype" in outcomes["plain.epub"].error
    assert outcomes["fake.epub"].status == FAILED
    assert "not an EPUB e-book" in outcomes["fake.epub"].error and "plain text" in outcomes["fake.epub"].error


def test_a_search_lands_on_the_right_chapter(epub_index) -> None:
    app, _, _ = epub_index
    storm = app.search("a gale tore the copper roof from the lamp room", limit=3)[0]
    assert Path(storm.path).name == "lighthouse.epub" and storm.file_type == "ebook"
    assert storm.payload["chapter"] == "Chapter 2: The winter storm"
    assert place(storm) == "Chapter 2: The winter storm" and storm.page is not None
    assert hit_json(storm)["chapter"] == "Chapter 2: The winter storm"
    assert storm.payload["title"] == "The Lighthouse Year" and storm.payload["author"] == "Ada Keldby"
    tides = app.search("rowed out to the reef to check the spring tide markers type:ebook", limit=3)[0]
    assert tides.payload["chapter"] == "Chapter 1: Spring tides" and tides.page < storm.page


def test_reingest_adds_nothing(epub_index) -> None:
    app, first, docs = epub_index
    before = app.status()
    again = app.ingest([docs])
    assert again.count("unchanged") == first.count("indexed") == 1
    assert again.points_written == 0 and again.count("indexed") == 0
    assert app.status() == before


def test_a_zip_bomb_is_refused_before_it_is_opened(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    with zipfile.ZipFile(docs / "bomb.epub", "w") as z:
        z.writestr(zipfile.ZipInfo("mimetype"), "application/epub+zip")
        z.writestr("OEBPS/huge.xhtml", b"\0" * (12 << 20), zipfile.ZIP_DEFLATED)  # 12 MB in a few KB
    assert (docs / "bomb.epub").stat().st_size < 1 << 20
    app = Omnidex(make_settings(tmp_path / "data", max_file_mb=1))
    try:
        outcome = app.ingest([docs]).outcomes[0]
        assert outcome.status == FAILED
        assert "decompresses to more than 10 MB" in outcome.error and "OMNIDEX_MAX_FILE_MB" in outcome.error
    finally:
        app.close()


def test_a_page_declaring_entities_is_refused_a_bare_document_type_is_not(tmp_path: Path) -> None:
    """The package check lets through the document types real books carry (the book above has both kinds) and
    refuses an internal subset, however long the public id before it (the check reads across its blocks)."""
    from ingest.errors import ExtractionError
    from ingest.package import check_package

    long_public = "-//" + "x" * 300 + "//EN"
    for n, page in enumerate([
        '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">]><html><body>&lol;</body></html>',
        f'<?xml version="1.0"?><!DOCTYPE html PUBLIC "{long_public}" "x.dtd" [<!ATTLIST p a CDATA "b">]><html/>',
        '<?xml version="1.0"?><!DOCTYPE html SYSTEM "file:///etc/passwd"' + " " * 500 + "><html/>",
    ]):
        path = tmp_path / f"bad{n}.epub"
        with zipfile.ZipFile(path, "w") as z:
            z.writestr(zipfile.ZipInfo("mimetype"), "application/epub+zip")
            z.writestr("OEBPS/ch1.xhtml", page, zipfile.ZIP_DEFLATED)
        with pytest.raises(ExtractionError, match="declares entities"):
            check_package(path, 10, "EPUB e-book")
    write_epub(tmp_path / "good.epub")
    check_package(tmp_path / "good.epub", 10, "EPUB e-book")  # no error
