"""One typed settings object for the whole application.

Values come, in increasing priority, from defaults, an optional TOML file
(`omnidex.toml` in the working directory or the path in OMNIDEX_CONFIG) and
OMNIDEX_* environment variables. QDRANT_URL / QDRANT_API_KEY are honoured
without the prefix because that is how Qdrant users already spell them.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr
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
    # Indexing runs this much nicer than the process (Linux, per thread): searches and the rest of the
    # machine go first. 0 leaves its priority alone.
    index_niceness: int = Field(default=10, ge=0, le=19)
    model_cache_dir: Path = Path.home() / ".cache" / "omnidex" / "models"
    # Lite0 over Lite2: half the CPU per picture, and its ConSE no worse on any picture domain (README,
    # "Bindings by domain"); "efficientnet-lite2" stays installed.
    image_model: str = "efficientnet-lite0"
    speech_model: str = "whisper-base"
    sound_model: str = "yamnet"
    clip_model: str | None = Field(default=None, description="CLIP/SigLIP directory or hub id; adds a `clip` vector")
    # ConSE mixtures, set on the clip-art and sound dev sets (bench/tune_conse.py): the top 10
    # labels, flattened by temperature 3, each a quarter of the way towards its WordNet/AudioSet description.
    conse_top_k: int = 10
    conse_temperature: float = 3.0
    conse_description_weight: float = 0.25
    # A picture's text-space vector adds this share of its learned projection (encoders/binding.py) to
    # its ConSE vector; 0 keeps ConSE alone. bench/train_binding.py takes the best weight and familiarity
    # bar that is never below ConSE on a picture domain's dev pairs, its own domain left out of training or
    # not: for pictures none is, so ConSE alone (the projection read photos and other artists' drawings worse).
    image_binding_weight: float = Field(default=0.0, ge=0.0)
    # The same for sounds, with YAMNet's embedding and the gate that ships with it (bar 0.8): effects R@10
    # 0.155 -> 0.171 left out of training, 0.242 trained on; real recordings 0.657 -> 0.662.
    sound_binding_weight: float = Field(default=0.25, ge=0.0)
    # A projection `omnidex adapt` fitted on the library's own pairs knows that library: its share there.
    adapted_binding_weight: float = Field(default=0.5, ge=0.0)
    # `omnidex adapt`: the picture projection fine-tuned on pairs the archive holds (a figure and its caption,
    # a slide's picture and its title, a frame and the words spoken over it), within these bounds; a share of
    # the pairs is held out, and the adapted projection is kept only if it finds them better.
    adapt_max_pairs: int = Field(default=20_000, gt=0, description="pairs read from the archive at most")
    adapt_max_seconds: float = Field(default=300, gt=0, description="training time at most")
    adapt_min_pairs: int = Field(default=20, gt=1, description="fewer pairs than this: nothing to learn from")

    # Extraction.
    ocr_language: str = "eng"
    ocr_dpi: int = 200
    thumbnail_px: int = 320
    min_figure_px: int = 120
    transcript_span_s: float = 25.0
    transcript_overlap_s: float = 5.0
    frame_interval_s: float = 10.0  # at least one video frame this often
    min_frames: int = 8  # per clip, however static
    scene_threshold: float = 0.35  # histogram change that counts as a new shot

    # Chunking, in the text encoder's own tokens.
    chunk_tokens: int = 200
    chunk_overlap_tokens: int = 32
    # A chunk's dense score adds this share of its context window's (the stretch of its page or
    # document the encoder reads at once, ingest/chunking.py): long answers are found by what the whole
    # answer says (README, "Long documents"); 0 ranks chunks alone and makes no windows at ingestion.
    context_weight: float = Field(default=1.0, ge=0.0)

    # BM25 (document side; Qdrant applies IDF at query time).
    bm25_k1: float = 1.2
    bm25_b: float = 0.75
    bm25_avg_len: float = 90.0

    # Retrieval.
    prefetch_limit: int = 100
    fusion: Literal["weighted", "rrf", "dbsf"] = "weighted"
    # With context windows dense ranking is stronger, and BM25 at 0.1 re-ordered its shortlist below it on
    # long answers (shell-faq nDCG@10 0.898 against dense 0.914); at 0.05 every dev set holds (README).
    dense_weight: float = 0.95
    bm25_weight: float = 0.05  # raised per query when BM25 singles out one file (see retrieval/fusion.py)
    phrase_weight: float = 0.1  # word pairs: raised per query, like BM25's, when they single out one file
    clip_weight: float = 0.5
    rrf_k: int = 60
    default_limit: int = 10
    # What a search runs unless the caller asks for a mode. Hybrid: on both FAQ benchmarks the packaged
    # cross-encoder, in every blend tried, did not add to hybrid's nDCG@10 (README) and costs ~0.3 s a query.
    search_mode: Literal["bm25", "phrase", "dense", "hybrid", "rerank"] = "hybrid"
    rerank_model: str | None = "ms-marco-minilm-l12"  # reranks in search_mode "rerank" and picks answer sentences
    rerank_top_k: int = 30
    rerank_weight: float = 0.25  # share of the cross-encoder in the final score's log-odds
    diversity: float = 0.0  # MMR trade-off; 0.3 spreads results over more distinct content

    # Question answering (qa/). With llm_base_url set (Ollama, vLLM, llama.cpp server, OpenAI), answers are
    # generated from the retrieved passages; without it they are extracted from them.
    llm_base_url: str | None = None
    llm_model: str = "llama3.1"
    llm_api_key: str | None = None
    answer_passages: int = 6  # retrieved passages an answer is drawn from

    # Browser UI (ui/). Served anywhere but loopback it asks for ui_password (`omnidex serve` refuses to start
    # without one); "Add a folder" indexes only folders under library_roots (empty: the folders the index already
    # holds files from, and the uploads folder); uploads are held to max_upload_mb each and upload_quota_mb in all.
    ui_password: SecretStr | None = None
    ui_hosts: list[str] = Field(default_factory=list, description="more host names the UI answers to (a proxy's)")
    library_roots: list[Path] = Field(default_factory=list)
    max_upload_mb: int = Field(default=200, gt=0)
    upload_quota_mb: int = Field(default=10_240, gt=0, description="most the uploads folder may hold, in MB")

    # Ingestion.
    write_batch_size: int = 32  # segments embedded and upserted together
    # Texts per encoder call. Small batches won on 2 cores (bge-small int8: 74 chunks/s at 8,
    # 61 at 32, 49 at 64); on a GPU raise it.
    encode_batch_size: int = 8
    # Files over a limit are skipped whole and listed with the limit they hit (`omnidex status --failed`).
    max_file_mb: int = 2048
    max_pages: int = Field(default=20_000, gt=0, description="most PDF pages or slides in one file")
    max_duration_s: float = Field(default=4 * 3600, gt=0, description="longest audio or video, in seconds")
    # Work budget per file, below the limits: a file over it is indexed up to the budget and listed with what
    # was left out (`omnidex status --partial`). A dense printed page holds ~3,000-5,000 characters, so
    # 200,000 is 40+ pages' worth on one page; 5 million characters (a 1,500-page book) embed in about
    # 2 minutes on two cores. 50 MP is more than any camera sensor but the largest medium-format backs;
    # JPEGs above it are decoded at a reduced size, other pictures above it are skipped.
    max_text_chars_per_page: int = Field(default=200_000, gt=0, description="text read from one page or slide")
    max_text_chars_per_file: int = Field(default=5_000_000, gt=0, description="text read from one file")
    max_image_pixels: int = Field(default=50_000_000, gt=0, description="pixels decoded per picture")
    max_seconds_per_file: float = Field(default=600, gt=0, description="processing time for one file")
    # E-mail (ingest/mail.py): an attachment larger than this (decoded) is not read, and a message is read up to
    # twice it; MIME parts nested deeper than max_mail_depth (a hostile message nests thousands) are not walked.
    max_attachment_mb: float = Field(default=50, gt=0, description="largest attachment read, decoded, in MB")
    max_mail_depth: int = Field(default=20, gt=0, description="deepest MIME nesting followed in a message")

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
