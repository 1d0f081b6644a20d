"""Ingestion killed with SIGKILL at random moments, then run again: the index ends exactly as a clean run leaves it.

Each trial runs `omnidex ingest` as a separate process, kills it at a random moment once it has opened the store,
and completes the run in this process. Half the trials crash while a complete index is being updated (files
modified, deleted, renamed, added): the old versions' points must not survive as orphans. Some trials also change
a file between the crash and the rerun. The store and catalog are then compared with a clean ingestion of the
same files: the same point ids (nothing missing, no duplicates, no orphans), each showing the right file, the same
catalog rows and the same thumbnails.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from omnidex.service import Omnidex
from tests.conftest import make_settings, write_pdf

TRIALS = 10
WORDS = ["harbour", "ledger", "pelican", "furnace", "quarry", "meadow", "lantern", "orchard", "glacier", "tundra",
         "copper", "saffron", "falcon", "beacon", "cobalt", "walnut", "estuary", "marble", "thistle", "canyon"]


def _pages(seed: int, count: int) -> list[str]:
    rng = random.Random(seed)
    return [" ".join(rng.choice(WORDS) for _ in range(160)) + f" (document {seed}, page {n + 1})"
            for n in range(count)]


def _pdf_bytes(scratch: Path, seed: int, pages: int) -> bytes:
    return write_pdf(scratch / f"{seed}.pdf", _pages(seed, pages)).read_bytes()


@dataclass(frozen=True)
class Snapshot:
    points: dict[str, tuple[str, str]]  # point id -> (asset id, path shown)
    files: dict[str, tuple[str, str | None]]  # catalogued path -> (status, asset id)
    thumbnails: set[str]  # asset folders holding thumbnails
    retired: list[str]  # assets still waiting to be settled


def snapshot(data_dir: Path) -> Snapshot:
    app = Omnidex(make_settings(data_dir))
    try:
        points, offset = {}, None
        while True:
            page, offset = app.store.scroll(limit=500, offset=offset)
            for p in page:
                assert p.id not in points
                points[p.id] = (p.payload["asset_id"], p.payload["path"])
            if offset is None:
                break
        files = {r.path: (r.status, r.asset_id) for r in app.catalog.files()}
        thumbs = {p.name for p in app.thumbnails_dir.glob("*/*")} if app.thumbnails_dir.exists() else set()
        return Snapshot(points, files, thumbs, app.catalog.retired())
    finally:
        app.close()


def ingest_here(data_dir: Path, corpus: Path) -> float:
    started = time.monotonic()
    app = Omnidex(make_settings(data_dir))
    try:
        report = app.ingest([corpus])
        assert not report.failures, report.failures
    finally:
        app.close()
    return time.monotonic() - started


def lay_out(corpus: Path, files: dict[str, bytes]) -> None:
    shutil.rmtree(corpus, ignore_errors=True)
    for name, content in files.items():
        (corpus / name).parent.mkdir(parents=True, exist_ok=True)
        (corpus / name).write_bytes(content)


def start_and_kill(data_dir: Path, corpus: Path, window_s: float, rng: random.Random) -> bool:
    """Run `omnidex ingest` and SIGKILL it at a random moment after it opened the store; True if it was killed."""
    env = {**os.environ, "OMNIDEX_DATA_DIR": str(data_dir), "OMNIDEX_RERANK_MODEL": "", "HF_HUB_OFFLINE": "1"}
    child = subprocess.Popen([sys.executable, "-m", "omnidex.cli", "ingest", "--quiet", str(corpus)], env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    lock = data_dir / "qdrant.lock"  # holds the child's PID once its store is open: start-up is over
    deadline = time.monotonic() + 120
    while child.poll() is None and time.monotonic() < deadline:
        if lock.exists() and lock.read_text().startswith(f"PID {child.pid}"):
            break
        time.sleep(0.01)
    delay = rng.uniform(0, window_s)
    time.sleep(delay)
    child.send_signal(signal.SIGKILL)
    _, stderr = child.communicate(timeout=60)
    if child.returncode not in (0, -signal.SIGKILL):
        pytest.fail(f"ingestion failed on its own (exit {child.returncode}): {stderr.decode()[-2000:]}")
    print(f"kill after {delay:.2f} of {window_s:.2f} s: {'killed' if child.returncode else 'had finished'}")
    return child.returncode == -signal.SIGKILL


def clean_runs(tmp_path: Path, corpus: Path, before: dict[str, bytes], after: dict[str, bytes]
               ) -> tuple[Snapshot, Snapshot, float, float]:
    """What uninterrupted runs leave, the references a killed one must end as: a first ingestion of `before`
    (left in clean-before for the update trials) and one of `after`, and how long a first run and an update of
    clean-before to `after` take here (the kill moments are drawn from them). The update, uninterrupted, must
    already end like a clean run of `after`."""
    lay_out(corpus, before)
    first_run_s = ingest_here(tmp_path / "clean-before", corpus)
    expected_before = snapshot(tmp_path / "clean-before")
    lay_out(corpus, after)
    ingest_here(tmp_path / "clean-after", corpus)
    expected_after = snapshot(tmp_path / "clean-after")
    shutil.copytree(tmp_path / "clean-before", tmp_path / "updated")
    update_s = ingest_here(tmp_path / "updated", corpus)
    assert snapshot(tmp_path / "updated") == expected_after  # an update without a crash ends like a clean run
    return expected_before, expected_after, first_run_s, update_s


def test_killed_ingestion_is_completed_exactly(tmp_path: Path) -> None:
    scratch, corpus = tmp_path / "scratch", tmp_path / "corpus"
    scratch.mkdir()
    before = {f"doc{n}.pdf": _pdf_bytes(scratch, n, pages=2) for n in range(5)}
    after = {
        "doc0.pdf": before["doc0.pdf"],  # untouched
        "doc1.pdf": _pdf_bytes(scratch, 11, pages=3),  # modified
        "doc2.pdf": _pdf_bytes(scratch, 12, pages=1),  # modified, shorter
        # doc3.pdf deleted
        "moved/doc4-renamed.pdf": before["doc4.pdf"],  # renamed into a subfolder
        "doc5.pdf": _pdf_bytes(scratch, 15, pages=2),  # new
    }

    # Kill moments are drawn from how long this process takes for the same work; the child needs longer
    # (it also loads its model), so nearly every kill lands before it is done.
    expected_before, expected_after, first_run_s, update_s = clean_runs(tmp_path, corpus, before, after)
    assert expected_before.points and expected_after.points
    assert set(expected_before.points) != set(expected_after.points)

    rng = random.Random(20261128)
    killed = 0
    for trial in range(TRIALS):
        data = tmp_path / f"trial{trial}"
        if trial % 2 == 0:  # crash during a first ingestion
            lay_out(corpus, before)
            changed_before_rerun = trial % 4 == 2
        else:  # crash while a complete index is brought up to date
            shutil.copytree(tmp_path / "clean-before", data)
            lay_out(corpus, after)
            changed_before_rerun = False
        killed += start_and_kill(data, corpus, first_run_s if trial % 2 == 0 else update_s, rng)
        if changed_before_rerun:
            lay_out(corpus, after)
        ingest_here(data, corpus)

        got = snapshot(data)
        want = expected_after if (trial % 2 == 1 or changed_before_rerun) else expected_before
        assert got.retired == [], f"trial {trial}"
        assert set(got.points) - set(want.points) == set(), f"trial {trial}: orphaned points"
        assert set(want.points) - set(got.points) == set(), f"trial {trial}: missing points"
        assert got.points == want.points, f"trial {trial}: points show the wrong file"
        assert got.files == want.files, f"trial {trial}: catalog"
        assert got.thumbnails == want.thumbnails, f"trial {trial}: thumbnails"
    assert killed >= TRIALS * 0.6, f"only {killed} of {TRIALS} runs were killed before they finished"


MAIL_TRIALS = 4


def _mailbox_bytes(scratch: Path, seed: int, messages: int) -> bytes:
    """A mailbox written by mailbox.mbox: a page of words a message, every third with a two-page PDF attached."""
    import mailbox
    from email.message import EmailMessage

    path = scratch / f"{seed}.mbox"
    box = mailbox.mbox(path)
    for n in range(messages):
        mail = EmailMessage()
        mail["From"], mail["Subject"] = f"Sender {n} <sender{n}@harbour.test>", f"Mailbox {seed}, message {n + 1}"
        mail["Date"], mail["Message-ID"] = f"Mon, {n % 28 + 1:02d} Jan 2024 09:00:00 +0000", f"<{seed}-{n}@harbour.test>"
        mail.set_content(_pages(seed * 1000 + n, 1)[0])
        if n % 3 == 0:
            mail.add_attachment(_pdf_bytes(scratch, seed * 1000 + n, pages=2), maintype="application", subtype="pdf",
                                filename=f"log {n}.pdf")
        box.add(mail)
    box.close()
    return path.read_bytes()


def test_killed_mailbox_ingestion_is_completed_exactly(tmp_path: Path) -> None:
    """The same for a mailbox whose attachments are read by the PDF extractor: their segments, thumbnails
    included, belong to the mailbox, so a killed run leaves neither duplicates nor orphans of them."""
    scratch, corpus = tmp_path / "scratch", tmp_path / "corpus"
    scratch.mkdir()
    before = {"inbox.mbox": _mailbox_bytes(scratch, 1, 24)}
    after = {"inbox.mbox": _mailbox_bytes(scratch, 2, 27)}  # the mailbox changed: new mail, other attachments

    expected_before, expected_after, first_run_s, update_s = clean_runs(tmp_path, corpus, before, after)
    assert expected_before.thumbnails and expected_after.thumbnails  # the attachments' pages

    rng = random.Random(20261208)
    killed = 0
    for trial in range(MAIL_TRIALS):
        data = tmp_path / f"trial{trial}"
        if trial % 2 == 0:
            lay_out(corpus, before)
        else:
            shutil.copytree(tmp_path / "clean-before", data)
            lay_out(corpus, after)
        killed += start_and_kill(data, corpus, first_run_s if trial % 2 == 0 else update_s, rng)
        ingest_here(data, corpus)
        got = snapshot(data)
        want = expected_after if trial % 2 == 1 else expected_before
        assert got.retired == [], f"trial {trial}"
        assert set(got.points) - set(want.points) == set(), f"trial {trial}: orphaned points"
        assert set(want.points) - set(got.points) == set(), f"trial {trial}: missing points"
        assert got == want, f"trial {trial}"
    assert killed >= MAIL_TRIALS * 0.5, f"only {killed} of {MAIL_TRIALS} runs were killed before they finished"
