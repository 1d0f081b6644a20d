"""Every modality end to end through the real Omnidex facade: one folder, one ingest, real models.

The module makes its inputs on the spot: a PDF with a text page and an
image-only (scanned) page, a PowerPoint deck with notes, a table and a
picture, scikit-image's sample photos, a 60 s lecture video and an MP3
podcast with espeak-ng speech at known seconds, a beeping alarm and a
speech memo. Everything is ingested once; each test asks one question of
the index the way a user would, through `Omnidex.search`.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pymupdf
import pytest
from PIL import Image

from omnidex.service import Omnidex
from retrieval.filters import SearchFilters
from retrieval.search import SearchHit
from tests.conftest import make_settings
from sample_corpus.media import beeps, encode_audio, speak_passage, speech_track, speech_video

skdata = pytest.importorskip("skimage.data")
pptx = pytest.importorskip("pptx")

# ---------------------------------------------------------------- what the inputs say

TEXT_PAGE = (
    "Annual maintenance report for the northern depot. The inspection of the rail yard found worn "
    "brake pads on four locomotives and a cracked signal mast near platform two. Replacement parts were "
    "ordered in February and fitted during the spring shutdown. Staff completed the new safety training."
)
# Only in the pixels of page 2: the PDF has no text layer there.
SCAN_LINES = [
    "Memorandum of the harbour committee",
    "",
    "The lighthouse keeper counted forty seven herons before sunrise",
    "and logged them in the green ledger kept by the harbour master.",
    "The committee thanks the volunteers for their careful records.",
]
SCAN_QUERY = "lighthouse keeper counted forty seven herons before sunrise"
LAST_PAGE = "Appendix: the depot budget for next year, with costs per locomotive and per platform."

SLIDES = [  # (title, bullets, speaker notes)
    ("Project Aurora", ["Quarterly update for the steering group"], ""),
    ("Roadmap", ["Ship the mobile app in the second quarter", "Migrate billing to the new provider",
                 "Hire two support engineers"],
     "Remind everyone that the copper kettle fund paid for the hackathon snacks."),
    ("Regional sales", [], "Numbers are preliminary until the audit closes."),
    ("Deep field observation", ["Thousands of galaxies in one small patch of sky"], ""),
    ("Next steps", ["Review the roadmap with finance", "Publish the release notes"],
     "Ask the finance office about travel reimbursements for the offsite."),
]
NOTES_SLIDE = 2
NOTES_QUERY = "copper kettle fund hackathon snacks"
TABLE = [["Region", "Q1", "Q2"], ["North", "120", "135"], ["South", "98", "110"], ["West", "143", "151"]]

PHOTOS = ("chelsea", "coffee", "astronaut", "rocket", "immunohistochemistry", "camera", "colorwheel")

# The lecture: one minute of continuous speech (0.6 s between sentences), the phrase about 35 s in.
VIDEO_SECONDS = 60.0
VIDEO_PHRASE = "The zebra orchestra rehearses in the old tram depot on Thursday evenings."
VIDEO_LINES = [
    "Good morning and welcome to the third lecture on urban transport planning.",
    "Last week we looked at how cities count passengers on buses and trains.",
    "Today we compare three ways of pricing a monthly travel pass.",
    "The first model charges a flat fee for every zone of the network.",
    "The second model charges by distance, measured from the first tap.",
    "The third model caps the fare once a rider has paid for ten trips.",
    "Each model was tried in a different city over the last decade.",
    "We will look at the results of each trial in turn.",
    VIDEO_PHRASE,
    "Now back to pricing: each model changes who gains and who pays more.",
    "Riders in the suburbs pay more under distance pricing.",
    "Riders in the centre gain the most from a fare cap.",
    "Please read chapter four before the seminar on Friday.",
]

# The podcast: 40 s of continuous speech, an MP3, the phrase about 10 s in: well inside
# the first transcript span, not at a span boundary (the lecture's phrase happens to
# start one), so the two tests between them cover both cases.
PODCAST_SECONDS = 40.0
PODCAST_PHRASE = "My grandmother hides the spare lighthouse key inside a biscuit tin."
PODCAST_LINES = [
    "Hello and welcome back to the gardening hour, the show about small gardens.",
    "This week we talk about planting tomatoes on a sunny balcony.",
    PODCAST_PHRASE,
    "Water them in the morning and feed them once a week.",
    "A deep pot keeps the roots cool during the summer.",
    "Pick the fruit when it is red and slightly soft.",
    "That has nothing to do with tomatoes, but listeners asked about it.",
    "Next week we will talk about herbs that grow in the shade.",
    "Thanks for listening and happy gardening.",
]
SPEECH_PAUSE_S = 0.6

MEMO = [
    "Note to self: call the plumber about the leaking kitchen tap.",
    "Also buy milk, bread and batteries for the smoke alarm.",
    "The dentist appointment moved to Tuesday at ten.",
]

TIME_TOLERANCE_S = 3.0


@dataclass
class Corpus:
    root: Path
    files: dict[str, Path] = field(default_factory=dict)
    video_phrase_at: float = 0.0
    podcast_phrase_at: float = 0.0


# ---------------------------------------------------------------- making the inputs


def write_report_pdf(path: Path) -> Path:
    """Page 1 and 3: text layer; page 2: a 200 dpi picture of a typed page, no text layer (a scan)."""
    with pymupdf.open() as source:
        typed = source.new_page()
        typed.insert_textbox(pymupdf.Rect(60, 80, 540, 500), "\n".join(SCAN_LINES), fontsize=13, fontname="tiro")
        scan = typed.get_pixmap(dpi=200, colorspace=pymupdf.csGRAY)
    with pymupdf.open() as doc:
        doc.new_page().insert_textbox(pymupdf.Rect(50, 50, 545, 790), TEXT_PAGE, fontsize=11)
        scanned = doc.new_page()
        scanned.insert_image(scanned.rect, pixmap=scan)
        doc.new_page().insert_textbox(pymupdf.Rect(50, 50, 545, 790), LAST_PAGE, fontsize=11)
        doc.save(path)
    with pymupdf.open(path) as check:  # the premise of the OCR test: page 2 has no text layer
        assert check[1].get_text().strip() == ""
    return path


def write_deck(path: Path) -> Path:
    from pptx import Presentation
    from pptx.util import Inches

    deck = Presentation()
    deck.core_properties.title = "Project Aurora steering group"
    for number, (title, bullets, notes) in enumerate(SLIDES, 1):
        layout = deck.slide_layouts[0 if number == 1 else 5 if not bullets or title == "Deep field observation" else 1]
        slide = deck.slides.add_slide(layout)
        slide.shapes.title.text = title
        if number == 1:
            slide.placeholders[1].text = bullets[0]
        elif layout == deck.slide_layouts[1]:
            body = slide.placeholders[1].text_frame
            body.text = bullets[0]
            for bullet in bullets[1:]:
                body.add_paragraph().text = bullet
        if title == "Regional sales":
            shape = slide.shapes.add_table(len(TABLE), len(TABLE[0]), Inches(1), Inches(2), Inches(6), Inches(2))
            for r, row in enumerate(TABLE):
                for c, value in enumerate(row):
                    shape.table.cell(r, c).text = value
        if title == "Deep field observation":
            picture = io.BytesIO()
            Image.fromarray(skdata.hubble_deep_field()).save(picture, format="JPEG", quality=90)
            picture.seek(0)
            slide.shapes.add_picture(picture, Inches(2), Inches(2), width=Inches(5))
            box = slide.shapes.add_textbox(Inches(1), Inches(6.5), Inches(8), Inches(0.6))
            box.text_frame.text = bullets[0]
        if notes:
            slide.notes_slide.notes_text_frame.text = notes
    deck.save(path)
    return path


def write_photos(folder: Path) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    files = {}
    for i, name in enumerate(PHOTOS):
        path = folder / f"{name}.{'jpg' if i % 2 == 0 else 'png'}"
        image = Image.fromarray(getattr(skdata, name)())
        image.convert("RGB").save(path, **({"quality": 92} if path.suffix == ".jpg" else {}))
        files[name] = path
    return files


def _continuous(sentences: list[str]) -> list[tuple[float | None, str]]:
    """Speech from 1 s on, one sentence after the other: no silence marks where the phrase starts."""
    return [(1.0 if i == 0 else None, text) for i, text in enumerate(sentences)]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Corpus:
    root = tmp_path_factory.mktemp("inbox")
    work = tmp_path_factory.mktemp("work")
    c = Corpus(root)
    c.files["report"] = write_report_pdf(root / "depot_report.pdf")
    c.files["deck"] = write_deck(root / "aurora_update.pptx")
    for name, path in write_photos(root / "photos").items():
        c.files[name] = path

    video_spans = speech_track(work / "lecture.wav", VIDEO_SECONDS, _continuous(VIDEO_LINES), SPEECH_PAUSE_S)
    c.video_phrase_at = video_spans[VIDEO_LINES.index(VIDEO_PHRASE)][0]
    c.files["video"] = speech_video(root / "media" / "lecture.mp4", work / "lecture.wav", VIDEO_SECONDS)

    podcast_spans = speech_track(work / "podcast.wav", PODCAST_SECONDS, _continuous(PODCAST_LINES), SPEECH_PAUSE_S)
    c.podcast_phrase_at = podcast_spans[PODCAST_LINES.index(PODCAST_PHRASE)][0]
    c.files["podcast"] = encode_audio(work / "podcast.wav", root / "media" / "gardening_hour.mp3")

    speak_passage(MEMO, root / "media" / "memo.wav")
    c.files["memo"] = root / "media" / "memo.wav"
    c.files["alarm"] = beeps(root / "media" / "alarm.wav", seconds=8)
    return c


@pytest.fixture(scope="module")
def omnidex(corpus: Corpus, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Omnidex]:
    """One index over the whole folder, ingested once for the module."""
    app = Omnidex(make_settings(tmp_path_factory.mktemp("data")))
    report = app.ingest([corpus.root])
    assert not report.failures, [(f.path.name, f.error) for f in report.failures]
    assert report.count("indexed") == len(corpus.files)
    yield app
    app.close()


def _describe(hits: list[SearchHit]) -> list[tuple]:
    return [(Path(h.path).name, h.modality, h.page, h.slide, h.t0, round(h.score, 3)) for h in hits]


# ---------------------------------------------------------------- documents


def test_every_file_is_indexed_with_its_modalities(omnidex: Omnidex, corpus: Corpus) -> None:
    status = omnidex.status()
    assert status["files"].get("indexed") == len(corpus.files)
    modalities = status["by_modality"]
    for modality in ("text", "ocr", "image", "frame", "transcript", "sound"):
        assert modalities.get(modality, 0) > 0, modalities


def test_a_sentence_only_in_a_scanned_page_finds_that_page(omnidex: Omnidex, corpus: Corpus) -> None:
    hits = omnidex.search(SCAN_QUERY)
    assert hits, "nothing found for the scanned sentence"
    top = hits[0]
    assert Path(top.path) == corpus.files["report"], _describe(hits)
    assert (top.page, top.modality) == (2, "ocr"), _describe(hits)


def test_words_only_in_speaker_notes_find_that_slide(omnidex: Omnidex, corpus: Corpus) -> None:
    hits = omnidex.search(NOTES_QUERY)
    assert hits, "nothing found for the speaker notes"
    top = hits[0]
    assert Path(top.path) == corpus.files["deck"], _describe(hits)
    assert top.slide == NOTES_SLIDE, _describe(hits)


def test_a_slide_segment_holds_its_title_once(omnidex: Omnidex, corpus: Corpus) -> None:
    """The title is the slide's heading, not also a line of its body (twice would double its weight)."""
    hits = omnidex.search(NOTES_QUERY, group=False)
    slide = next(h for h in hits if Path(h.path) == corpus.files["deck"] and h.slide == NOTES_SLIDE)
    title = SLIDES[NOTES_SLIDE - 1][0]
    assert slide.text.count(title) == 1, slide.text


