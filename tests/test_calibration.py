"""Chance levels: pictures and text on one scale, hubs corrected, any collection size calibrated."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from encoders.conse import Conse
from encoders.image_tagger import imagenet_labels
from encoders.text import load_text_encoder
from retrieval.calibration import SegmentCalibration
from sample_corpus import real_text_paragraphs

UNRELATED_QUERIES = ["a violin on a chair", "a sports car on a racetrack", "a lighthouse at dusk", "a bowl of soup",
                     "a tabby cat", "a sailboat", "a castle on a hill", "a pizza", "a tractor", "an umbrella"]


@pytest.fixture(scope="module")
def encoder():
    return load_text_encoder("bge-small-en")


@pytest.fixture(scope="module")
def calibration(encoder, tmp_path_factory: pytest.TempPathFactory) -> SegmentCalibration:
    return SegmentCalibration(encoder, tmp_path_factory.mktemp("models"))


@pytest.fixture(scope="module")
def pictures(encoder) -> tuple[np.ndarray, list[str]]:
    """ConSE vectors of 40 confident single-label pictures and one diffuse mixture over a hundred labels (a hub)."""
    labels = list(imagenet_labels())
    conse = Conse(encoder, labels, "a photo of a {label}", top_k=100)
    rng = np.random.default_rng(0)
    chosen = rng.choice(len(labels), 40, replace=False)
    probs = np.full((41, len(labels)), 1e-6)
    for row, label in enumerate(chosen):
        probs[row, label] = 0.9
        probs[row, rng.choice(len(labels), 4)] += 0.025
    probs[40, rng.choice(len(labels), 100, replace=False)] = 0.01  # no label stands out
    return conse.embed(probs), [labels[i] for i in chosen] + ["(diffuse)"]


def test_a_hub_no_longer_wins_unrelated_queries(encoder, calibration, pictures) -> None:
    vectors, names = pictures
    queries = encoder.encode_query(UNRELATED_QUERIES)
    raw_wins = corrected_wins = 0
    for query in queries:
        cosines = vectors @ query
        z = calibration.z(cosines, vectors, ["image"] * len(names))
        raw_wins += int(np.argmax(cosines) == 40)
        corrected_wins += int(np.argmax(z) == 40)
    assert raw_wins >= 3, raw_wins  # the diffuse mixture is near everything by raw cosine...
    assert corrected_wins == 0  # ...and first for none once its own chance level is taken off


def test_a_picture_is_still_found_by_its_label(encoder, calibration, pictures) -> None:
    vectors, names = pictures
    for row in (0, 7, 19):
        query = encoder.encode_query([f"a {names[row]}"])[0]
        z = calibration.z(vectors @ query, vectors, ["image"] * len(names))
        assert int(np.argmax(z)) == row, names[row]


def test_text_keeps_its_cosine_order(encoder, calibration) -> None:
    chunks = encoder.encode_document(real_text_paragraphs()[:30])
    query = encoder.encode_query(["the history of the railway"])[0]
    cosines = chunks @ query
    z = calibration.z(cosines, chunks, ["text"] * len(chunks))
    assert list(np.argsort(-z)) == list(np.argsort(-cosines))


def test_one_segment_is_calibrated_without_a_collection(encoder, calibration) -> None:
    """A library of a handful of files: a query that matches stands well above chance, one that does not, not."""
    page = "Toast the saffron and nine cardamom pods, then stir them into the warm rice with a little butter."
    vector = encoder.encode_document([page])
    match = calibration.z(vector @ encoder.encode_query(["saffron and nine cardamom pods"])[0], vector, ["text"])
    other = calibration.z(vector @ encoder.encode_query(["quarterly churn numbers"])[0], vector, ["text"])
    assert match[0] > 3.0 > other[0], (match, other)


def test_reference_vectors_are_embedded_once_and_healed_when_damaged(encoder, tmp_path: Path) -> None:
    first = SegmentCalibration(encoder, tmp_path).reference()
    [cached] = tmp_path.glob("reference-queries-*.npy")
    assert np.array_equal(SegmentCalibration(encoder, tmp_path).reference(), first)
    cached.write_bytes(b"not a numpy file")
    assert np.allclose(SegmentCalibration(encoder, tmp_path).reference(), first, atol=1e-3)
    assert np.array_equal(np.load(cached), SegmentCalibration(encoder, tmp_path).reference())
