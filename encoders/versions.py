"""What produced an index's vectors: each configured model's name and the version of what carries it.

The catalog records this at the first write; when it differs from the configured
models the vectors are no longer comparable with new ones and must be re-embedded
(rclip's lesson: a model change invalidates embeddings, so it must be noticed).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
from pathlib import Path

from core.config import Settings
from encoders.image_tagger import MODELS as IMAGE_MODELS
from encoders.packaged import PACKAGED

# Raised when Omnidex changes how it turns content into vectors (templates, chunking, pooling).
# 2: word pairs beside content terms in the BM25 vectors; 3: each text chunk's context window vector;
# 4: pictures' and sounds' features and ConSE vectors kept beside their searched vectors (omnidex adapt).
INDEX_FORMAT = "4"


def model_versions(settings: Settings) -> dict[str, str]:
    """One line per role; any difference means the stored vectors were made differently."""
    return {
        "index format": INDEX_FORMAT,
        "text model": describe(settings.text_model),
        "image model": describe(settings.image_model),
        "sound model": describe(settings.sound_model),
        "speech model": describe(settings.speech_model),
        "clip model": describe(settings.clip_model) if settings.clip_model else "none",
        "image binding": describe_binding(settings, settings.image_model, settings.image_binding_weight),
        "sound binding": describe_binding(settings, settings.sound_model, settings.sound_binding_weight),
    }


def describe_binding(settings: Settings, source_model: str, weight: float) -> str:
    """A learned projection's fingerprint and weight (the library's adapted one when it has one): new
    weights mean new picture or sound vectors."""
    from encoders.binding import binding_in_use, load_binding, weight_in_use

    path = binding_in_use(settings.data_dir, source_model, settings.text_model)
    weight = weight_in_use(settings.data_dir, source_model, settings.text_model, weight,
                           settings.adapted_binding_weight)
    binding = load_binding(source_model, settings.text_model, path) if weight > 0 else None
    return "none" if binding is None else f"{binding.fingerprint} x{weight:g}"


def describe(model: str) -> str:
    """`name (package version, ...)` for a packaged model, `folder (fingerprint)` for a local one, else the hub id."""
    pins = [entry.pip_name for key, entry in PACKAGED.items() if key.split("/")[0] == model]
    if model in IMAGE_MODELS:
        pins += IMAGE_MODELS[model].pip_name.split()
    if pins:
        return f"{model} ({', '.join(_installed(pin.split('==')[0]) for pin in pins)})"
    path = Path(model).expanduser()
    if path.exists():
        return f"{path.resolve()} ({_fingerprint(path)})"
    return model


def _installed(distribution: str) -> str:
    try:
        return f"{distribution} {importlib.metadata.version(distribution)}"
    except importlib.metadata.PackageNotFoundError:
        return f"{distribution} not installed"


def _fingerprint(path: Path) -> str:
    """Names and sizes of the model's files plus its small config files: cheap, and changes with the weights."""
    digest = hashlib.blake2b(digest_size=8)
    files = sorted(p for p in ([path] if path.is_file() else path.rglob("*")) if p.is_file())
    for file in files:
        size = file.stat().st_size
        digest.update(f"{file.relative_to(path) if file != path else file.name}:{size}\n".encode())
        if file.suffix == ".json" and size < 1 << 20:
            digest.update(file.read_bytes())
    return digest.hexdigest()