def test_a_table_cell_finds_its_slide(omnidex: Omnidex, corpus: Corpus) -> None:
    hits = omnidex.search("regional sales table North South West", SearchFilters(file_types=("slides",)))
    assert hits and hits[0].slide == 3, _describe(hits)


# ---------------------------------------------------------------- photos


PHOTO_QUERIES = [("a cup of coffee", "coffee"), ("a cat", "chelsea")]


@pytest.mark.parametrize(("query", "photo"), PHOTO_QUERIES)
def test_a_description_ranks_the_photo_first_among_images(omnidex: Omnidex, corpus: Corpus, query: str, photo: str
                                                          ) -> None:
    hits = omnidex.search(query, SearchFilters(file_types=("image",)), cutoff=False)
    assert hits and Path(hits[0].path) == corpus.files[photo], _describe(hits)
    inline = omnidex.search(f"type:image {query}", cutoff=False)  # the inline filter means the same
    assert inline and Path(inline[0].path) == corpus.files[photo], _describe(inline)


@pytest.mark.parametrize(("query", "photo"), PHOTO_QUERIES)
def test_a_description_shows_the_photo_among_images(omnidex: Omnidex, corpus: Corpus, query: str, photo: str
                                                    ) -> None:
    """As a user sees it: with the relevance cutoff on, the right photo is still shown, and first."""
    hits = omnidex.search(query, SearchFilters(file_types=("image",)))
    assert hits and Path(hits[0].path) == corpus.files[photo], _describe(hits)


