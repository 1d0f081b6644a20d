"""bench/synthetic_library.py, the library bench_scale.py grows: it makes the files it claims, every one of them a
file Omnidex reads as that kind, no two alike, and a grown library starts with the smaller one unchanged."""

from __future__ import annotations

import hashlib
from collections import Counter
from pathlib import Path

import pymupdf
import pytest
from PIL import Image

from ingest.files import EXTENSIONS, discover
from ingest.media import media_duration
from tests.conftest import load_bench_script

library = load_bench_script("synthetic_library")
FILE_TYPES = {"pdf": "pdf", "scan": "pdf", "picture": "image", "recording": "audio"}


def test_twenty_files_are_the_mix_and_each_is_what_it_claims(tmp_path: Path) -> None:
    made = library.build_library(tmp_path, 20)
    assert Counter(f.kind for f in made) == {"pdf": 10, "picture": 6, "scan": 2, "recording": 2}
    assert sorted(discover([tmp_path])) == sorted(f.path for f in made)  # all found, nothing else
    assert len({hashlib.sha256(f.path.read_bytes()).hexdigest() for f in made}) == 20  # no duplicates
    for f in made:
        assert EXTENSIONS[f.path.suffix.lower()].value == FILE_TYPES[f.kind], f.path.name
        if f.kind == "pdf":
            with pymupdf.open(f.path) as doc:
                assert len(doc) == f.pages and 2 <= f.pages <= 6
                assert f.needle in " ".join(doc[0].get_text().split())
                assert all(len(page.get_text().split()) > 150 for page in doc)  # pages of prose
        elif f.kind == "scan":
            with pymupdf.open(f.path) as doc:
                assert len(doc) == f.pages and all(not p.get_text().strip() and p.get_images() for p in doc)
        elif f.kind == "picture":
            with Image.open(f.path) as image:
                assert 400 <= max(image.size) <= 1000
        else:
            assert 4.0 <= f.seconds <= 16.0 and media_duration(f.path) == pytest.approx(f.seconds, abs=0.1)


def test_a_grown_library_keeps_the_mix_and_leaves_the_first_files_alone(tmp_path: Path) -> None:
    first = library.build_library(tmp_path, 8, folder="a")
    before = {f.path: f.path.read_bytes() for f in first}
    grown = library.build_library(tmp_path, 12, start=8, folder="b")
    assert [f.kind for f in first + grown] == library.kinds_for(12, library.DEFAULT_MIX)
    assert {f.path: f.path.read_bytes() for f in first} == before
    again = library.build_library(tmp_path / "again", 12)  # made in one go: the same files
    assert [(f.kind, f.path.name, f.pages, f.needle) for f in again] == [
        (f.kind, f.path.name, f.pages, f.needle) for f in first + grown]
    # Byte for byte but the recordings, in which sox's dither (resampling espeak-ng's output) is random.
    assert [f.path.read_bytes() for f in again if f.kind != "recording"] == [
        f.path.read_bytes() for f in first + grown if f.kind != "recording"]
    assert library.read_manifest(_written(tmp_path, grown)) == grown


def test_a_mix_is_read_and_kept_at_every_prefix() -> None:
    mix = library.parse_mix("pdf=2,picture=2")
    assert mix == {"pdf": 0.5, "scan": 0.0, "picture": 0.5, "recording": 0.0}
    kinds = library.kinds_for(100, library.DEFAULT_MIX)
    for n in (10, 50, 100):
        counts = Counter(kinds[:n])
        assert all(abs(counts[k] - share * n) <= 1 for k, share in library.DEFAULT_MIX.items())
    for bad in ("video=1", "pdf=0", "pdf=-1,scan=2"):
        with pytest.raises(ValueError):
            library.parse_mix(bad)


def _written(tmp_path: Path, files: list) -> Path:
    path = tmp_path / "manifest.jsonl"
    library.write_manifest(path, files)
    return path
