"""The dev-set builders: titles without authors, names that give nothing away, and a real spoken-phrase set."""

from __future__ import annotations

import re
import shutil
import wave
from pathlib import Path

import pytest

from omnidex.evaluation import is_media_set, load_beir
from tests.conftest import load_bench_script

devsets = load_bench_script("devsets")


def _svg(path: Path, title: str, creator: str) -> Path:
    path.write_text(
        '<svg xmlns="http://www.w3.org/2000/svg" xmlns:dc="http://purl.org/dc/elements/1.1/"><metadata>'
        f"<cc:Work><dc:title>{title}</dc:title><dc:creator><cc:Agent><dc:title>{creator}</dc:title></cc:Agent>"
        "</dc:creator></cc:Work></metadata></svg>")
    return path


WORDS = frozenset({"apple", "bitten", "red", "map", "of", "norway", "dan"})


def test_clipart_titles_drop_the_author_even_when_cut_short(tmp_path: Path) -> None:
    # openclipart cut file names at 24 characters: "dan_gerh" is what is left of "Dan Gerhards".
    svg = _svg(tmp_path / "a.svg", "Open Clip Art Library", "Dan Gerhards")
    assert devsets.clipart_title(Path("apple_bitten_dan_gerh_01.png"), svg, WORDS) == "apple bitten"
    # A good metadata title that shares words with the file name wins; a generic one does not.
    svg = _svg(tmp_path / "b.svg", "Red Apple", "Nobody")
    assert devsets.clipart_title(Path("apple_01.png"), svg, WORDS) == "red apple"
    # Words no dictionary knows (another language, an icon set's code) make no query.
    svg = _svg(tmp_path / "c.svg", "", "Architetto Francesco Rollandin")
    assert devsets.clipart_title(Path("mela_architetto_fra_01.png"), svg, WORDS) is None


def test_captions_read_like_captions() -> None:
    assert devsets.with_article("red apple") == "a red apple"
    assert devsets.with_article("apple bitten") == "an apple bitten"
    assert devsets.with_article("bananas") == "bananas"
    assert devsets.with_article("norway map", frozenset({"norway"})) == "norway map"
    assert devsets.ktuberling_label("egypt_palmtree") == "palm tree"
    assert devsets.ktuberling_label("tv_fireengine") == "fire engine"


def test_opaque_names_say_nothing_and_stay_stable() -> None:
    name = devsets.opaque_name("clipart/food/fruit/apple.png", ".PNG")
    assert re.fullmatch(r"[0-9a-f]{16}\.png", name)
    assert name == devsets.opaque_name("clipart/food/fruit/apple.png", ".png")
    assert name != devsets.opaque_name("clipart/food/fruit/pear.png", ".png")


@pytest.fixture(scope="module")
def speech_set(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    if shutil.which("apt-get") is None or shutil.which("espeak-ng") is None or shutil.which("sox") is None:
        pytest.skip("apt-get, espeak-ng and sox are needed to build the spoken-phrase set")
    root = tmp_path_factory.mktemp("devsets")
    cache = root / "cache"
    folder = devsets.build_speech(root / "out", cache, count=8)
    return folder, devsets.faq_sentences(cache, 8)


def test_spoken_phrases_come_from_exactly_one_recording(speech_set: tuple[Path, list[str]]) -> None:
    folder, sentences = speech_set
    assert is_media_set(folder)
    dataset = load_beir(folder)
    assert len(dataset.corpus) == 8 and len(dataset.qrels) >= 6
    spoken = [" ".join(w.strip(",.?!") for w in s.lower().split()) for s in sentences]
    for qid, relevant in dataset.qrels.items():
        phrase = dataset.queries[qid]
        assert len(phrase.split()) == 4
        assert sum(f" {phrase} " in f" {s} " for s in spoken) == 1, phrase
        [name] = relevant
        assert re.fullmatch(r"[0-9a-f]{16}\.wav", name)
        with wave.open(str(folder / "files" / name)) as recording:
            assert recording.getframerate() == 8000 and recording.getnframes() > 8000  # a phone prompt, > 1 s
    stopwords = devsets._stopwords()
    assert any(sum(w in stopwords for w in dataset.queries[q].split()) >= 3 for q in dataset.qrels), \
        "some phrase lookups are made mostly of stop words"
