"""Context windows: a chunk is scored together with the stretch of its document the encoder reads at once,
so a long answer is found by what the whole answer says and a hit still points at its chunk."""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from omnidex.evaluation import RUNS, BeirDataset, indexed, load_beir, rankings, score
from omnidex.service import Omnidex
from tests.conftest import load_bench_script, make_settings


@pytest.fixture(scope="module")
def shell_faq(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Omnidex, BeirDataset]]:
    """The zsh and Git FAQs (long answers with code), indexed once for the module."""
    if shutil.which("apt-get") is None or shutil.which("dpkg-deb") is None:
        pytest.skip("apt-get/dpkg-deb not available: the FAQs are fetched as Debian packages")
    root = tmp_path_factory.mktemp("shell-faq")
    folder = load_bench_script("faq_to_beir").build_shell_faq(root / "beir", root / "cache")
    dataset = load_beir(folder)
    with indexed(folder, dataset) as app:
        yield app, dataset


def test_every_chunk_sits_in_a_window_the_encoder_reads_whole(app: Omnidex) -> None:
    chunker = app.indexer.ctx.chunker
    limit = app.text_encoder.max_tokens - 8
    text = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    chunks = chunker.chunks(text)
    assert len(chunks) > 10
    windows = {c.window for c in chunks if c.window}
    assert 1 < len(windows) < len(chunks)  # several chunks share a window
    for window in windows:
        assert app.text_encoder.count_tokens(window) <= limit
    for chunk in chunks:
        # A chunk may straddle two windows (chunks overlap); it lies mostly in the one it was given.
        assert chunk.window is None or chunk.text[:40] in chunk.window or chunk.text[-40:] in chunk.window
        if chunk.window is not None:  # its span is its part in the window: most of it
            start, end = chunk.span
            assert chunk.window[start:end] in chunk.text and end - start > len(chunk.text) // 2
    assert [c.text for c in chunks] == chunker.split(text)  # windows never change the chunks themselves
    assert chunker.chunks("A one-line page.")[0].window is None  # a window that is the chunk adds nothing


def test_multi_chunk_answers_store_their_window_and_are_scored_with_it(shell_faq) -> None:
    app, dataset = shell_faq
    query = app.text_encoder.encode_query(["How do I make zsh my login shell?"])[0]
    found = app.store.search("text", query.tolist(), 50, None, with_vectors=True)
    windowed = [p for p in found if "context" in p.vectors]
    alone = [p for p in found if "context" not in p.vectors]
    assert windowed and alone  # long answers carry windows; one-chunk answers need none
    scores, _ = app.searcher._with_context(query, found)
    for point, combined in zip(found, scores):
        own = np.asarray(point.vectors["text"])
        window = np.asarray(point.vectors.get("context", own))
        expected = own @ query / np.linalg.norm(own) + window @ query / np.linalg.norm(window)
        assert combined == pytest.approx(expected, abs=1e-4)


def test_long_answers_rank_better_with_their_windows(shell_faq) -> None:
    app, dataset = shell_faq
    with_windows = score(dataset, rankings(app, dataset, RUNS["dense"]))["ndcg@10"]
    searcher = app.searcher
    original = searcher.config
    searcher.config = dataclasses.replace(original, context_weight=0.0)
    try:
        chunks_alone = score(dataset, rankings(app, dataset, RUNS["dense"]))["ndcg@10"]
    finally:
        searcher.config = original
    # Measured on zsh-common 5.9 + git-doc 2.39: 0.88 -> 0.91.
    assert with_windows >= chunks_alone + 0.01, (chunks_alone, with_windows)


LONG_ANSWER = " ".join(
    f"Paragraph {n}: the tide mill at the estuary stores sea water behind a sluice gate at high tide and lets it "
    f"out through the wheel at low tide; the miller opens gate {n} when the level drops below the mark."
    for n in range(14))


@pytest.mark.parametrize("model", ["all-minilm-l6-v2", "bge-small-en mean-pooled"])
def test_late_chunking_reads_each_window_once_and_pools_its_chunks(model: str) -> None:
    """A mean-pooled encoder (sentence-transformers MiniLM; the ONNX path with mean pooling) pools a chunk from
    its window's token states: the window's own vector is its ordinary encoding, and each chunk's vector is
    near that chunk's ordinary encoding while knowing its context."""
    from encoders.packaged import locate
    from encoders.text import OnnxTextEncoder, load_text_encoder
    from ingest.chunking import TextChunker

    encoder = (load_text_encoder(model) if model == "all-minilm-l6-v2"
               else OnnxTextEncoder(locate("bge-small-en"), "bge-small-en-mean", pooling="mean"))
    assert encoder.late_chunking
    chunker = TextChunker(encoder.count_tokens, 60, 8, encoder.max_tokens - 8)
    chunks = [c for c in chunker.chunks(LONG_ANSWER) if c.window]
    windows = list(dict.fromkeys(c.window for c in chunks))
    assert len(chunks) > len(windows) >= 2
    vectors, pooled = encoder.encode_windows(windows, [[c.span for c in chunks if c.window == w] for w in windows])
    plain = encoder.encode_document(windows)
    assert np.allclose((vectors * plain).sum(1), 1.0, atol=2e-3)  # a window's vector is its encoding
    alone = encoder.encode_document([c.text for c in chunks])
    late = np.concatenate(pooled)
    assert late.shape == alone.shape and np.allclose(np.linalg.norm(late, axis=1), 1.0, atol=1e-5)
    similarity = late @ alone.T
    assert (np.diag(similarity) > 0.75).all()  # the same words, read in context
    assert float(np.diag(similarity).mean()) > float(similarity.mean())  # each nearest its own chunk on average


def test_bge_is_not_late_chunked() -> None:
    """bge-small-en's vector is its first token's state: a mean over a stretch of its tokens is not a vector of
    that stretch (dense nDCG@10 fell 0.03-0.13 on the FAQ sets), so its chunks are encoded one by one."""
    from encoders.text import load_text_encoder

    assert not load_text_encoder("bge-small-en").late_chunking


def test_a_mean_pooled_index_stores_late_chunked_chunks_and_their_windows(tmp_path: Path) -> None:
    from store.base import pages

    app = Omnidex(make_settings(tmp_path / "data", text_model="all-minilm-l6-v2", chunk_tokens=60))
    try:
        app.indexer.index_texts([("tide-mills", LONG_ANSWER)])
        encoder, chunker = app.text_encoder, app.indexer.ctx.chunker
        chunks = chunker.chunks(LONG_ANSWER)
        stored = {p.payload["locator"]: p.vectors for page in pages(app.store, with_vectors=True) for p in page}
        assert set(stored) == {f"c{n}" for n in range(len(chunks))}
        windowed = [(n, c) for n, c in enumerate(chunks) if c.window]
        assert len(windowed) > 2
        for n, chunk in windowed:
            _, (late,) = encoder.encode_windows([chunk.window], [[chunk.span]])
            assert float(np.dot(stored[f"c{n}"]["text"], late[0])) > 0.999
            assert float(np.dot(stored[f"c{n}"]["context"], encoder.encode_document([chunk.window])[0])) > 0.999
    finally:
        app.close()
