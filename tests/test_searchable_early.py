"""Searchable while it indexes: a file is found by its words as soon as it is read, by its meaning once the
second phase has embedded it, and a run killed in either phase is finished exactly by the next one."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from ingest.catalog import INDEXED, WORDS
from ingest.report import Progress
from omnidex.service import Omnidex
from retrieval.search import SearchMode
from tests.conftest import make_settings, write_pdf
from tests.test_crash_safety import WORDS as VOCABULARY
from tests.test_crash_safety import ingest_here, lay_out, snapshot


class Seen(Progress):
    """Each moment a file became searchable, and what a search found then."""

    def __init__(self, app: Omnidex, query: str) -> None:
        self.app, self.query = app, query
        self.events: list[tuple[str, bool, list[str], list[str], int]] = []

    def searchable(self, path: Path, fully: bool) -> None:
        by_words = self.app.search(self.query, mode=SearchMode.BM25, cutoff=False)
        by_meaning = self.app.search(self.query, mode=SearchMode.DENSE, cutoff=False)
        self.events.append((path.name, fully, [Path(h.path).name for h in by_words],
                            [Path(h.path).name for h in by_meaning], by_words.words_only))


def _three_files(folder: Path) -> list[Path]:
    topics = ["tide tables for the northern harbour", "pruning roses in late winter", "lentil soup with cumin"]
    return [write_pdf(folder / f"{n}.pdf", [f"{topic}, page {p}: " + f"{topic} " * 30 for p in range(3)])
            for n, topic in enumerate(topics)]


def test_a_file_is_found_by_its_words_first_and_by_its_meaning_after(app: Omnidex, tmp_path: Path) -> None:
    _three_files(tmp_path / "docs")
    seen = Seen(app, "tide tables northern harbour")
    report = app.ingest([tmp_path / "docs"], seen)
    assert [o.status for o in report.outcomes] == [INDEXED] * 3
    # All three are read (and found by their words) before the meaning of any is embedded: one batch across files.
    assert [(name, fully) for name, fully, *_ in seen.events] == [
        ("0.pdf", False), ("1.pdf", False), ("2.pdf", False), ("0.pdf", True), ("1.pdf", True), ("2.pdf", True)]
    first = seen.events[0]
    assert first[2] == ["0.pdf"] and first[3] == [] and first[4] == 1  # BM25 finds it; dense does not yet
    assert [e[4] for e in seen.events] == [1, 2, 3, 2, 1, 0]  # the search says how many wait for their meaning
    assert seen.events[3][3][0] == "0.pdf"  # once its meaning is there, dense finds it (first)
    results = app.search("tide tables northern harbour")
    assert not results.partial and results.notice is None and Path(results[0].path).name == "0.pdf"
    assert app.searchable() == {"by_words": 3, "fully": 3, "words_only": 0}
    points, _ = app.store.scroll(limit=100, with_vectors=True)
    assert len(points) == report.points_written and all({"text", "bm25"} <= set(p.vectors) for p in points)


def test_a_small_meaning_batch_embeds_each_file_before_the_next_is_read(app: Omnidex, tmp_path: Path) -> None:
    _three_files(tmp_path / "docs")
    app.indexer.meaning_batch = 1
    seen = Seen(app, "lentil soup")
    app.ingest([tmp_path / "docs"], seen)
    assert [(name, fully) for name, fully, *_ in seen.events] == [
        ("0.pdf", False), ("0.pdf", True), ("1.pdf", False), ("1.pdf", True), ("2.pdf", False), ("2.pdf", True)]


def test_files_left_at_their_words_are_pending_work_for_check_and_repair(tmp_path: Path) -> None:
    """What a run killed after reading leaves: `check` calls it work to do, not damage; a catalog rebuilt from
    such a store keeps those files pending, and the next run embeds their meaning."""
    files = _three_files(tmp_path / "docs")
    app = Omnidex(make_settings(tmp_path / "data"))
    try:
        for path in files[:2]:
            app.indexer._read_file(path, Progress())  # the first phase alone
        app.indexer._waiting.clear()  # the meaning never came: the process died
        assert app.searchable() == {"by_words": 2, "fully": 0, "words_only": 2}
        assert app.status()["searchable"]["words_only"] == 2
        found = app.search("pruning roses", cutoff=False)
        assert Path(found[0].path).name == "1.pdf" and found.partial and found.words_only == 2
        assert Path(app.search("pruning roses", diversity=0.5)[0].path).name == "1.pdf"  # no meaning to compare
        integrity = app.check()
        assert integrity.healthy and integrity.words_only == 2
        assert "embed the meaning of 2 file(s) searchable by their words only" in integrity.plan()
    finally:
        app.close()
    (tmp_path / "data" / "catalog.sqlite").unlink()
    app = Omnidex(make_settings(tmp_path / "data"))
    try:
        report = app.repair()
        assert sorted(o.path.name for o in report.outcomes if o.status == INDEXED) == ["0.pdf", "1.pdf"]
        assert app.searchable() == {"by_words": 2, "fully": 2, "words_only": 0}
        points, _ = app.store.scroll(limit=100, with_vectors=True)
        assert points and all("text" in p.vectors for p in points)
    finally:
        app.close()


# --- SIGKILL in either phase ------------------------------------------------------------------------------


def _corpus(scratch: Path, files: int, pages: int) -> dict[str, bytes]:
    out = {}
    for n in range(files):
        rng = random.Random(n)
        texts = [" ".join(rng.choice(VOCABULARY) for _ in range(160)) + f" (file {n}, page {p})" for p in range(pages)]
        out[f"f{n:02d}.pdf"] = write_pdf(scratch / f"f{n:02d}.pdf", texts).read_bytes()
    return out


def _statuses(catalog: Path) -> list[str]:
    if not catalog.exists():
        return []
    try:
        with sqlite3.connect(catalog, timeout=1) as c:
            return [row[0] for row in c.execute("SELECT status FROM files")]
    except sqlite3.OperationalError:  # the writer holds it this instant
        return []


def _kill_when(data: Path, corpus: Path, moment: Callable[[list[str]], bool]) -> None:
    """Run `omnidex ingest` and SIGKILL it as soon as the catalog's statuses satisfy `moment`."""
    env = {**os.environ, "OMNIDEX_DATA_DIR": str(data), "OMNIDEX_RERANK_MODEL": "", "HF_HUB_OFFLINE": "1"}
    child = subprocess.Popen([sys.executable, "-m", "omnidex.cli", "ingest", "--quiet", str(corpus)], env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 300
    while child.poll() is None and time.monotonic() < deadline:
        if moment(_statuses(data / "catalog.sqlite")):
            child.send_signal(signal.SIGKILL)
            break
        time.sleep(0.005)
    _, stderr = child.communicate(timeout=60)
    assert child.returncode == -signal.SIGKILL, f"not killed in time (exit {child.returncode}): {stderr[-2000:]}"


def _reading(statuses: list[str]) -> bool:
    """Some files read and written by their words, the meaning of none embedded yet."""
    return WORDS in statuses and INDEXED not in statuses


def _embedding(statuses: list[str]) -> bool:
    """The second phase half done: some files have their meaning, others only their words."""
    return WORDS in statuses and INDEXED in statuses


@pytest.mark.parametrize("phase", ["reading", "embedding"])
def test_a_run_killed_in_either_phase_is_finished_exactly(tmp_path: Path, phase: str) -> None:
    scratch, corpus = tmp_path / "scratch", tmp_path / "corpus"
    scratch.mkdir()
    lay_out(corpus, _corpus(scratch, files=12, pages=8))  # ~100 segments: three batches of the second phase
    ingest_here(tmp_path / "clean", corpus)
    want = snapshot(tmp_path / "clean")

    data = tmp_path / "killed"
    moment = _reading if phase == "reading" else _embedding
    _kill_when(data, corpus, moment)
    left = _statuses(data / "catalog.sqlite")
    assert moment(left), left
    app = Omnidex(make_settings(data))
    try:  # what the killed run left is searchable by its words already, and says so
        words_only = app.searchable()["words_only"]
        assert words_only == left.count(WORDS) > 0
        assert app.search("harbour ledger pelican", mode=SearchMode.BM25).words_only == words_only
    finally:
        app.close()

    ingest_here(data, corpus)
    got = snapshot(data)
    assert got == want  # the same points (none missing, none twice, none orphaned), rows and thumbnails
    assert {status for status, _ in got.files.values()} == {INDEXED}
    app = Omnidex(make_settings(data))
    try:
        points, offset, with_meaning = [], None, 0
        while True:
            page, offset = app.store.scroll(limit=256, offset=offset, with_vectors=True)
            points += page
            with_meaning += sum(1 for p in page if "text" in p.vectors and "bm25" in p.vectors)
            if offset is None:
                break
        assert with_meaning == len(points) == len(want.points) == app.store.count()
        assert not app.search("harbour ledger pelican").partial
    finally:
        app.close()
