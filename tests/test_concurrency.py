"""Searching while ingestion runs in the same process; a second process on the same embedded store."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from encoders.runtime import background_priority
from ingest.report import IngestReport
from omnidex.parts import SearchesFirst
from omnidex.service import Omnidex
from retrieval.search import SearchMode
from tests.conftest import make_settings, write_pdf


def test_searches_keep_working_while_ingestion_runs(tmp_path: Path) -> None:
    anchor = write_pdf(tmp_path / "first" / "springs.pdf", ["Hot springs steam beside the basalt columns."])
    first = Omnidex(make_settings(tmp_path / "data"))
    first.ingest([anchor.parent])
    first.close()
    batch = tmp_path / "batch"
    for n in range(10):
        write_pdf(batch / f"report{n}.pdf", [f"Report {n} on orchard irrigation, section {s}. " * 20 for s in range(3)])

    app = Omnidex(make_settings(tmp_path / "data"))  # nothing built yet: both threads race to open the store
    reports: list[IngestReport] = []
    errors: list[Exception] = []

    def ingest() -> None:
        try:
            reports.append(app.ingest([batch]))
        except Exception as e:  # noqa: BLE001 - handed to the main thread, which asserts there were none
            errors.append(e)

    worker = threading.Thread(target=ingest)
    try:
        worker.start()
        during = 0
        while worker.is_alive():
            hits = app.search("steam from hot springs near basalt", mode=SearchMode.HYBRID)
            assert hits and hits[0].path == str(anchor)
            during += worker.is_alive()
        worker.join()
        assert errors == []
        assert during >= 3, f"only {during} searches overlapped the ingestion"
        assert reports[0].count("indexed") == 10 and not reports[0].failures
        assert app.store.count() == 1 + reports[0].points_written
        assert app.search("orchard irrigation report 7", mode=SearchMode.HYBRID)
    finally:
        worker.join()
        app.close()


def test_a_second_process_is_told_who_holds_the_store(tmp_path: Path) -> None:
    data = tmp_path / "data"
    holder = Omnidex(make_settings(data))
    holder.store.count()  # opened: this process holds the embedded store
    env = {**os.environ, "OMNIDEX_DATA_DIR": str(data), "HF_HUB_OFFLINE": "1"}
    try:
        result = subprocess.run([sys.executable, "-m", "omnidex.cli", "status"], env=env, capture_output=True,
                                text=True, timeout=300, check=False)
    finally:
        holder.close()
    assert result.returncode == 2, result.stderr
    assert f"PID {os.getpid()}" in result.stderr and "pytest" in result.stderr  # who holds it, and what it is
    assert "QDRANT_URL" in result.stderr and "docker compose" in result.stderr  # what to do instead
    assert "Traceback" not in result.stderr

    after = Omnidex(make_settings(data))  # closing released it
    try:
        assert after.store.count() == 0
    finally:
        after.close()


def _cli(data: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "omnidex.cli", "--data-dir", str(data), *args]


def _catalog_rows(data: Path) -> tuple[list[tuple], list[tuple]]:
    import sqlite3

    with sqlite3.connect(f"file:{data / 'catalog.sqlite'}?mode=ro", uri=True) as conn:
        return (conn.execute("SELECT path, asset_id, status, segments, partial FROM files ORDER BY path").fetchall(),
                conn.execute("SELECT key, value FROM meta ORDER BY key").fetchall())


def test_a_refused_reindex_changes_nothing(tmp_path: Path) -> None:
    data = tmp_path / "data"
    holder = Omnidex(make_settings(data))
    holder.ingest([write_pdf(tmp_path / "docs" / "tides.pdf", ["Spring tides flood the salt marsh twice a month."])
                   .parent])
    before = _catalog_rows(data)
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    try:  # the holder keeps the index open, as the UI does
        refused = subprocess.run(_cli(data, "reindex", "--quiet"), env=env, capture_output=True, text=True,
                                 timeout=300, check=False)
        assert refused.returncode == 2 and f"PID {os.getpid()}" in refused.stderr, refused.stderr
        assert _catalog_rows(data) == before  # no file marked "indexing", no reindex recorded
        assert holder.catalog.counts() == {"indexed": 1}
        assert holder.search("spring tides flood the salt marsh")[0].path.endswith("tides.pdf")
    finally:
        holder.close()
    after = Omnidex(make_settings(data))  # and a restart finds the same models and serves the same results
    try:
        assert after.search("spring tides flood the salt marsh")[0].path.endswith("tides.pdf")
    finally:
        after.close()


def test_of_two_ingests_on_one_folder_the_first_keeps_the_index(tmp_path: Path) -> None:
    import time

    docs = tmp_path / "docs"
    for n in range(15):
        write_pdf(docs / f"log{n:02}.pdf", [f"Harbour log {n}, page {p}: cargo, tides and weather. " * 12
                                            for p in range(3)])
    data = tmp_path / "data"
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    first = subprocess.Popen(_cli(data, "ingest", "--quiet", str(docs)), env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    try:
        lock = data / "qdrant.lock"
        deadline = time.monotonic() + 120
        while not (lock.exists() and f"PID {first.pid}" in lock.read_text()):
            assert first.poll() is None and time.monotonic() < deadline, first.communicate()
            time.sleep(0.05)
        second = subprocess.run(_cli(data, "ingest", "--quiet", str(docs)), env=env, capture_output=True,
                                text=True, timeout=300, check=False)
        still_running = first.poll() is None
        out, err = first.communicate(timeout=600)
    finally:
        first.kill()
    assert second.returncode == 2, (second.stdout, second.stderr)
    assert f"in use by another process (PID {first.pid}" in second.stderr and "Traceback" not in second.stderr
    assert still_running  # refused at once, not after loading models and waiting for the first
    assert first.returncode == 0 and "15 indexed" in out, (out, err)


def test_an_indexing_batch_waits_while_a_search_runs() -> None:
    """Searches first: the indexer's next batch starts only once the running search is done, and a stream of
    searches delays a batch by at most the gate's patience."""
    gate = SearchesFirst(patience=10.0)
    order: list[str] = []
    batch = threading.Thread(target=lambda: (gate.wait(), order.append("batch")))
    with gate.searching():
        batch.start()
        time.sleep(0.3)
        order.append("search")
    batch.join(timeout=10)
    assert order == ["search", "batch"]
    impatient = SearchesFirst(patience=0.2)
    with impatient.searching():
        started = time.monotonic()
        assert impatient.wait()  # nobody ends this search: the batch goes on after its patience, narrowed
        assert 0.15 <= time.monotonic() - started < 5


