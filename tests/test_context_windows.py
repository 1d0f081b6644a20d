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
from tests.conftest import load_bench_script


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