@pytest.mark.parametrize(("query", "photo"), PHOTO_QUERIES)
def test_a_description_finds_the_photo_among_everything(omnidex: Omnidex, corpus: Corpus, query: str, photo: str
                                                        ) -> None:
    """No type filter, default search: pages, slides, frames and sounds compete with the photos."""
    hits = omnidex.search(query)
    assert hits and Path(hits[0].path) == corpus.files[photo], _describe(hits)


# ---------------------------------------------------------------- speech and sound


def _first_hit_of(hits: list[SearchHit], path: Path) -> SearchHit | None:
    return next((h for h in hits if Path(h.path) == path), None)


def _assert_found_at(hits: list[SearchHit], path: Path, spoken_at: float) -> None:
    assert hits and Path(hits[0].path) == path, _describe(hits)
    top = hits[0]
    assert top.modality == "transcript", _describe(hits)
    assert top.t0 is not None and top.t1 is not None
    assert top.t0 - TIME_TOLERANCE_S <= spoken_at <= top.t1, f"spoken at {spoken_at:.1f} s, not in the hit {top}"
    assert abs(top.t0 - spoken_at) <= TIME_TOLERANCE_S, (
        f"spoken at {spoken_at:.1f} s, but the hit starts at t0={top.t0} (t1={top.t1}): {top.text!r}")


