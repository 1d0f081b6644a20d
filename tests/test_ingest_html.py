"""Saved web pages the whole way: main text only, sections at headings, each linked by its anchor.

Real models and the embedded store, as tests/test_ingest_text.py does.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ingest.catalog import FAILED, INDEXED
from ingest.html import parse_page
from omnidex.service import Omnidex
from retrieval.present import hit_json, label, place
from tests.conftest import make_settings

PAGE = """\
<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Beekeeping at Hollow Farm</title>
  <style>.menu { color: red } body { font-family: serif }</style>
  <script>window.analytics = "tracking pixel zebra quokka";</script>
</head>
<body>
  <header class="site-header"><a href="/">Hollow Farm</a> <span>Subscribe to our newsletter</span></header>
  <nav><ul><li><a href="/shop">Shop quokka mugs</a></li><li><a href="/about">About us</a></li></ul></nav>
  <div class="breadcrumbs">Home &gt; Guides &gt; Bees</div>
  <main>
    <h1 id="top">Beekeeping at Hollow Farm</h1>
    <p>Our twelve hives stand in the orchard behind the old granary.</p>
    <section id="swarm-control">
      <h2>Swarm control</h2>
      <p>In May we split any colony that builds queen cells, moving the old queen to a nucleus box.</p>
      <p>A <em>clipped</em> queen cannot fly far, so a swarm settles in the hedge near the apiary.</p>
    </section>
    <h2 id="honey-harvest">Honey harvest</h2>
    <p>Supers come off in August; the frames are spun in a hand-cranked extractor in the dairy.</p>
    <table><tr><th>Year</th><th>Jars</th></tr><tr><td>2024</td><td>310</td></tr></table>
    <span id="winter"></span><h2>Winter feeding</h2>
    <p>Fondant blocks go on the crown boards once the ivy flow ends in November.</p>
    <form><input name="q"><button>Search the quokka archive</button></form>
  </main>
  <aside class="sidebar">Related posts: the zebra quokka sale</aside>
  <footer>Copyright Hollow Farm. Cookie policy. Quokka zebra.</footer>
