"""Only the configured store backend is imported: the package and the contract load no engine,
and each adapter loads its own library and not the other one.

Each check runs in a fresh interpreter, since this test process has long imported both.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
ENGINES = ("qdrant_client", "qdrant_edge")


def _engines_loaded_by(statement: str) -> dict[str, bool]:
    probe = f"{statement}; import sys; print(' '.join(str(m in sys.modules) for m in {ENGINES!r}))"
    out = subprocess.run([sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, check=True)
    return dict(zip(ENGINES, (word == "True" for word in out.stdout.split()), strict=True))


def test_the_package_and_the_contract_load_no_engine() -> None:
    assert _engines_loaded_by("import store, store.base") == {"qdrant_client": False, "qdrant_edge": False}


def test_the_lock_and_the_translator_load_no_engine() -> None:
    """The facade holds the index lock and names the store's errors whichever backend is configured."""
    loaded = _engines_loaded_by("import store.local, store.translate, store.adapter")
    assert loaded == {"qdrant_client": False, "qdrant_edge": False}


@pytest.mark.parametrize(
    ("statement", "expected"),
    [
        ("import store.edge", {"qdrant_client": False, "qdrant_edge": True}),
        ("import store.server", {"qdrant_client": True, "qdrant_edge": False}),
        ("from store import EdgeStore", {"qdrant_client": False, "qdrant_edge": True}),
        ("from store import ServerStore", {"qdrant_client": True, "qdrant_edge": False}),
    ],
)
def test_each_adapter_loads_only_its_own_engine(statement: str, expected: dict[str, bool]) -> None:
    assert _engines_loaded_by(statement) == expected


def test_the_package_still_names_both_backends() -> None:
    import store
    from store.edge import EdgeStore
    from store.server import ServerStore

    assert (store.EdgeStore, store.ServerStore) == (EdgeStore, ServerStore)
    with pytest.raises(AttributeError):
        _ = store.NoSuchStore  # type: ignore[attr-defined]
