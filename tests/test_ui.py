"""The Streamlit search page, driven by AppTest against a real index."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from omnidex.config import Settings
from omnidex.service import Omnidex
from tests.conftest import write_pdf

APP = str(Path(__file__).resolve().parent.parent / "app.py")


@pytest.fixture
def indexed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    docs = tmp_path / "docs"
    write_pdf(docs / "garden.pdf", ["Pruning roses in late winter.", "Tomatoes need staking by midsummer."])
    app = Omnidex(Settings(data_dir=tmp_path / "data"))
    app.ingest([docs])
    app.close()
    monkeypatch.setenv("OMNIDEX_DATA_DIR", str(tmp_path / "data"))
    return docs


def test_search_shows_result_and_page_preview(indexed: Path) -> None:
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    assert not at.exception
    assert "2 segments" in at.caption[0].value

    at.text_input(key="query").input("when should tomatoes be staked").run()
    assert not at.exception
    cards = [m.value for m in at.markdown]
    assert any("garden.pdf" in c and "page 2" in c for c in cards)
    assert any("staking" in t.value for t in at.text)
    assert len(at.get("image")) == 1  # the rendered page


def test_no_results_says_what_to_do(indexed: Path) -> None:
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    at.multiselect(key="types").set_value(["video"]).run()
    at.text_input(key="query").input("tomatoes").run()
    assert "No results" in at.info[0].value


def test_a_bad_filter_explains_itself(indexed: Path) -> None:
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    at.text_input(key="query").input("type:spreadsheet tomatoes").run()
    assert not at.exception
    assert "unknown type" in at.error[0].value and "type:pdf" in at.error[0].value
