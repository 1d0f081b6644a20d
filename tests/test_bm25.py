"""Our BM25 (tokenizer + TF weights, IDF inside Qdrant) against the rank-bm25 reference."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
from rank_bm25 import BM25Okapi

from encoders.bm25 import Bm25Encoder, all_words, term_index, tokenize, word_pairs
from sample_corpus import real_text_paragraphs
from store.base import PointRecord, Schema
from store.edge import EdgeStore


def test_tokenizer_lowercases_stems_and_drops_stopwords() -> None:
    assert tokenize("The Running dogs were JUMPING over fences") == ["run", "dog", "jump", "fenc"]
    assert tokenize("Ünïcode wörds straße 42") == ["ünïcode", "wörds", "straße", "42"]
    assert tokenize("of the and") == []


def test_term_ids_are_stable_across_processes() -> None:
    # crc32 of b"dog": a literal, so a change of hashing scheme (which would orphan every stored vector) fails here.
    assert term_index("dog") == 0x012C397D
    assert term_index("dog") != term_index("cat")


def test_document_weights_saturate_and_normalise_length() -> None:
    enc = Bm25Encoder(k1=1.2, b=0.75, avg_len=10)
    once = enc.encode_document("otter")
    many = enc.encode_document("otter " * 50)
    assert weight(many, "otter") > weight(once, "otter")
    assert weight(many, "otter") < 1.2 + 1  # tf saturates below k1 + 1
    short = enc.encode_document("otter river")
    long = enc.encode_document("otter river " + "bank " * 40)
    assert weight(short, "otter") > weight(long, "otter")


def weight(vector, term: str) -> float:
    return vector.values[vector.indices.index(term_index(term))]


def test_word_pairs_keep_the_stop_words_a_phrase_is_made_of() -> None:
    assert tokenize("for trying out the") == ["tri"]
    assert word_pairs(all_words("For trying out the")) == ["for tri", "tri out", "out the"]
    enc = Bm25Encoder()
    doc = enc.encode_document("Thank you for trying out the new menu.")
    assert all(term_index(t) in doc.indices for t in ("tri", "menu", "for tri", "out the"))
    assert sorted(enc.encode_phrase_query("for trying out the").indices) == sorted(
        term_index(t) for t in ("for tri", "tri out", "out the"))
    assert enc.encode_phrase_query("otters").indices == []  # one word: no phrase
    assert enc.encode_query("for trying out the").indices == [term_index("tri")]  # topical side unchanged


def test_a_phrase_query_finds_the_segment_that_says_it(tmp_path: Path) -> None:
    """On real paragraphs, four consecutive words (stop words and all) put their paragraph first."""
    paragraphs = real_text_paragraphs()[:800]
    enc = Bm25Encoder()
    store = EdgeStore(tmp_path / "shard", Schema(dense={"text": 2}, sparse=("bm25",)))
    store.upsert([PointRecord(id=_uuid(i), vectors={"text": [1.0, 0.0], "bm25": enc.encode_document(p)},
                              payload={"i": i}) for i, p in enumerate(paragraphs)])
    rng = random.Random(5)
    found = topical = trials = 0
    for doc in rng.sample(range(len(paragraphs)), 80):
        words = paragraphs[doc].split()
        if len(words) < 8:
            continue
        start = rng.randrange(len(words) - 4)
        query = " ".join(words[start : start + 4])
        trials += 1
        first = store.search("bm25", enc.encode_phrase_query(query), 1)
        found += bool(first) and first[0].payload["i"] == doc
        terms = enc.encode_query(query)
        first = store.search("bm25", terms, 1) if terms.indices else []
        topical += bool(first) and first[0].payload["i"] == doc
    store.close()
    assert trials >= 60
    assert found / trials >= 0.9, (found, topical, trials)
    assert found > topical  # the pairs carry what content terms alone lose


def test_query_vector_counts_each_term_once() -> None:
    q = Bm25Encoder().encode_query("otter otter river")
    assert sorted(q.values) == [1.0, 1.0]


@pytest.mark.parametrize("n_queries", [60])
def test_ranking_matches_rank_bm25_on_real_text(tmp_path: Path, n_queries: int) -> None:
    paragraphs = real_text_paragraphs()[:1500]
    assert len(paragraphs) >= 1000
    tokens = [tokenize(p) for p in paragraphs]
    avg_len = float(np.mean([len(t) for t in tokens]))
    encoder = Bm25Encoder(k1=1.5, b=0.75, avg_len=avg_len)  # rank-bm25's defaults
    reference = BM25Okapi(tokens, k1=1.5, b=0.75)

    store = EdgeStore(tmp_path / "shard", Schema(dense={"text": 2}, sparse=("bm25",)))
    store.upsert(
        [
            PointRecord(id=_uuid(i), vectors={"text": [1.0, 0.0], "bm25": encoder.encode_document(p)}, payload={"i": i})
            for i, p in enumerate(paragraphs)
        ]
    )

    rng = random.Random(3)
    overlaps = []
    for doc in rng.sample(range(len(paragraphs)), n_queries):
        words = paragraphs[doc].split()
        start = rng.randrange(max(1, len(words) - 5))
        query = " ".join(words[start : start + 5])
        if not tokenize(query):
            continue
        ours = [p.payload["i"] for p in store.search("bm25", encoder.encode_query(query), 10)]
        scores = reference.get_scores(tokenize(query))
        theirs = [int(i) for i in np.argsort(-scores, kind="stable")[:10] if scores[i] > 0]
        if theirs:
            overlaps.append(len(set(ours) & set(theirs)) / len(theirs))
    store.close()
    assert len(overlaps) >= 50
    assert np.mean(overlaps) >= 0.8, np.mean(overlaps)


def _uuid(i: int) -> str:
    import uuid

    return str(uuid.UUID(int=i + 1))
