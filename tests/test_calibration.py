"""Per-modality calibration: text chunks and ConSE image vectors become comparable."""

from __future__ import annotations

import uuid
from pathlib import Path

import numpy as np
import pytest

from encoders.conse import Conse
from encoders.text import load_text_encoder
from retrieval.calibration import CalibrationCache, fit_calibration
from sample_corpus import real_text_paragraphs
from store.base import PayloadType, PointRecord, Schema
from store.edge import EdgeStore

LABELS = ["golden retriever", "tabby cat", "espresso", "sports car", "sailboat", "pizza", "violin",
          "mountain bike", "lighthouse", "umbrella", "teapot", "parrot", "tractor", "castle", "backpack"]


@pytest.fixture(scope="module")
def mixed_store(tmp_path_factory: pytest.TempPathFactory):
    encoder = load_text_encoder("bge-small-en")
    paragraphs = real_text_paragraphs()[:60]
    conse = Conse(encoder, LABELS, "a photo of a {label}", top_k=3)
    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.full(len(LABELS), 0.3), size=45)
    store = EdgeStore(tmp_path_factory.mktemp("cal") / "shard",
                      Schema(dense={"text": encoder.dim}, payload_indexes={"modality": PayloadType.KEYWORD}))
    text_vecs = encoder.encode_document(paragraphs)
    image_vecs = conse.embed(probs)
    points = [PointRecord(str(uuid.uuid4()), {"text": v.tolist()}, {"modality": "text", "i": i})
              for i, v in enumerate(text_vecs)]
    points += [PointRecord(str(uuid.uuid4()), {"text": v.tolist()},
                           {"modality": "image", "label": LABELS[int(np.argmax(p))]})
               for v, p in zip(image_vecs, probs)]
    store.upsert(points)
    yield store, encoder, paragraphs
    store.close()


def test_each_modality_gets_its_own_null_distribution(mixed_store) -> None:
    store, encoder, _ = mixed_store
    cal = fit_calibration(store, encoder, ["text", "image"])
    assert set(cal.stats) == {"text", "image"}
    assert cal.stats["text"].n == 60 and cal.stats["image"].n == 45
    # the modality gap this exists for: chance-level similarity differs by modality
    assert abs(cal.stats["text"].mean - cal.stats["image"].mean) > 2 * min(cal.stats["text"].std,
                                                                            cal.stats["image"].std) / 10


def test_matches_are_relevant_and_chance_is_not_in_both_modalities(mixed_store) -> None:
    store, encoder, paragraphs = mixed_store
    cal = fit_calibration(store, encoder, ["text", "image"])
    query = encoder.encode_query(["a photo of a golden retriever"])[0]
    for hit in store.search("text", query.tolist(), 105):
        z = cal.z(hit.score, hit.payload["modality"])  # standard deviations above chance
        if hit.payload["modality"] == "image" and hit.payload["label"] == "golden retriever":
            assert z > 3.0, z
        if hit.payload["modality"] == "text":
            assert z < 3.0, z

    words = paragraphs[7].split()
    query = encoder.encode_query([" ".join(words[:25])])[0]
    hits = store.search("text", query.tolist(), 105)
    best = max(hits, key=lambda h: cal.z(h.score, h.payload["modality"]))
    assert best.payload.get("i") == 7
    assert all(cal.z(h.score, "image") < 3.0 for h in hits if h.payload["modality"] == "image")


def test_cache_refits_only_when_the_collection_moves(mixed_store, tmp_path: Path) -> None:
    store, encoder, _ = mixed_store
    saved: list[str] = []
    cache = CalibrationCache(store, encoder, lambda: saved[-1] if saved else None, saved.append)
    first = cache()
    assert cache() is first and len(saved) == 1
    reloaded = CalibrationCache(store, encoder, lambda: saved[-1], saved.append)()
    assert reloaded.stats == first.stats and len(saved) == 1  # read back, not refitted


def test_a_large_fit_is_trusted_between_rechecks(mixed_store, tmp_path: Path, monkeypatch) -> None:
    from retrieval import calibration

    store, encoder, _ = mixed_store
    monkeypatch.setattr(calibration, "LARGE_COLLECTION", 50)  # the fixture's 105 segments count as large
    own = EdgeStore(tmp_path / "shard", Schema(dense={"text": encoder.dim},
                                                 payload_indexes={"modality": PayloadType.KEYWORD}))
    own.upsert(store.retrieve([p.id for p in store.scroll(None, limit=200)[0]], with_vectors=True))
    trusting = CalibrationCache(own, encoder, lambda: None, lambda _: None, recheck_s=3600)
    checking = CalibrationCache(own, encoder, lambda: None, lambda _: None, recheck_s=0)
    first_trusting, first_checking = trusting(), checking()
    vectors = encoder.encode_document([f"note number {i} about the garden shed" for i in range(60)])
    own.upsert([PointRecord(str(uuid.uuid4()), {"text": v.tolist()}, {"modality": "text"}) for v in vectors])
    assert trusting() is first_trusting  # no count, no refit, within the recheck interval
    assert checking() is not first_checking  # the collection grew by more than a quarter: refitted
    own.close()
