"""The packaged cross-encoder: length-sorted batches give every passage its own score, in the caller's order."""

from __future__ import annotations

import numpy as np
import pytest

from omnidex.service import Omnidex
from rerank.cross_encoder import OnnxCrossEncoder, load_cross_encoder
from retrieval.search import SearchMode
from tests.conftest import make_settings

QUERY = "how do I upgrade the packages installed on my system"
PASSAGES = [
    "Lisbon's trams climb the hills of Alfama; line 28 passes the cathedral and the castle.",
    ("To upgrade every installed package, run apt update to refresh the lists, then apt full-upgrade, "
     "which installs the newer versions and resolves changed dependencies."),
    "Barn owls hunt at night.",
    ("The quarterly review shows churn falling to four percent after the pricing change, with the largest "
     "drop among small teams on monthly plans, while enterprise renewals held steady through the summer."),
    "Stir the risotto often and add the stock a ladle at a time.",
    "Battery capacity fades faster in cold weather.",
    "Packages are the unit of software installation; each one lists the other packages it depends on.",
    "A decompression bomb is a small archive that expands to an enormous size.",
    "Upgrade.",
    "Whisk the eggs with sugar until pale, fold in the flour, and bake for twenty-five minutes.",
]


@pytest.fixture(scope="module")
def cross_encoder() -> OnnxCrossEncoder:
    model = load_cross_encoder("ms-marco-minilm-l12")
    assert isinstance(model, OnnxCrossEncoder)
    return model


def test_batched_scores_are_each_passages_own(cross_encoder: OnnxCrossEncoder) -> None:
    assert cross_encoder.batch_size < len(PASSAGES)  # several batches, of different lengths, in sorted order
    together = cross_encoder.score(QUERY, PASSAGES)
    alone = np.array([cross_encoder.score(QUERY, [p])[0] for p in PASSAGES])
    assert together.shape == (len(PASSAGES),)
    assert np.allclose(together, alone, atol=0.5)  # int8 activations are scaled per batch: close, not equal
    assert int(np.argmax(together)) == 1
    assert cross_encoder.score(QUERY, []).shape == (0,)


def test_a_sentence_transformers_cross_encoder_from_a_folder_scores_in_the_callers_order(tmp_path) -> None:
    """The path users with internet take (a hub id resolves to a folder like this one), on a tiny random model."""
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizerFast

    from rerank.cross_encoder import SentenceTransformersCrossEncoder

    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + "the a cat dog sat on mat ran how do i".split()
    (tmp_path / "vocab.txt").write_text("\n".join(vocab))
    model_dir = tmp_path / "tiny-cross-encoder"
    BertTokenizerFast(vocab_file=str(tmp_path / "vocab.txt")).save_pretrained(model_dir)
    BertForSequenceClassification(BertConfig(
        vocab_size=len(vocab), hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32,
        max_position_embeddings=64, num_labels=1, initializer_range=0.5)).save_pretrained(model_dir)  # spread logits

    model = load_cross_encoder(str(model_dir), device="cpu")
    assert isinstance(model, SentenceTransformersCrossEncoder)
    passages = ["the cat sat on the mat the cat sat on the mat", "a dog", "the dog ran on the mat", "cat"]
    together = model.score("how do i", passages)
    alone = np.array([model.score("how do i", [p])[0] for p in passages])
    assert together.shape == (4,) and together.dtype == np.float32
    assert np.allclose(together, alone, atol=1e-4)  # raw logits (no sigmoid), each passage's own, unsorted
    assert len(set(np.round(together, 3))) == 4  # distinct, so a misplaced score would show
    assert model.score("how do i", []).shape == (0,)


def test_search_runs_the_configured_mode_and_rerank_reads_the_passages(tmp_path, app: Omnidex) -> None:
    """Hybrid unless settings say otherwise; in rerank mode every head hit carries the cross-encoder's judgement."""
    reranking = Omnidex(make_settings(tmp_path / "reranking", search_mode="rerank"))
    try:
        reranking.indexer.index_texts((f"doc{i}", text) for i, text in enumerate(PASSAGES))
        reranked = reranking.search(QUERY, cutoff=False)
        assert reranked[0].asset_id == "doc1"
        assert all("rerank" in hit.scores for hit in reranked)
        hybrid = reranking.search(QUERY, cutoff=False, mode=SearchMode.HYBRID)
        assert not any("rerank" in hit.scores for hit in hybrid)
    finally:
        reranking.close()
    app.indexer.index_texts([("doc1", PASSAGES[1])])  # default settings
    assert not any("rerank" in hit.scores for hit in app.search(QUERY, cutoff=False))
