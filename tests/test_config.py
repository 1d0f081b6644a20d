"""Settings: defaults, OMNIDEX_* variables, Qdrant's own variable names, a TOML file."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.config import Settings


def test_environment_overrides_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().data_dir == Path("omnidex-data")
    monkeypatch.setenv("OMNIDEX_DATA_DIR", "/srv/index")
    monkeypatch.setenv("OMNIDEX_CHUNK_TOKENS", "128")
    monkeypatch.setenv("QDRANT_URL", "http://qdrant:6333")
    s = Settings()
    assert (s.data_dir, s.chunk_tokens, s.qdrant_url) == (Path("/srv/index"), 128, "http://qdrant:6333")
    assert s.store_path == Path("/srv/index/qdrant")


def test_toml_file_is_read_and_environment_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "omnidex.toml"
    config.write_text('text_model = "all-minilm-l6-v2"\nrerank_model = "my/cross-encoder"\n')
    monkeypatch.setenv("OMNIDEX_CONFIG", str(config))
    assert Settings().text_model == "all-minilm-l6-v2"
    monkeypatch.setenv("OMNIDEX_TEXT_MODEL", "bge-small-en")
    s = Settings()
    assert (s.text_model, s.rerank_model) == ("bge-small-en", "my/cross-encoder")


def test_bad_values_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMNIDEX_FUSION", "average")
    with pytest.raises(ValueError, match="fusion"):
        Settings()


def test_settings_survive_a_round_trip_for_the_ui_cache() -> None:
    s = Settings(qdrant_url="http://q:6333", data_dir=Path("/x"))
    assert Settings.model_validate_json(s.model_dump_json()) == s
