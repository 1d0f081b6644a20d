"""File names as the file system allows them: bytes that are not UTF-8, newlines, bidi controls.

Archives copied from old Windows machines or camera cards carry Latin-1 or
CP-437 names; Python hands them over with surrogate escapes, which SQLite and
Qdrant refuse. Such a file must be indexed like any other, shown with U+FFFD,
reopened from what the index stores, and reconciled (moved, deleted) on a rerun;
and no name may forge a line of plain CLI output.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from core.paths import display, from_text, readable, to_text
from ingest.catalog import INDEXED
from ingest.indexer import asset_filter
from omnidex.service import Omnidex
from tests.conftest import make_settings, write_pdf
from tests.test_cli import omnidex


def _named(folder: Path, raw_name: bytes, text: str, scratch: Path) -> Path:
    """A real PDF under a name given as bytes (PyMuPDF itself cannot write to such a name)."""
    made = write_pdf(scratch / f"{abs(hash(raw_name))}.pdf", [text])
    target = os.fsencode(folder) + b"/" + raw_name
    os.makedirs(os.path.dirname(target), exist_ok=True)
    os.rename(os.fsencode(made), target)
    return Path(os.fsdecode(target))


def test_paths_round_trip_through_their_stored_forms() -> None:
    native = os.fsdecode(b"/archive/caf\xe9/\x80\xff two\nlines.pdf")
    key = to_text(native)
    key.encode("utf-8")  # what SQLite and Qdrant need
    assert from_text(key) == native and os.fsencode(from_text(key)) == b"/archive/caf\xe9/\x80\xff two\nlines.pdf"
    assert readable(native) == "/archive/caf\ufffd/\ufffd\ufffd two\nlines.pdf" == readable(key)
    assert display(native) == "/archive/caf\ufffd/\ufffd\ufffd two\\nlines.pdf"
    assert display("report\u202egpj.pdf\x1b[2J") == "report\\u202egpj.pdf\\x1b[2J"
    assert to_text("/plain/café ☕.pdf") == "/plain/café ☕.pdf" == display("/plain/café ☕.pdf")


def test_names_that_are_not_utf8_are_indexed_shown_reopened_and_reconciled(tmp_path: Path) -> None:
    docs, scratch = tmp_path / "docs", tmp_path / "scratch"
    docs.mkdir()
    scratch.mkdir()
    latin1 = _named(docs, b"caf\xe9 menu.pdf", "Tonight the cafe serves pumpkin soup with chestnuts.", scratch)
    cp437 = _named(docs, b"\x8eLTERE \x94FEN/inventory.pdf", "Inventory of the tiled stoves in the cellar.", scratch)
    # Sorted after the names above (U+DCxx): the batch must go on past them.
    after = write_pdf(docs / "\U0001f4c4 after.pdf", ["The lighthouse keeper logs the fog horn hours."])
    newline = write_pdf(docs / "two\nlines.pdf", ["The glacier museum reopens after the roof repairs."])

    app = Omnidex(make_settings(tmp_path / "data"))
    try:
        report = app.ingest([docs])
        assert not report.failures, report.failures
        assert {o.path for o in report.outcomes if o.status == "indexed"} == {latin1, cp437, after, newline}
        assert app.catalog.get(str(latin1)).status == INDEXED
        assert {r.path for r in app.catalog.files()} == {str(latin1), str(cp437), str(after), str(newline)}

        hits = app.search("pumpkin soup with chestnuts", cutoff=False)
        assert hits and hits[0].path == readable(latin1) and "\ufffd" in hits[0].path
        payload = app.store.retrieve([hits[0].id])[0].payload
        reopened = Path(os.fsdecode(bytes.fromhex(payload["path_bytes"])))
        assert reopened == latin1 and reopened.read_bytes().startswith(b"%PDF")
        assert app.search("tiled stoves in the cellar", cutoff=False)[0].path == readable(cp437)

        # A rerun reconciles: one odd name deleted, the other renamed to another odd name.
        deleted_asset = app.catalog.get(str(latin1)).asset_id
        latin1.unlink()
        renamed = Path(os.fsdecode(os.fsencode(docs) + b"/\xe9t\xe9.pdf"))
        os.rename(os.fsencode(cp437), os.fsencode(renamed))
        again = app.ingest([docs])
        assert (again.count("removed"), again.count("moved"), again.count("unchanged")) == (1, 1, 2), again
        assert app.catalog.get(str(latin1)) is None and app.catalog.get(str(renamed)).status == INDEXED
        assert app.store.count(asset_filter(deleted_asset)) == 0
        moved = app.search("tiled stoves in the cellar", cutoff=False)[0]
        assert moved.path == readable(renamed)
        moved_payload = app.store.retrieve([moved.id])[0].payload
        assert bytes.fromhex(moved_payload["path_bytes"]) == os.fsencode(renamed)
    finally:
        app.close()

    # Plain CLI output: U+FFFD for the odd bytes, \n for the newline; no line starts with the name's tail.
    data = tmp_path / "data"
    plain = omnidex(data, "search", "tiled stoves glacier museum roof", "--limit", "5")
    assert plain.returncode == 0, plain.stderr
    assert "\ufffdt\ufffd.pdf" in plain.stdout and "two\\nlines.pdf" in plain.stdout
    assert not any(line.startswith("lines.pdf") for line in plain.stdout.splitlines())
    rows = [json.loads(line) for line in omnidex(data, "search", "tiled stoves", "--json").stdout.splitlines()]
    assert rows[0]["path"] == readable(renamed)
