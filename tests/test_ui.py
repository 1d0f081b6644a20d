"""The Streamlit pages (search, library, ask), driven by AppTest against a real index of real files."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from PIL import Image
from streamlit import config as streamlit_config
from streamlit.testing.v1 import AppTest

from core.config import Settings
from omnidex.library import inside_roots, library_roots
from omnidex.service import Omnidex
from retrieval.present import place
from retrieval.search import SearchHit
from tests.conftest import write_pdf
from sample_corpus.media import speak_passage
from ui.components import other_places
from ui.previews import transcript_around
from ui.safety import (
    escape_markdown,
    file_inside,
    highlight,
    literal,
    upload_name,
)

APP = str(Path(__file__).resolve().parent.parent / "app.py")
INJECTION = ("Compost heaps need air. <script>alert('owned')</script> [click me](javascript:alert(1)) "
             "![pixel](http://evil.example/p.png) $x^2$ :red[alarm]")
MEMO = ["Good morning team.", "Please bring the pricing options to Thursday's meeting.", "Thanks, see you then."]


def plain(markdown: str) -> str:
    """What an escaped Markdown string, or one with names in code spans, displays."""
    return re.sub(r"\\(.)", r"\1", markdown.replace("`", ""))


def shown_html(block: str) -> str:
    """What one of our HTML blocks (escaped text with <strong>, <code> marks) displays."""
    return html.unescape(re.sub(r"<[^>]+>", "", block))


@pytest.fixture(autouse=True)
def served_on_loopback(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The app as `omnidex serve` runs it by default (this machine only, so no login without a password)."""
    monkeypatch.delenv("OMNIDEX_UI_PASSWORD", raising=False)
    before = streamlit_config.get_option("server.address")
    streamlit_config.set_option("server.address", "127.0.0.1")
    yield
    streamlit_config.set_option("server.address", before)


def write_photo(path: Path) -> Path:
    """A real photo (scikit-image's cup of coffee) with camera EXIF."""
    from skimage import data as skdata

    exif = Image.Exif()
    exif[0x010F] = "Omnicam"  # Make
    exif[0x0110] = "X100"  # Model
    exif[0x0132] = "2024:05:17 14:03:22"  # DateTime
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(skdata.coffee()).save(path, quality=90, exif=exif)
    return path


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """PDFs, a photo, a spoken memo, eleven recipes (for paging) and a broken file, indexed once for the module;
    OMNIDEX_DATA_DIR points the app at it."""
    root = tmp_path_factory.mktemp("ui")
    docs = root / "docs"
    write_pdf(docs / "garden.pdf", ["Pruning roses in late winter.", "Tomatoes need staking by midsummer."])
    write_pdf(docs / "notes.pdf", [INJECTION])
    write_photo(docs / "photos" / "coffee.jpg")
    speak_passage(MEMO, docs / "memo.wav")
    for n in range(1, 12):
        write_pdf(docs / "recipes" / f"recipe_{n:02d}.pdf", [f"Recipe {n}: lentil soup with {n} carrots and cumin."])
    (docs / "broken.pdf").write_bytes(b"%PDF-1.7\nthis is not really a PDF")
    app = Omnidex(Settings(data_dir=root / "data"))
    app.ingest([docs])
    app.close()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("OMNIDEX_DATA_DIR", str(root / "data"))
        yield docs


def titles(at: AppTest) -> list[str]:
    """The result cards' and the preview's title lines (file name, place, modality badge), as displayed."""
    return [plain(m.value) for m in at.markdown if "-badge[" in m.value]


def opened(page: str | None = None) -> AppTest:
    """The app as a browser first shows it, then on `page` (e.g. "ui/ask_page.py") when given."""
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    if page:
        at.switch_page(page).run()
    return at


def search(query: str) -> AppTest:
    at = opened()
    at.text_input(key="query").input(query).run()
    assert not at.exception, at.exception
    return at


def ask(question: str) -> AppTest:
    at = opened("ui/ask_page.py")
    at.text_input(key="question").input(question).run()
    assert not at.exception, at.exception
    return at


# --- search page -----------------------------------------------------------------------