def test_a_phrase_spoken_in_the_video_finds_the_moment(omnidex: Omnidex, corpus: Corpus) -> None:
    _assert_found_at(omnidex.search(VIDEO_PHRASE), corpus.files["video"], corpus.video_phrase_at)


def test_a_phrase_spoken_in_the_podcast_finds_the_moment(omnidex: Omnidex, corpus: Corpus) -> None:
    _assert_found_at(omnidex.search(PODCAST_PHRASE), corpus.files["podcast"], corpus.podcast_phrase_at)


def test_beeping_ranks_the_alarm_above_speech(omnidex: Omnidex, corpus: Corpus) -> None:
    hits = omnidex.search("beeping", SearchFilters(file_types=("audio",)), cutoff=False)
    paths = [Path(h.path) for h in hits]
    assert paths and paths[0] == corpus.files["alarm"], _describe(hits)
    for speech in ("memo", "podcast"):
        assert corpus.files[speech] in paths, _describe(hits)  # with the cutoff off, every audio file competes
        assert paths.index(corpus.files["alarm"]) < paths.index(corpus.files[speech]), _describe(hits)
    everything = omnidex.search("beeping")  # no filter, default cutoff: still the alarm first
    assert everything and Path(everything[0].path) == corpus.files["alarm"], _describe(everything)
