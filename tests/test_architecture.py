"""The house rules, pinned: the ground imports nothing of the project, the rooms never reach up to the facade,
the front ends come through the one door, every error is one of the family, the CLI starts without the heavy
libraries, and one Omnidex can serve a search while another session reindexes."""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from core.errors import OmnidexError
from omnidex.service import Omnidex
from tests.conftest import make_settings, write_pdf

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("core", "encoders", "ingest", "store", "retrieval", "rerank", "qa", "omnidex", "ui")
ROOMS = ("encoders", "ingest", "store", "retrieval", "rerank", "qa")
FRONT_ENDS = [*sorted((ROOT / "ui").glob("*.py")), ROOT / "app.py", ROOT / "omnidex" / "cli.py"]
# What a front end may import of the project: the facade package, the error family, and its own modules.
DOOR = ("omnidex", "omnidex.access", "core.errors")


def project_imports(path: Path) -> set[str]:
    """Modules of the project a file imports, wherever in the file (lazy imports count too)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                 else [node.module] if isinstance(node, ast.ImportFrom) and node.module and not node.level else [])
        found.update(n for n in names if n.split(".")[0] in (*PACKAGES, "tests", "sample_corpus"))
    return found


def modules_of(package: str) -> list[Path]:
    return sorted((ROOT / package).glob("*.py"))


def test_the_ground_imports_nothing_of_the_project() -> None:
    for path in modules_of("core"):
        assert {m for m in project_imports(path) if not m.startswith("core")} == set(), path.name


def test_the_rooms_never_reach_up_to_the_facade_or_the_front_ends() -> None:
    for package in ROOMS:
        for path in modules_of(package):
            above = {m for m in project_imports(path) if m.split(".")[0] in ("omnidex", "ui", "tests")}
            assert above == set(), f"{package}/{path.name} imports {above}"


def test_front_ends_come_through_the_one_door() -> None:
    for path in FRONT_ENDS:
        outside = {m for m in project_imports(path) if m not in DOOR and not m.startswith("ui")}
        assert outside == set(), f"{path.relative_to(ROOT)} imports {outside}"


def test_every_error_class_is_one_of_the_family() -> None:
    for package in PACKAGES:
        for info in pkgutil.iter_modules([str(ROOT / package)]):
            if package == "ui" and info.name.endswith("_page"):
                continue  # pages run when imported
            module = importlib.import_module(f"{package}.{info.name}")
            for name, cls in inspect.getmembers(module, inspect.isclass):
                if issubclass(cls, BaseException) and cls.__module__ == module.__name__:
                    assert issubclass(cls, OmnidexError), f"{package}.{info.name}.{name}"


@pytest.mark.parametrize("argv", [["--help"], ["status"], ["search", "anything"]])
def test_the_cli_starts_without_torch_pdf_video_or_slides(argv: list[str], tmp_path: Path) -> None:
    """`omnidex --help`, `status` and `search` load no torch, PyMuPDF, PyAV or python-pptx."""
    probe = (f"import sys\nfrom omnidex.cli import main\ntry:\n    main({argv!r})\nexcept SystemExit:\n    pass\n"
             "print(sorted(m for m in ('torch', 'pymupdf', 'av', 'pptx') if m in sys.modules))")
    env = {"OMNIDEX_DATA_DIR": str(tmp_path / "data"), "PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1",
           "HOME": str(Path.home())}
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, env=env,
                          timeout=300)
    assert done.stdout.strip().splitlines()[-1] == "[]", done.stdout + done.stderr


def test_a_reindex_in_one_session_does_not_break_a_search_in_another(tmp_path: Path) -> None:
    """One Omnidex serves every browser session: searches keep working while another session re-embeds."""
    docs = tmp_path / "docs"
    for n in range(6):
        write_pdf(docs / f"d{n}.pdf", [f"Lighthouse keepers logbook entry {n} about fog and ships."] * 3)
    app = Omnidex(make_settings(tmp_path / "data"))
    try:
        app.ingest([docs])
        failures: list[BaseException] = []
        done = threading.Event()

        def keep_searching() -> None:
            while not done.is_set():
                try:
                    app.search("lighthouse fog")
                except BaseException as e:  # noqa: BLE001 (any failure is the finding)
                    failures.append(e)
                    return

        searcher = threading.Thread(target=keep_searching)
        searcher.start()
        try:
            report = app.reindex()
        finally:
            done.set()
            searcher.join(timeout=60)
        assert failures == [] and report.count("indexed") == 6
        assert len(app.search("lighthouse fog", group=False, limit=20)) >= 6
    finally:
        app.close()
