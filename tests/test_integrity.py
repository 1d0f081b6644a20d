"""Damage to the data directory is noticed, explained in one sentence and healed.

The index (a deleted store folder, a truncated vector file, a WAL full of
garbage) and the catalog (not a database any more) are damaged the way disks
and people damage them; `omnidex check` says what is wrong and what `ingest`
will do, `omnidex ingest` heals the store, `omnidex check --repair` rebuilds the
catalog from the store's payloads, and no command prints a traceback.
A model file damaged in the model cache is noticed at load and made again.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
from PIL import Image

from omnidex.service import Omnidex
from tests.conftest import make_settings, write_pdf
from tests.test_cli import omnidex

QUERY = "avocets wading in the lagoon at dawn"


def _indexed(tmp_path: Path) -> tuple[Path, Path]:
    docs = tmp_path / "docs"
    write_pdf(docs / "birds.pdf", ["The avocets were wading in the lagoon at dawn."])
    write_pdf(docs / "ferry.pdf", ["The ferry to the island leaves at noon."])
    data = tmp_path / "data"
    app = Omnidex(make_settings(data))
    try:
        assert app.ingest([docs]).count("indexed") == 2
    finally:
        app.close()
    return docs, data


def _found(data: Path) -> list[str]:
    app = Omnidex(make_settings(data))
    try:
        return [Path(h.path).name for h in app.search(QUERY, cutoff=False)]
    finally:
        app.close()


def _one_sentence(result, *needles: str) -> None:
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])


def test_a_deleted_store_folder_is_reported_and_healed_by_ingest(tmp_path: Path) -> None:
    docs, data = _indexed(tmp_path)
    shutil.rmtree(data / "qdrant")

    assert "problem:  the index holds 0 of the 2 segments the catalog lists" in omnidex(data, "status").stdout
    check = omnidex(data, "check")
    assert check.returncode == 1, check.stderr
    assert "birds.pdf: 0 of 1 segments in the index" in check.stdout
    assert "`omnidex ingest` will index 2 file(s) again whose segments are missing" in check.stdout

    ingest = omnidex(data, "ingest", "--quiet", str(docs))
    assert ingest.returncode == 0, ingest.stderr
    assert "2 indexed" in ingest.stdout and "0 unchanged" in ingest.stdout, ingest.stdout  # not "2 unchanged"
    assert _found(data)[0] == "birds.pdf"
    healthy = json.loads(omnidex(data, "check", "--json").stdout)
    assert healthy["healthy"] and healthy["plan"] == "nothing to repair"


def test_a_truncated_vector_file_is_explained_and_healed_by_ingest(tmp_path: Path) -> None:
    docs, data = _indexed(tmp_path)
    vector_files = list((data / "qdrant" / "segments").glob("*/vector_storage-text/vectors/chunk_*.mmap"))
    assert vector_files
    for vectors in vector_files:
        os.truncate(vectors, 100)

    _one_sentence(omnidex(data, "search", QUERY), f"the index store {data / 'qdrant'} is damaged", "omnidex ingest")
    assert f"problem:  the index store {data / 'qdrant'} is damaged" in omnidex(data, "status").stdout  # not healthy
    check = omnidex(data, "check")
    assert check.returncode == 1 and "is damaged" in check.stdout and "move the damaged store aside" in check.stdout

    app = Omnidex(make_settings(data))
    try:
        report = app.ingest([docs])
        assert report.count("indexed") == 2 and not report.failures
    finally:
        app.close()
    assert (data / "qdrant.damaged").is_dir()  # kept for a look, not deleted
    assert _found(data)[0] == "birds.pdf"


def test_a_wal_full_of_garbage_is_one_sentence_and_healed(tmp_path: Path) -> None:
    docs, data = _indexed(tmp_path)
    wal = sorted((data / "qdrant" / "wal").glob("open-*"))[0]
    with wal.open("r+b") as f:
        f.write(os.urandom(4096))

    _one_sentence(omnidex(data, "status"), "failed to open WAL", "`omnidex ingest`")
    _one_sentence(omnidex(data, "search", QUERY), "failed to open WAL")
    ingest = omnidex(data, "ingest", "--quiet", str(docs))
    assert ingest.returncode == 0 and "2 indexed" in ingest.stdout, (ingest.stdout, ingest.stderr)
    assert _found(data)[0] == "birds.pdf"


def test_a_corrupt_catalog_is_one_sentence_and_rebuilt_from_the_store(tmp_path: Path) -> None:
    docs, data = _indexed(tmp_path)
    catalog = data / "catalog.sqlite"
    with catalog.open("r+b") as f:
        f.write(b"not a database any more " * 200)

    _one_sentence(omnidex(data, "status"), str(catalog), "`omnidex check --repair`")
    _one_sentence(omnidex(data, "search", QUERY), str(catalog))

    repair = omnidex(data, "check", "--repair")
    assert repair.returncode == 0, (repair.stdout, repair.stderr)
    assert "rebuilt from the index: 2 files" in repair.stderr
    status = json.loads(omnidex(data, "status", "--json").stdout)
    assert status["files"] == {"indexed": 2} and status["points"] == 2
    assert (data / "catalog.sqlite.damaged").exists()
    again = omnidex(data, "ingest", "--quiet", str(docs))
    assert "0 indexed" in again.stdout and "2 unchanged" in again.stdout, again.stdout  # nothing embedded twice
    assert _found(data)[0] == "birds.pdf"


def test_a_damaged_model_file_in_the_cache_is_made_again(tmp_path: Path) -> None:
    from encoders.image_tagger import ImageTagger

    photo = Image.fromarray(np.tile(np.linspace(0, 255, 224, dtype=np.uint8), (224, 1)), "L").convert("RGB")
    first = ImageTagger("efficientnet-lite2", "cpu", 1, cache_dir=tmp_path)
    expected = first.predict([photo])
    (exported,) = tmp_path.glob("*.onnx")
    assert (tmp_path / f"{exported.name}.check").exists()  # size and hash recorded when written

    with exported.open("r+b") as f:  # a bad sector in the middle of the weights
        f.seek(exported.stat().st_size // 2)
        f.write(os.urandom(4096))
    healed = ImageTagger("efficientnet-lite2", "cpu", 1, cache_dir=tmp_path).predict([photo])
    np.testing.assert_allclose(healed, expected, atol=1e-5)

    exported.write_bytes(exported.read_bytes()[:1000])  # cut short
    np.testing.assert_allclose(ImageTagger("efficientnet-lite2", "cpu", 1, cache_dir=tmp_path).predict([photo]),
                               expected, atol=1e-5)
