"""Shared fixtures: real models (loaded once per session), real stores in temporary folders."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pymupdf
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # tests must never reach for a model hub

from omnidex.config import Settings  # noqa: E402
from omnidex.service import Omnidex  # noqa: E402


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
