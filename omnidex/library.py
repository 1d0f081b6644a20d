"""What the catalog remembers about a library besides its files, with one owner for every key: the models
its vectors came from, a reindex or an adapt under way, and the folders people added to it."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from ingest.catalog import Catalog

MODELS = "models"  # encoders/versions.model_versions of what made the stored vectors
REINDEX = "reindex"  # "recreate": old vectors still to drop; "resume": files being re-embedded
ADAPT = "adapt"  # picture vectors being remade with another projection (omnidex/adapt.py)
FOLDERS = "library_folders"  # folders added to the library, walked again by a refresh
LEGACY_TEXT_MODEL = "text_model"  # what indexes recorded before every model's version was


class LibraryState:
    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog

    # --- models -----------------------------------------------------------------------------

    def recorded_models(self) -> dict[str, str] | None:
        raw = self.catalog.get_meta(MODELS)
        return None if raw is None else json.loads(raw)

    def record_models(self, versions: dict[str, str]) -> None:
        self.catalog.set_meta(MODELS, json.dumps(versions))

    def record_role(self, role: str, value: str) -> None:
        """One model's line changed on purpose (an adapted projection); the others must still be compared."""
        self.record_models({**(self.recorded_models() or {}), role: value})

    def model_changes(self, wanted: dict[str, str], text_model: str, settling: Sequence[str] = ()) -> list[str]:
        """How `wanted` differs from what made the stored vectors ("text model: a → b"); roles in `settling`
        are changing by design right now and are not counted. `text_model`: the configured one's name, for
        indexes that recorded only that."""
        recorded = self.recorded_models()
        if recorded is None:  # a new index, or one from before versions were recorded (text model name only)
            legacy = self.catalog.get_meta(LEGACY_TEXT_MODEL)
            if legacy in (None, text_model):
                return []
            return [f"text model: {legacy} → {wanted['text model']}"]
        return [f"{role}: {recorded.get(role, 'none')} → {value}" for role, value in wanted.items()
                if recorded.get(role, "none") != value and role not in settling]

    # --- a reindex under way -----------------------------------------------------------------

    @property
    def reindex(self) -> str | None:
        return self.catalog.get_meta(REINDEX)

    def start_reindex(self, versions: dict[str, str]) -> None:
        """Every file marked for redoing and the new models recorded, in one transaction."""
        self.catalog.restart_all({MODELS: json.dumps(versions), REINDEX: "recreate"})

    def set_reindex(self, state: str | None) -> None:
        self.catalog.set_meta(REINDEX, state)

    # --- an adapt under way -------------------------------------------------------------------

    @property
    def adapting(self) -> dict[str, Any] | None:
        raw = self.catalog.get_meta(ADAPT)
        return None if raw is None else json.loads(raw)

    def set_adapting(self, state: dict[str, Any] | None) -> None:
        self.catalog.set_meta(ADAPT, None if state is None else json.dumps(state))

    # --- folders ------------------------------------------------------------------------------

    def folders(self) -> list[Path]:
        return [Path(f) for f in json.loads(self.catalog.get_meta(FOLDERS) or "[]")]

    def remember_folder(self, folder: Path) -> None:
        known = self.folders()
        if folder not in known:
            self.catalog.set_meta(FOLDERS, json.dumps([*map(str, known), str(folder)]))


def library_roots(configured: Iterable[Path], catalogued: Iterable[str | Path], uploads: Path) -> list[Path]:
    """The folders "Add a folder" may index, resolved: the configured roots, else every folder that holds a
    catalogued file (what `omnidex ingest` was pointed at), and the uploads folder; nested ones fold into the
    topmost."""
    roots = [Path(r) for r in configured] or [Path(f).parent for f in catalogued]
    topmost: list[Path] = []
    for root in sorted({r.expanduser().resolve() for r in [*roots, uploads]}, key=lambda r: len(r.parts)):
        if not any(root.is_relative_to(top) for top in topmost):
            topmost.append(root)
    return sorted(topmost)


def inside_roots(path: Path, roots: list[Path]) -> bool:
    """Whether `path`, with every symlink and `..` resolved, lies in one of `roots`."""
    resolved = path.expanduser().resolve()
    return any(resolved.is_relative_to(root) for root in roots)