def test_batches_stay_narrow_while_searches_are_about() -> None:
    gate = SearchesFirst(recent=0.3)
    assert gate.wait() is False  # nobody has searched: the batch may take every core
    with gate.searching():
        pass
    assert gate.wait() is True  # a person is searching: leave them a core
    time.sleep(0.4)
    assert gate.wait() is False


@pytest.mark.skipif(sys.platform != "linux", reason="per-thread priorities are Linux's")
def test_indexing_runs_at_a_lower_priority_and_so_do_the_threads_it_starts() -> None:
    seen: dict[str, int] = {}

    def priority() -> int:
        return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    def indexing() -> None:
        seen["before"] = priority()
        with background_priority(10):
            seen["inside"] = priority()
            started = threading.Thread(target=lambda: seen.update(started=priority()))
            started.start()
            started.join()
        seen["after"] = priority()

    worker = threading.Thread(target=indexing)
    worker.start()
    worker.join()
    assert seen["inside"] == min(seen["before"] + 10, 19) == seen["started"]
    assert priority() == seen["before"]  # the caller's own thread is untouched
    if os.geteuid() == 0:  # only a privileged thread may raise its priority again
        assert seen["after"] == seen["before"]


def test_the_encoder_offers_the_cores_between_its_batches(tmp_path: Path) -> None:
    app = Omnidex(make_settings(tmp_path / "data"))
    try:
        encoder = app.text_encoder
        calls: list[int] = []

        def pause() -> bool:
            calls.append(1)
            return False  # nobody is searching

        texts = [f"Passage {n} about tidal mills and their sluice gates." for n in range(3 * encoder.batch_size + 1)]
        vectors = encoder.encode_document(texts, pause=pause)
        assert len(calls) == 4 and vectors.shape == (len(texts), encoder.dim)
        assert float(vectors[5] @ encoder.encode_document([texts[5]])[0]) > 0.97  # int8: batch-mates move it a little
        # While searches are about, the batches run one thread wide, as queries do: the same vectors.
        narrowed = encoder.encode_document(texts, pause=lambda: True)
        assert encoder._session.threads == 1 and encoder._documents.threads == encoder.threads
        assert encoder._documents is not encoder._session  # indexing's pool is its own (its priority is lower)
        assert np.allclose(narrowed, vectors, atol=1e-4)
    finally:
        app.close()