</body>
</html>
"""

NO_MAIN = """<html><head><title>Untitled notes</title></head><body>
<div id="menu"><a href="/">quokka home</a></div>
<h1>Kiln log</h1><p>The wood-fired kiln reached cone ten after thirty hours of stoking.</p>
<div class="footer">quokka footer</div></body></html>
"""


@pytest.fixture(scope="module")
def html_index(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("pages")
    docs = root / "docs"
    docs.mkdir()
    (docs / "bees.html").write_text(PAGE, encoding="utf-8")
    (docs / "kiln.htm").write_text(NO_MAIN, encoding="utf-8")
    (docs / "photo.html").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4)
    real = Path("/usr/share/doc/libffi8/html/Introduction.html")  # a real Texinfo page, where installed
    if real.exists():
        shutil.copy(real, docs / "libffi-intro.html")
    app = Omnidex(make_settings(root / "data"))
    report = app.ingest([docs])
    yield app, report, docs
    app.close()


def test_pages_land_and_a_binary_one_fails(html_index) -> None:
    _, report, _ = html_index
    outcomes = {o.path.name: o for o in report.outcomes}
    assert outcomes["bees.html"].status == INDEXED and outcomes["kiln.htm"].status == INDEXED
    assert outcomes["photo.html"].status == FAILED and "PNG" in outcomes["photo.html"].error


def test_a_search_lands_on_the_section_and_its_anchor(html_index) -> None:
    app, _, _ = html_index
    top = app.search("splitting a colony that builds queen cells in May", limit=3)[0]
    assert Path(top.path).name == "bees.html" and top.file_type == "html"
    assert top.payload["section"] == "Swarm control"
    assert top.payload["anchor"] == "swarm-control"  # the enclosing section's id: the heading has none
    assert top.payload["title"] == "Beekeeping at Hollow Farm"
    assert place(top) == "Swarm control" and label(top) == "bees.html · Swarm control"
    assert hit_json(top)["anchor"] == "swarm-control" and hit_json(top)["section"] == "Swarm control"

    honey = app.search("frames spun in a hand-cranked extractor", limit=3)[0]
    assert honey.payload["section"] == "Honey harvest" and honey.payload["anchor"] == "honey-harvest"
    assert "2024 | 310" in honey.text or "310" in honey.text
    winter = app.search("fondant blocks on the crown boards", limit=3)[0]
    assert winter.payload["anchor"] == "winter"  # the empty element just before the heading
    kiln = app.search("wood-fired kiln cone ten", limit=3)[0]
    assert Path(kiln.path).name == "kiln.htm" and kiln.payload["title"] == "Untitled notes"
    assert app.search("kiln type:html", limit=3)[0].file_type == "html"


def test_boilerplate_is_not_indexed(html_index) -> None:
    app, _, _ = html_index
    hits = app.search("quokka zebra", group=False, limit=50)
    texts = " ".join(h.text for h in hits if Path(h.path).name in ("bees.html", "kiln.htm"))
    for word in ("quokka", "zebra", "newsletter", "Cookie", "Breadcrumbs", "Home > Guides", "font-family"):
        assert word.lower() not in texts.lower()
    every = " ".join(h.text for h in app.search("Hollow Farm bees hives", group=False, limit=50)
                     if Path(h.path).name == "bees.html")
    assert "twelve hives" in every and "Subscribe" not in every and "Shop" not in every


def test_a_real_texinfo_page(html_index) -> None:
    app, report, docs = html_index
    if not (docs / "libffi-intro.html").exists():
        pytest.skip("no libffi HTML documentation on this machine")
    top = app.search("what is libffi calling convention", limit=3)[0]
    assert Path(top.path).name == "libffi-intro.html"
    assert top.payload["section"] == "1 What is libffi?" and top.payload["anchor"] == "What-is-libffi_003f"
    assert "Previous:" not in top.text and "accesskey" not in top.text  # the navigation header is dropped


def test_reingest_adds_nothing(html_index) -> None:
    app, first, docs = html_index
    before = app.status()
    again = app.ingest([docs])
    assert again.count("unchanged") == first.count("indexed")
    assert again.points_written == 0 and again.count("indexed") == 0
    assert app.status() == before


def test_a_page_over_the_text_budget_is_partial(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    rows = "".join(f"<p>Entry {n}: the ferry left on time.</p>" for n in range(400))
    (docs / "log.html").write_text(f"<html><body><h1>Log</h1>{rows}</body></html>")
    app = Omnidex(make_settings(tmp_path / "data", max_text_chars_per_file=2_000))
    try:
        outcome = app.ingest([docs]).outcomes[0]
        assert outcome.status == INDEXED and "OMNIDEX_MAX_TEXT_CHARS_PER_FILE" in outcome.partial
    finally:
        app.close()


def test_a_page_cut_inside_a_character_keeps_its_encoding(tmp_path: Path) -> None:
    data = '<html><head><meta charset="utf-8"></head><body><p>Ærø café</p></body></html>'.encode()
    cut = data[: data.index("é".encode()) + 1]  # inside the é's two bytes
    root, _ = parse_page(cut, final=False)
    assert root.text_content().strip() == "Ærø caf"
    docs = tmp_path / "docs"
    docs.mkdir()
    body = "".join(f"<p>Ærø ferry {n}: the café opens at dawn.</p>" for n in range(300))
    (docs / "ærø.html").write_text(f'<html><head><meta charset="utf-8"></head><body>{body}</body></html>',
                                   encoding="utf-8")
    app = Omnidex(make_settings(tmp_path / "data", max_text_chars_per_file=1_000))
    try:
        outcome = app.ingest([docs]).outcomes[0]
        assert outcome.status == INDEXED and outcome.partial
        hit = app.search("café ferry", limit=1)[0]
        assert "Ærø ferry" in hit.text and "café" in hit.text and "Ã" not in hit.text
    finally:
        app.close()