def test_search_shows_result_card_with_highlight_and_page_preview(library: Path) -> None:
    at = opened()
    assert not at.exception
    assert re.search(r"\d+ segments from 15 files indexed", at.caption[0].value)

    at.text_input(key="query").input("when should tomatoes be staked").run()
    assert not at.exception
    shown = titles(at)
    assert shown[0].startswith("**garden.pdf** · page 2")
    assert ":blue-badge[Text]" in shown[0]
    assert any("<strong>Tomatoes</strong>" in m.value and "<strong>staking</strong>" in m.value
               for m in at.markdown)  # highlighted snippet
    assert any("staking" in t.value for t in at.text)  # the preview's text
    elapsed = float(re.search(r"in (\d+\.\d+) s", plain(at.caption[0].value)).group(1))
    assert elapsed < 3.0  # the first search after start-up (models were warmed when the app loaded)
    # the card's thumbnail and the rendered page, both real PNG/JPEG media
    assert len(at.get("image")) >= 2


def test_preview_button_opens_another_result(library: Path) -> None:
    at = search("lentil soup with carrots")
    first_preview = [t.value for t in at.text]
    buttons = [b for b in at.button if b.label == "Preview"]
    buttons[1].click().run()
    assert not at.exception
    assert [t.value for t in at.text] != first_preview
    assert "lentil soup" in at.text[0].value


def test_paging_shows_the_next_results(library: Path) -> None:
    at = search("lentil soup with carrots and cumin")
    assert at.pagination, "11 recipes at 10 a page make two pages"
    first_page = set(titles(at))
    assert len(first_page) == 10 and all("recipe_" in title for title in first_page)
    at.pagination[0].set_value(2).run()
    second_page = set(titles(at))
    assert second_page and not second_page & first_page


def test_find_similar_lists_related_results(library: Path) -> None:
    at = search("lentil soup")
    source = titles(at)[0].split("**")[1]
    next(b for b in at.button if b.label == "Find similar").click().run()
    assert not at.exception
    assert any(f"Like {source}" in plain(c.value) for c in at.caption)
    similar = titles(at)
    assert similar and all("recipe_" in s for s in similar[:5])  # other recipes, not the garden or the photo
    next(b for b in at.button if "Back to results" in b.label).click().run()
    assert not any("Like " in plain(c.value) for c in at.caption)


def test_sidebar_counts_and_inline_type_filter_find_the_photo(library: Path) -> None:
    at = opened()
    options = at.sidebar.multiselect(key="types").options
    assert "pdf (14)" in options and "image (1)" in options and "video (0)" in options
    at.text_input(key="query").input("a cup of coffee type:image").run()
    assert not at.exception
    shown = titles(at)
    assert len([b for b in at.button if b.label == "Preview"]) == 1
    assert shown[0].startswith("**coffee.jpg**") and "green-badge[Picture]" in shown[0]
    facts = [shown_html(c.value) for c in at.caption]
    assert "Camera: Omnicam X100" in facts
    assert any(f.startswith("Taken: 2024-05-17") for f in facts)
    assert "Tags: espresso" in [shown_html(m.value) for m in at.markdown]  # the classifier's label for the photo


def test_sidebar_date_and_folder_filters_narrow_results_and_counts(library: Path) -> None:
    at = opened()
    at.date_input(key="dates").set_value((date(2024, 1, 1), date(2024, 12, 31))).run()  # when the photo was taken
    assert "image (1)" in at.multiselect(key="types").options and "pdf (0)" in at.multiselect(key="types").options
    at.text_input(key="query").input("espresso").run()
    shown = titles(at)
    assert shown and all(t.startswith("**coffee.jpg**") for t in shown)

    at.date_input(key="dates").set_value(()).run()
    at.selectbox(key="folder").set_value(str(library / "recipes")).run()
    assert "pdf (11)" in at.multiselect(key="types").options
    at.text_input(key="query").input("soup").run()
    shown = titles(at)
    assert len(shown) > 1 and all("recipe_" in t for t in shown)


def test_search_with_an_uploaded_picture_finds_the_photo(library: Path) -> None:
    at = opened()
    picture = (library / "photos" / "coffee.jpg").read_bytes()
    at.file_uploader(key="picture").set_value(("my-coffee.jpg", picture, "image/jpeg")).run()
    assert not at.exception
    assert any("Like my-coffee.jpg" in plain(c.value) for c in at.caption)
    shown = titles(at)
    assert shown[0].startswith("**coffee.jpg**")


