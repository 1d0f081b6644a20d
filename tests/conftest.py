"""Shared fixtures: real models (loaded once per session), real stores in temporary folders."""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pymupdf
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # tests must never reach for a model hub

from core.config import Settings  # noqa: E402
from omnidex.service import Omnidex  # noqa: E402


def load_bench_script(name: str) -> ModuleType:
    """A script under bench/ (not a package) as a module, for testing its builders."""
    path = Path(__file__).resolve().parents[1] / "bench" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve annotations through sys.modules
    spec.loader.exec_module(module)
    return module


def make_settings(data_dir: Path, **overrides) -> Settings:
    return Settings(data_dir=data_dir, **overrides)


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Omnidex]:
    """A fresh, empty Omnidex on the embedded store; the text model is shared across tests."""
    instance = Omnidex(make_settings(tmp_path / "data"))
    yield instance
    instance.close()


def write_pdf(path: Path, pages: list[str], password: str | None = None) -> Path:
    """A real PDF with one text block per page."""
    doc = pymupdf.open()
    for text in pages:
        page = doc.new_page()
        page.insert_textbox(pymupdf.Rect(50, 50, 545, 790), text, fontsize=11)
    path.parent.mkdir(parents=True, exist_ok=True)
    if password:
        doc.save(path, encryption=pymupdf.PDF_ENCRYPT_AES_256, user_pw=password, owner_pw=password)
    else:
        doc.save(path)
    doc.close()
    return path
