"""One typed settings object for the whole application.

Values come, in increasing priority, from defaults, an optional TOML file
(`omnidex.toml` in the working directory or the path in OMNIDEX_CONFIG) and
OMNIDEX_* environment variables. QDRANT_URL / QDRANT_API_KEY are honoured
without the prefix because that is how Qdrant users already spell them.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)


def _config_file() -> Path:
    return Path(os.environ.get("OMNIDEX_CONFIG", "omnidex.toml"))


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="OMNIDEX_", extra="ignore", populate_by_name=True)

    data_dir: Path = Path("./omnidex-data")
    collection: str = "omnidex"
    qdrant_url: str | None = Field(
        default=None, validation_alias=AliasChoices("OMNIDEX_QDRANT_URL", "QDRANT_URL")
    )
    qdrant_api_key: str | None = Field(
        default=None, validation_alias=AliasChoices("OMNIDEX_QDRANT_API_KEY", "QDRANT_API_KEY")
    )

    # Models. A packaged name ("bge-small-en", "all-minilm-l6-v2"), a local
    # directory or a Hugging Face hub id.
    text_model: str = "bge-small-en"
    device: Literal["auto", "cpu", "cuda"] = "auto"
    threads: int = Field(default=0, description="CPU threads for inference; 0 = all cores")
    model_cache_dir: Path = Path.home() / ".cache" / "omnidex" / "models"

    # Chunking, in the text encoder's own tokens.
    chunk_tokens: int = 200
    chunk_overlap_tokens: int = 32

    # BM25 (document side; Qdrant applies IDF at query time).
    bm25_k1: float = 1.2
    bm25_b: float = 0.75
    bm25_avg_len: float = 90.0

    # Retrieval.
    prefetch_limit: int = 100
    rrf_k: int = 60
    default_limit: int = 10

    # Ingestion.
    embed_batch_size: int = 32
    max_file_mb: int = 2048

    @property
    def store_path(self) -> Path:
        return self.data_dir / "qdrant"

    @property
    def catalog_path(self) -> Path:
        return self.data_dir / "catalog.sqlite"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml = TomlConfigSettingsSource(settings_cls, toml_file=_config_file())
        return (init_settings, env_settings, toml)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