def test_audio_hit_plays_from_the_moment_with_the_transcript(library: Path) -> None:
    at = search("bring the pricing options")
    shown = titles(at)
    assert shown[0].startswith("**memo.wav** · 0:0")
    (player,) = at.get("audio")
    assert player.proto.start_time >= 1  # after "Good morning team."
    transcript = [m.value for m in at.markdown if m.value.startswith("<div><code>0:0")]
    assert transcript and "<strong>pricing</strong>" in transcript[0]


def test_document_text_is_never_rendered_as_markup(library: Path) -> None:
    at = search("compost heaps need air")
    snippet = next(m.value for m in at.markdown if "Compost" in m.value and "-badge[" not in m.value)
    assert snippet.startswith("<div>") and "<script" not in snippet  # one HTML block: Markdown leaves it alone
    assert set(re.findall(r"</?(\w+)", snippet)) <= {"div", "strong"}, "no tag but our own"
    assert "<script>alert('owned')</script> [click me](javascript:alert(1))" in shown_html(snippet)
    assert any("[click me](javascript:alert(1))" in t.value for t in at.text)  # the preview, as plain text


def test_no_results_says_which_filter_to_remove(library: Path) -> None:
    at = opened()
    at.multiselect(key="types").set_value(["video"]).run()
    at.text_input(key="query").input("tomatoes").run()
    message = plain(at.info[0].value)
    assert "No results" in message and "remove the filter type:video" in message


def test_a_bad_filter_explains_itself(library: Path) -> None:
    at = search("type:hologram tomatoes")
    message = plain(at.error[0].value)
    assert "unknown type 'hologram'" in message and "type:pdf" in message


def test_a_search_url_opens_that_search_with_its_filters(library: Path) -> None:
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params.update({"q": "a cup of coffee", "type": ["image", "hologram"], "after": "2024-01-01",
                            "before": "2024-12-31", "in": "/no/such/folder"})
    at.run()
    assert not at.exception
    assert at.text_input(key="query").value == "a cup of coffee"
    assert at.multiselect(key="types").value == ["image"]  # a type the page does not offer is left out
    assert at.date_input(key="dates").value == (date(2024, 1, 1), date(2024, 12, 31))
    assert at.selectbox(key="folder").value == ""  # as is a folder this Omnidex has not indexed
    shown = titles(at)
    assert shown and all(t.startswith("**coffee.jpg**") for t in shown)

    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params["q"] = "when should tomatoes be staked"
    at.run()
    assert titles(at)[0].startswith("**garden.pdf** · page 2")
    assert not at.warning  # setting the widgets from the URL is not reported as a conflict


def test_the_search_page_without_a_query_shows_its_empty_state(library: Path) -> None:
    at = opened()
    assert not at.exception
    assert at.title[0].value == "Search" and at.text_input(key="query").value == ""
    assert re.search(r"\d+ segments from 15 files indexed", at.caption[0].value)
    assert not titles(at) and at.query_params == {}  # no search, so nothing in the URL


def test_each_search_is_written_to_the_url_and_going_back_restores_it(library: Path) -> None:
    at = search("when should tomatoes be staked")
    assert at.query_params == {"q": "when should tomatoes be staked"}
    first = dict(at.query_params)

    at.multiselect(key="types").set_value(["pdf"]).run()
    at.text_input(key="query").input("lentil soup").run()
    at.date_input(key="dates").set_value((date(2020, 1, 1), date(2030, 12, 31))).run()
    assert at.query_params == {"q": "lentil soup", "type": "pdf", "after": "2020-01-01", "before": "2030-12-31"}
    assert all("recipe_" in t for t in titles(at))

    at.query_params.clear()  # the browser's Back button reruns the page with the earlier entry's query string
    at.query_params.update(first)
    at.run()
    assert at.text_input(key="query").value == "when should tomatoes be staked"
    assert at.multiselect(key="types").value == [] and at.date_input(key="dates").value == ()
    assert titles(at)[0].startswith("**garden.pdf** · page 2")
    assert at.query_params == first  # going back wrote nothing new


