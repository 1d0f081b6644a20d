"""The preview pane opens each hit at its place: a text file's numbered lines, a web page's whole section, a table's
rows under its header, an e-mail's header and body; driven by AppTest over real files indexed by the facade."""

from __future__ import annotations

import csv
import html
import os
import re
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest
from streamlit import config as streamlit_config
from streamlit.testing.v1 import AppTest

from core.config import Settings
from omnidex.service import Omnidex
from retrieval.search import SearchHit
from ui.places import overlap, passage, table

APP = str(Path(__file__).resolve().parent.parent / "app.py")

GUIDE = """# Pond guide

Keep the pond clear of fallen leaves in autumn.

## Feeding the fish

Goldfish eat flakes twice a day in summer.
Koi take pellets once the water is above ten degrees.
    feeder.set(grams=12)  # indented, as code is
Nobody feeds them under four degrees: their digestion stops.
Leftover food rots and clouds the water.

## Winter

A floating heater keeps a hole in the ice so gases escape.
"""
HERONS = ("Herons hunt at dawn along the shallow margin of the pond and take the slowest fish first. "
          "A net stretched over the water keeps them away, and so does a decoy heron on the bank. ")
HTML = f"""<!doctype html><html><head><title>Garden wildlife</title></head><body>
<nav>Home | Birds | Insects</nav>
<main>
<h2 id="frogs">Frogs</h2><p>Frogs spawn in March among the reeds.</p>
<h2 id="herons">Herons</h2>
<p>{HERONS * 3}</p>
<p>Written by &lt;script&gt;alert('owned')&lt;/script&gt; [click](javascript:alert(1)).</p>
<p>The grey visitor gives up after a week of finding the pike cage closed.</p>
<h2 id="bees">Bees</h2><p>Bees drink at the pebble beach of the pond.</p>
</main></body></html>
"""
SURVEY = [["species", "count", "pond"]] + [[f"species{n}", str(n * 3), f"pond {n % 3}"] for n in range(1, 30)] + [
    ["great crested newt", "7", "north pond"]] + [[f"late{n}", str(n), "south pond"] for n in range(1, 10)]


