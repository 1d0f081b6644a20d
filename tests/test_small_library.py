"""A person's first library: a handful of files, each found by a few of its own words, with the cutoff on.

With five segments there is no collection to estimate chance levels from; the
search must still find what is plainly there and show nothing for what is not.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from omnidex.service import Omnidex
from tests.conftest import make_settings, write_pdf
from sample_corpus.media import speak

skdata = pytest.importorskip("skimage.data")

RECIPE = ("Saffron rice for four. Soak a pinch of saffron in warm milk. Fry one onion in butter, add the rice, "
          "then saffron and nine cardamom pods, and simmer for eighteen minutes.")
REPORT = ("Depot maintenance report. The inspection found worn brake pads on four locomotives and a cracked "
          "signal mast near platform two. Replacement parts arrive in March.")
MEMO = "Reminder for Monday. The harbour crane will be inspected at nine, so the quay stays closed until noon."


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Omnidex]:
    from PIL import Image

    root = tmp_path_factory.mktemp("library")
    files = root / "files"
    write_pdf(files / "a1.pdf", [RECIPE])
    write_pdf(files / "a2.pdf", [REPORT])
    Image.fromarray(skdata.coffee()).save(files / "a3.jpg")
    speak(MEMO, files / "a4.wav")
    app = Omnidex(make_settings(root / "data"))
    report = app.ingest([files])
    assert report.count("indexed") == 4, [(o.path, o.error) for o in report.outcomes]
    yield app
    app.close()


@pytest.mark.parametrize(("query", "file_name"), [
    ("saffron and nine cardamom pods", "a1.pdf"),
    ("saffron rice", "a1.pdf"),
    ("cracked signal mast", "a2.pdf"),
    ("brake pads on the locomotives", "a2.pdf"),
    ("harbour crane will be inspected", "a4.wav"),
    ("quay closed until noon", "a4.wav"),
    ("a cup of coffee", "a3.jpg"),
])
def test_each_file_is_found_by_a_few_of_its_own_words(library: Omnidex, query: str, file_name: str) -> None:
    hits = library.search(query)  # the default search, relevance cutoff included
    assert hits, f"no results for {query!r}"
    assert Path(hits[0].path).name == file_name, [(Path(h.path).name, h.score) for h in hits]


def test_nothing_is_shown_for_what_the_library_does_not_hold(library: Omnidex) -> None:
    assert library.search("quarterly churn numbers of the sales team") == []