def test_other_places_in_a_file_are_listed_once_each_in_document_order(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """Short chunks make several hits on each page of one PDF; the card names each other page once, in order."""
    pages = [f"Page {n} of the beekeeping log. " + " ".join(
        f"The bees on frame {k} of hive {n} were calm and the honey was capped." for k in range(1, 7))
        for n in range(1, 5)]
    write_pdf(tmp_path / "docs" / "hives.pdf", pages)
    monkeypatch.setenv("OMNIDEX_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("OMNIDEX_CHUNK_TOKENS", "24")
    monkeypatch.setenv("OMNIDEX_CHUNK_OVERLAP_TOKENS", "4")
    app = Omnidex(Settings())
    app.ingest([tmp_path / "docs"])
    app.close()

    at = search("bees calm honey capped hive")
    (hit,) = at.session_state["results"][1]
    raw = [place(m) for m in hit.more]
    assert len(set(raw)) < len(raw), f"no page was hit twice, so nothing to list once: {raw}"
    expected = sorted(set(raw) - {place(hit)}, key=lambda where: int(where.split()[1]))
    assert len(expected) >= 2
    assert f"Also: {', '.join(expected)}" in [c.value for c in at.caption]


def test_other_places_skip_the_hits_own_and_order_slides_and_moments() -> None:
    def hit(page: int | None = None, slide: int | None = None, t0: float | None = None) -> SearchHit:
        return SearchHit(id=f"{page}-{slide}-{t0}", score=0.0, path="/f", file_type="video", modality="frame",
                         text="", snippet="", page=page, slide=slide, t0=t0)

    best = hit(t0=65.0)
    best.more = [hit(t0=125.0), hit(t0=5.0), hit(t0=65.2), hit(t0=125.4), hit(t0=30.0)]
    assert other_places(best) == ["0:05", "0:30", "2:05"]  # 1:05 is the card's own place
    deck = hit(slide=3)
    deck.more = [hit(slide=s) for s in (9, 2, 9, 3, 4, 2, 8, 7, 6, 5)]
    assert other_places(deck) == ["slide 2", "slide 4", "slide 5", "slide 6", "slide 7", "slide 8"]  # six at most


# --- library page ----------------------------------------------------------------------


def test_files_read_but_not_yet_embedded_are_found_by_their_words_and_both_pages_say_so(
        library: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A run stopped after reading a file and before embedding its meaning (the first phase alone)."""
    from ingest.report import Progress

    data = tmp_path / "data"
    tide = write_pdf(tmp_path / "docs" / "tide.pdf", ["Tide tables for the northern harbour, spring and neap."])
    app = Omnidex(Settings(data_dir=data))
    app.indexer._read_file(tide, Progress())
    app.close()
    monkeypatch.setenv("OMNIDEX_DATA_DIR", str(data))
    at = search("tide tables northern harbour")
    assert titles(at)[0].startswith("**tide.pdf**")
    (notice,) = [plain(i.value) for i in at.info]
    assert notice == "1 file is searchable by its words only; its meaning follows: these results may be partial."
    at = opened("ui/library_page.py")
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Searchable by words"] == "1" and metrics["Searchable fully"] == "0"
    assert any("1 file is searchable by its words only" in plain(c.value) for c in at.caption)


def test_library_counts_and_failed_files(library: Path) -> None:
    at = opened("ui/library_page.py")
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Searchable fully"] == metrics["Searchable by words"] == "15"
    assert metrics["Failed"] == "1" and metrics["pdf files"] == "13"
    assert not [c for c in at.caption if "words only" in c.value]
    (failures,) = [d.value for d in at.dataframe if "reason" in d.value.columns]
    assert list(failures["file"]) == ["broken.pdf"] and failures["reason"][0]


def test_library_adapt_button_says_why_nothing_was_learned(library: Path) -> None:
    """One photo and no captions: nothing to learn from, and the page says so (tests/test_adapt.py adapts)."""
    at = opened("ui/library_page.py")
    next(b for b in at.button if b.label == "Adapt to this library").click().run()
    assert not at.exception
    assert "adapting needs at least 20" in at.info[0].value and not at.success


def test_library_adds_a_folder_uploads_and_reindexes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMNIDEX_DATA_DIR", str(tmp_path / "data"))
    folder = tmp_path / "inbox"
    write_pdf(folder / "bees.pdf", ["Bees dance to tell the hive where flowers are."])
    at = opened()
    assert "Nothing is indexed yet" in at.info[0].value
    at.switch_page("ui/library_page.py").run()

    at.text_input(key="folder_path").input(str(folder))
    at.button[0].click().run()  # the form's submit button
    assert "outside the folders this Omnidex may index" in plain(at.error[0].value)  # nothing indexed, no roots set
    assert not at.dataframe

    monkeypatch.setenv("OMNIDEX_LIBRARY_ROOTS", json.dumps([str(folder)]))
    at.text_input(key="folder_path").input(str(folder))
    at.button[0].click().run()
    assert not at.exception
    rows = at.dataframe[0].value
    assert list(rows["file"]) == ["bees.pdf"] and list(rows["status"]) == ["indexed"]
    assert at.get("progress")[0].proto.value == 100

    report = write_pdf(tmp_path / "elsewhere" / "report.pdf", ["Quarterly churn fell to two percent."]).read_bytes()
    at.text_input(key="folder_path").input(str(folder / ".." / "elsewhere"))
    at.button[0].click().run()
    assert "outside the folders" in plain(at.error[0].value) and str(folder) in plain(at.error[0].value)

    at.file_uploader(key="uploads").set_value([("report.pdf", report, "application/pdf")]).run()
    next(b for b in at.button if b.label == "Index 1 uploaded file").click().run()
    assert not at.exception
    uploads = tmp_path / "data" / "uploads"
    saved = uploads / upload_name("report.pdf", report)
    assert saved.read_bytes() == report
    assert list(at.dataframe[0].value["status"]) == ["indexed"]

    monkeypatch.setenv("OMNIDEX_MAX_UPLOAD_MB", "1")
    big = b"%PDF-" + b"0" * 1_200_000
    at.file_uploader(key="uploads").set_value([("big.pdf", big, "application/pdf")]).run()
    next(b for b in at.button if b.label == "Index 1 uploaded file").click().run()
    assert "larger than 1 MB" in plain(at.error[0].value)
    assert not (uploads / upload_name("big.pdf", big)).exists()
    monkeypatch.delenv("OMNIDEX_MAX_UPLOAD_MB")

    monkeypatch.setenv("OMNIDEX_UPLOAD_QUOTA_MB", "1")
    just_over = b"%PDF-" + b"0" * (2**20 - len(report) - 4)  # with report.pdf, one byte over the quota
    at.file_uploader(key="uploads").set_value([("filler.pdf", just_over, "application/pdf")]).run()
    next(b for b in at.button if b.label == "Index 1 uploaded file").click().run()
    quota_message = plain(at.error[0].value)
    assert "filler.pdf was not kept" in quota_message and "more than 1 MB" in quota_message
    assert not (uploads / upload_name("filler.pdf", just_over)).exists()
    monkeypatch.delenv("OMNIDEX_UPLOAD_QUOTA_MB")

    write_pdf(folder / "bees.pdf", ["Bees dance to show the hive where the flowers are, and how far."])
    write_pdf(folder / "wasps.pdf", ["Wasps build paper nests."])
    next(b for b in at.button if b.label == "Re-index").click().run()
    assert not at.exception
    statuses = dict(zip(at.dataframe[0].value["file"], at.dataframe[0].value["status"]))
    assert statuses == {"bees.pdf": "indexed", "report.pdf": "unchanged", "wasps.pdf": "indexed"}

    at.switch_page("ui/search_page.py").run()
    at.text_input(key="query").input("paper nests").run()
    assert titles(at)[0].startswith("**wasps.pdf**")


# --- ask page --------------------------------------------------------------------------


def test_ask_gives_a_cited_answer_that_opens_its_page(library: Path) -> None:
    at = ask("When do tomatoes need staking?")
    answer = next(plain(m.value) for m in at.markdown if "[1]" in plain(m.value))
    assert "staking" in answer
    cite = next(b for b in at.button if b.label.startswith("[1]"))
    assert plain(cite.label) == "[1] garden.pdf · page 2"
    cite.click().run()
    assert any("staking" in t.value for t in at.text)  # the cited page's text beside its rendered image
    assert at.get("image")


def test_ask_says_plainly_when_nothing_is_found(library: Path) -> None:
    at = ask("What is the airspeed of an unladen swallow?")
    assert "couldn't find" in plain(at.info[0].value)
    assert not [b for b in at.button if b.label.startswith("[")]


# --- safety helpers --------------------------------------------------------------------


def test_highlight_escapes_first_then_marks_query_words() -> None:
    marked = highlight("Use <b>staking</b> for [tomatoes](javascript:x)", "tomato staking")
    assert "<b>" not in marked
    assert "<strong>staking</strong>" in marked and "<strong>tomatoes</strong>" in marked
    assert shown_html(marked) == "Use <b>staking</b> for [tomatoes](javascript:x)"
    assert escape_markdown("# heading\n\n- item") == r"\# heading \- item"
    assert highlight("Tomatoes need  staking.", "staking tomatoes") == ("<strong>Tomatoes</strong> need "
                                                                        "<strong>staking</strong>.")
    assert literal("a `b` c") == "``a `b` c``" and literal("`x") == "`` `x ``"
    assert literal("line\nbreak\x1b") == "`line break\ufffd`"


def test_only_indexed_files_and_thumbnails_are_served(library: Path, tmp_path: Path) -> None:
    app = Omnidex(Settings())  # the catalog only: the index itself stays with the UI's Omnidex
    try:
        garden = library / "garden.pdf"
        assert app.indexed_file(garden) == garden
        assert app.indexed_file(library / "photos" / ".." / "garden.pdf") is None  # traversal spelled out
        assert app.indexed_file(library / "broken.pdf") is None  # known, but failed
        outside = tmp_path / "secret.pdf"
        outside.write_bytes(b"%PDF-1.7")
        assert app.indexed_file(outside) is None  # exists, never indexed
        assert app.indexed_file("garden.pdf") is None  # relative paths are not looked up
    finally:
        app.close()
    thumbnails = Path(Settings().data_dir) / "thumbnails"
    assert file_inside(thumbnails, "../catalog.sqlite") is None
    inside = next(p for p in thumbnails.rglob("*.jpg"))
    assert file_inside(thumbnails, inside.relative_to(thumbnails)) == inside.resolve()


def test_transcript_around_a_moment_says_overlapping_words_once() -> None:
    def span(t0: float, t1: float, words: list[tuple[float, str]]) -> SearchHit:
        return SearchHit(id=str(t0), score=0.0, path="/memo.wav", file_type="audio", modality="transcript",
                         text=" ".join(w for _, w in words), snippet="", t0=t0, t1=t1,
                         payload={"words": [list(w) for w in words]})

    spans = [span(100.0, 110.0, [(100.0, "far"), (105.0, "away")]),  # more than 20 s before the moment
             span(125.0, 135.0, [(125.0, "bring"), (130.0, "the"), (134.0, "pricing")]),
             span(132.0, 140.0, [(132.0, "the"), (134.0, "pricing"), (136.0, "options")])]
    assert transcript_around(spans, 134.0) == [(125.0, "bring the pricing"), (136.0, "options")]


def test_library_roots_default_to_the_indexed_folders_and_uploads(tmp_path: Path) -> None:
    uploads = tmp_path / "data" / "uploads"
    catalogued = [tmp_path / "docs" / "a.pdf", tmp_path / "docs" / "deep" / "b.pdf", tmp_path / "music" / "c.mp3"]
    roots = library_roots([], catalogued, uploads)
    assert roots == sorted([(tmp_path / "docs").resolve(), (tmp_path / "music").resolve(), uploads.resolve()])
    assert library_roots([tmp_path / "only"], catalogued, uploads) == sorted([(tmp_path / "only").resolve(),
                                                                              uploads.resolve()])
    (tmp_path / "docs" / "deep").mkdir(parents=True)
    (tmp_path / "docs" / "escape").symlink_to(tmp_path / "secrets", target_is_directory=True)
    assert inside_roots(tmp_path / "docs" / "deep", roots) and inside_roots(uploads / "x" / "y.pdf", roots)
    assert not inside_roots(tmp_path / "docs" / ".." / "secrets", roots)
    assert not inside_roots(tmp_path / "docs" / "escape", roots)  # a symlink out of a root
    assert not inside_roots(tmp_path / "docsier", roots) and not inside_roots(Path("/etc"), roots)


def test_add_a_folder_takes_folders_under_the_indexed_ones_only(library: Path, tmp_path: Path) -> None:
    at = opened("ui/library_page.py")
    at.text_input(key="folder_path").input(str(tmp_path))
    at.button[0].click().run()
    refusal = plain(at.error[0].value)
    assert refusal.startswith(f"{tmp_path} is outside the folders this Omnidex may index: ")
    assert f"{library}," in refusal or f"{library}." in refusal  # the indexed folder, its subfolders folded in
    assert str(library / "recipes") not in refusal
    assert "library_roots" in refusal
    assert [list(d.value.columns) for d in at.dataframe] == [["file", "reason", "folder"]]  # no run: failures only
    at.text_input(key="folder_path").input(str(library / "recipes"))
    at.button[0].click().run()
    assert not at.error and not at.exception
    assert set(at.dataframe[0].value["status"]) == {"unchanged"}