def shown_html(block: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", block))


@pytest.fixture(autouse=True)
def served_on_loopback(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("OMNIDEX_UI_PASSWORD", raising=False)
    before = streamlit_config.get_option("server.address")
    streamlit_config.set_option("server.address", "127.0.0.1")
    yield
    streamlit_config.set_option("server.address", before)


def mail_with_attachment() -> EmailMessage:
    mail = EmailMessage()
    mail["Subject"], mail["From"] = "Pond pump replacement", "Dana Reed <dana@ponds.example.org>"
    mail["To"], mail["Date"] = "Garden Club <club@ponds.example.org>", "Tue, 04 Jun 2024 09:30:00 +0000"
    mail["Message-ID"] = "<pump-9@ponds.example.org>"
    mail.set_content("The old pump seized; the new one moves four thousand litres an hour and runs silently.")
    rows = "part,price\nimpeller,18\nfilter sponge,9\nsolar fountain head,42\n"
    mail.add_attachment(rows.encode(), maintype="text", subtype="csv", filename="quote.csv")
    return mail


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A Markdown guide, a web page, a CSV survey and an e-mail with a CSV attachment, in short chunks (a section
    is several segments), indexed once; the environment points the app at it."""
    root = tmp_path_factory.mktemp("preview")
    docs = root / "docs"
    docs.mkdir()
    (docs / "guide.md").write_text(GUIDE, encoding="utf-8")
    (docs / "wildlife.html").write_text(HTML, encoding="utf-8")
    with (docs / "survey.csv").open("w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(SURVEY)
    (docs / "pump.eml").write_bytes(mail_with_attachment().as_bytes())
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("OMNIDEX_DATA_DIR", str(root / "data"))
        patch.setenv("OMNIDEX_CHUNK_TOKENS", "48")
        patch.setenv("OMNIDEX_CHUNK_OVERLAP_TOKENS", "12")
        app = Omnidex(Settings())
        report = app.ingest([docs])
        app.close()
        assert report.count("indexed") == 4, report.outcomes
        yield docs


def search(query: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    at.text_input(key="query").input(query).run()
    assert not at.exception, at.exception
    return at


def previewed(at: AppTest) -> SearchHit:
    """The hit the preview pane shows: the first result, until a Preview button is pressed."""
    return at.session_state["results"][1][0]


def test_a_markdown_hit_shows_its_numbered_lines_marked_under_its_heading(library: Path) -> None:
    at = search("koi pellets water above ten degrees")
    hit = previewed(at)
    assert hit.path.endswith("guide.md")
    first, last = hit.payload["line_start"], hit.payload["line_end"]
    blocks = [m.value for m in at.markdown]
    assert "<div><strong>Feeding the fish, " in "".join(blocks)  # the place, with the section heading
    (lines,) = [b for b in blocks if b.startswith("<div><div><code>")]
    numbered = re.findall(r"<div><code>(?:&nbsp;)*(\d+)</code> (.*?)</div>", lines)
    numbers = [int(n) for n, _ in numbered]
    assert numbers == list(range(max(1, first - 5), numbers[-1] + 1)) and numbers[-1] >= last
    text = GUIDE.split("\n")
    for number, shown in numbered:  # each line is the file's own, at its number
        assert " ".join(text[int(number) - 1].split()) in shown_html(shown).replace("\xa0", "")
    marked = {int(n) for n, shown in numbered if shown.startswith("<mark>")}
    assert marked == set(range(first, last + 1)) and 8 in marked  # "Koi take pellets ..." is line 8
    assert "<strong>pellets</strong>" in lines
    assert "&nbsp;" * 4 + "feeder.set" in lines  # code keeps its indentation


def test_a_csv_hit_shows_its_rows_as_a_table_under_the_header(library: Path) -> None:
    at = search("great crested newt")
    hit = previewed(at)
    assert hit.path.endswith("survey.csv")
    first, last = hit.payload["row_start"], hit.payload["row_end"]
    assert first > 2, "short chunks: the newt's rows are not the file's first"
    assert any(shown_html(m.value) == f"Rows {first}-{last}" for m in at.markdown)
    (frame,) = [d.value for d in at.dataframe]
    assert list(frame.columns) == ["species", "count", "pond"]
    assert list(frame.index) == list(range(first, last + 1))
    assert [list(row) for row in frame.itertuples(index=False)] == SURVEY[first - 1:last]  # row 1 is the header
    assert "great crested newt" in list(frame["species"])


def test_an_email_hit_shows_its_header_then_its_body(library: Path) -> None:
    at = search("new pump litres an hour silently")
    hit = previewed(at)
    assert hit.path.endswith("pump.eml") and not hit.payload.get("attachment")
    (head,) = [shown_html(m.value) for m in at.markdown if m.value.startswith("<div><div><strong>Subject:")]
    assert "Subject: Pond pump replacement" in head and "From: Dana Reed <dana@ponds.example.org>" in head
    assert "To: Garden Club <club@ponds.example.org>" in head and "Date: 2024-06-04" in head
    (body,) = [m.value for m in at.markdown if "<mark>" in m.value]
    # the header lines the indexer put at the body's head are said once, above it
    assert "four thousand litres" in shown_html(body) and "Subject:" not in body


def test_an_attachment_hit_names_its_message_and_shows_its_table(library: Path) -> None:
    at = search("solar fountain head price")
    hit = previewed(at)
    assert hit.payload.get("attachment") == "quote.csv"
    shown = [shown_html(m.value) for m in at.markdown]
    assert any("Attachment: quote.csv, attachment of <pump-9@ponds.example.org>" in s for s in shown)
    (frame,) = [d.value for d in at.dataframe]
    assert list(frame.columns) == ["part", "price"] and ["solar fountain head", "42"] in frame.values.tolist()


def test_an_html_hit_shows_its_whole_section_and_the_link_to_copy(library: Path) -> None:
    at = search("pike cage closed grey visitor")
    hit = previewed(at)
    assert hit.path.endswith("wildlife.html") and hit.payload["section"] == "Herons"
    (section,) = [m.value for m in at.markdown if "<mark>" in m.value]
    assert set(re.findall(r"</?(\w+)", section)) <= {"div", "p", "mark", "strong", "em"}, "no tag but our own"
    text = shown_html(section)
    assert "Herons hunt at dawn" in text  # the section's start, though the hit is its end
    assert "pike cage closed" in text and "<strong>pike</strong>" in section
    assert "<script>alert('owned')</script> [click](javascript:alert(1))" in text  # shown, not run
    assert "Frogs spawn" not in text and "Bees drink" not in text  # the other sections are not
    assert text.count("take the slowest fish first") == 3  # the chunks' overlaps are said once
    (link,) = at.code
    assert link.value == f"{library / 'wildlife.html'}#herons"
    assert any(shown_html(m.value) == "Herons" for m in at.markdown)  # headed by its place


def test_a_section_is_put_together_in_order_with_each_overlap_cut_once() -> None:
    def segment(n: int, text: str) -> SearchHit:
        return SearchHit(id=str(n), score=0.0, path="/p.html", file_type="html", modality="text", text=text,
                         snippet="", payload={"locator": f"S1:c{n}", "section": "Herons"})

    parts = [segment(0, "Herons hunt at dawn along the margin"), segment(1, "along the margin of the pond."),
             segment(2, "A net keeps them away.")]
    other = SearchHit(id="x", score=0.0, path="/p.html", file_type="html", modality="text", text="Bees drink.",
                      snippet="", payload={"locator": "S2:c3", "section": "Herons"})  # same title, next section
    found = passage(parts[1], [parts[2], other, parts[0], parts[1]])
    assert [(p.text, p.hit) for p in found.pieces] == [("Herons hunt at dawn ", False),
                                                        ("along the margin of the pond.", True),
                                                        ("A net keeps them away.", False)]
    assert overlap("the cat sat", "cat sat down") == 0  # under the probe's twelve characters: chance
    same = "Herons hunt at dawn."
    assert overlap(same, same) == 0 and overlap("x " + same, same + " y") == len(same)  # text that repeats
    assert overlap("the big koiheron met a fr", "heron met a frog") == 0  # nor one that starts inside a word
    long_a, long_b = "Herons hunt at dawn", "hunt at dawn and dusk"
    assert overlap(long_a, long_b) == len("hunt at dawn")
    rows = SearchHit(id="r", score=0.0, path="/s.csv", file_type="sheet", modality="text",
                     text="a | b | a\n1 |  | 3\n4 | 5 | 6 | 7", snippet="", payload={"row_start": 2, "row_end": 3})
    made = table(rows, [rows])
    assert made.columns == ["a", "b", "a (2)", "column 4"] and made.rows[0] == ["1", "", "3", ""]
    assert made.numbers == [2, 3]


def test_a_text_file_changed_since_indexing_shows_the_indexed_text(library: Path) -> None:
    """Touched (same bytes, new time): its lines as before. Edited: its lines may have moved, so the indexed text
    and a note to re-index, not lines that are no longer the hit's."""
    guide = library / "guide.md"
    before = guide.stat()
    try:
        os.utime(guide, (before.st_atime, before.st_mtime + 60))
        at = search("koi pellets water above ten degrees")
        assert any(m.value.startswith("<div><div><code>") for m in at.markdown)
        guide.write_text("# New first line\n\n" + GUIDE, encoding="utf-8")
        at = search("koi pellets water above ten degrees")
        assert not any(m.value.startswith("<div><div><code>") for m in at.markdown)
        assert any("has changed since it was indexed" in c.value for c in at.caption)
        assert any("Koi take pellets" in t.value for t in at.text)
    finally:
        guide.write_text(GUIDE, encoding="utf-8")
        os.utime(guide, (before.st_atime, before.st_mtime))
