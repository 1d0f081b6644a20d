"""`omnidex adapt` on a generated archive: PDFs whose figures (coloured shapes, which ImageNet has no names for)
have captions, and a narrated video of the same shapes. The adapted picture projection must find the held-out
pairs better, and adapting must be bounded, finish after SIGKILL and be reversible, all with the real models,
the real store and real files."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pymupdf
import pytest
from PIL import Image, ImageDraw

from core.schema import PICTURE_FEATURES, Modality
from encoders.binding import Training, adapted_path, binding_path, fit, load_binding
from encoders.hub import ModelHub
from omnidex import adapt as adapting
from omnidex.service import Omnidex
from store.base import pages
from tests.conftest import make_settings
from sample_corpus.media import speech_track, speech_video

SHAPES = ("circle", "square", "triangle", "star")
COLOURS = {"red": (220, 30, 30), "blue": (30, 60, 220), "green": (30, 170, 60), "yellow": (240, 210, 20)}
FIGURE_PX = 240
BODY = ("The survey team recorded every marker along the northern trail and catalogued them in the order "
        "they were found. Each marker is shown below as it was painted on its post.")


def shape(name: str, colour: str, rng: np.random.Generator, px: int = FIGURE_PX) -> Image.Image:
    """One painted shape on a pale background, at a random size and place."""
    picture = Image.new("RGB", (px, px), tuple(int(v) for v in rng.integers(200, 256, 3)))
    draw = ImageDraw.Draw(picture)
    size = int(rng.integers(px // 3, px * 3 // 4))
    x0, y0 = (int(v) for v in rng.integers(5, px - size - 5, 2))
    fill = COLOURS[colour]
    if name == "circle":
        draw.ellipse([x0, y0, x0 + size, y0 + size], fill=fill)
    elif name == "square":
        draw.rectangle([x0, y0, x0 + size, y0 + size], fill=fill)
    elif name == "triangle":
        draw.polygon([(x0, y0 + size), (x0 + size, y0 + size), (x0 + size / 2, y0)], fill=fill)
    else:
        cx, cy, r = x0 + size / 2, y0 + size / 2, size / 2
        draw.polygon([(cx + (r if i % 2 == 0 else 0.4 * r) * np.sin(i * np.pi / 5),
                       cy - (r if i % 2 == 0 else 0.4 * r) * np.cos(i * np.pi / 5)) for i in range(10)], fill=fill)
    return picture


def figure_pdf(path: Path, figures: list[tuple[str, str]], rng: np.random.Generator) -> Path:
    """One figure per page, below a paragraph and above its caption ("Figure 3: A red circle.")."""
    doc = pymupdf.open()
    for n, (name, colour) in enumerate(figures, 1):
        page = doc.new_page()
        page.insert_textbox(pymupdf.Rect(50, 50, 545, 150), BODY, fontsize=11)
        buffer = io.BytesIO()
        shape(name, colour, rng).save(buffer, format="PNG")
        page.insert_image(pymupdf.Rect(150, 170, 390, 410), stream=buffer.getvalue())
        page.insert_textbox(pymupdf.Rect(50, 420, 545, 460), f"Figure {n}: A {colour} {name}.", fontsize=11)
    path.parent.mkdir(parents=True, exist_ok=True)
    doc.save(path)
    doc.close()
    return path


def narrated_video(path: Path, scenes: list[tuple[str, str]], rng: np.random.Generator, scene_s: float = 4.0) -> Path:
    """A shape on screen per scene while a voice says what it is."""
    seconds = scene_s * len(scenes)
    track = speech_track(path.with_suffix(".wav"), seconds,
                         [(n * scene_s + 0.3, f"Here is a {colour} {name}.") for n, (name, colour) in enumerate(scenes)])
    assert len(track) == len(scenes)
    stills = [np.asarray(shape(name, colour, rng, px=360).resize((640, 360))) for name, colour in scenes]
    fps = 5
    frames = (stills[min(int(i / fps // scene_s), len(stills) - 1)] for i in range(int(seconds * fps)))
    return speech_video(path, path.with_suffix(".wav"), seconds, fps=fps, frames=frames)


def _settings(data_dir: Path, **overrides):
    return make_settings(data_dir, frame_interval_s=4.0, min_frames=4, **overrides)


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The generated archive, indexed once: a data directory each test copies before changing it."""
    root = tmp_path_factory.mktemp("adapt")
    rng = np.random.default_rng(7)
    kinds = [(name, colour) for name in SHAPES for colour in COLOURS]
    for n in range(3):
        figure_pdf(root / "files" / f"markers-{n}.pdf", [kinds[i] for i in rng.permutation(len(kinds))], rng)
    narrated_video(root / "files" / "walk.mp4", [kinds[i] for i in rng.permutation(len(kinds))[:6]], rng)
    (root / "files" / "walk.wav").unlink()
    app = Omnidex(_settings(root / "data"))
    try:
        report = app.ingest([root / "files"])
        assert all(o.error is None for o in report.outcomes), [o.error for o in report.outcomes]
    finally:
        app.close()
    return root / "data"


@pytest.fixture
def library(archive: Path, tmp_path: Path) -> Iterator[Omnidex]:
    data = tmp_path / "data"
    shutil.copytree(archive, data)
    app = Omnidex(_settings(data))
    yield app
    app.close()


def picture_vectors(app: Omnidex) -> dict[str, np.ndarray]:
    return {p.id: np.asarray(p.vectors["text"], np.float32)
            for page in pages(app.store, adapting.PICTURES_ONLY, with_vectors=True) for p in page}


def test_pairs_come_from_captions_and_narration(library: Omnidex) -> None:
    pairs = adapting.mine_pairs(library.store, 1000)
    points = {p.id: p.payload for p in library.store.retrieve([p.point_id for p in pairs])}
    figures = [p for p in pairs if points[p.point_id]["modality"] == Modality.IMAGE.value]
    frames = [p for p in pairs if points[p.point_id]["modality"] == Modality.FRAME.value]
    assert len(figures) == 48  # every figure, with its own caption rather than the paragraph above it
    assert all(p.words.startswith("A ") and p.words.count(" ") == 2 for p in figures), figures[:3]
    assert frames and all(any(c in p.words.lower() for c in COLOURS) for p in frames), frames
    stored = library.store.retrieve([figures[0].point_id], with_vectors=True)[0]
    assert len(stored.vectors[PICTURE_FEATURES]) == 1280 and "conse" in stored.vectors


def test_kept_parts_remake_the_stored_vectors(library: Omnidex) -> None:
    """Before any adapting, remaking every picture's vector from its kept parts changes nothing."""
    before = picture_vectors(library)
    assert adapting.rebind(library.store, library.models.image_binding,
                           library.models.image_weight) == len(before)
    after = picture_vectors(library)
    assert max(float(np.abs(before[i] - after[i]).max()) for i in before) < 1e-5


def test_adapting_finds_held_out_pairs_better_and_is_reversible(library: Omnidex) -> None:
    original = picture_vectors(library)
    recorded = library.library.recorded_models()
    found_before = kinds_found(library)
    report = library.adapt()
    assert report.kept, report.message
    assert report.held_out >= 5 and report.pairs >= 50
    assert report.after.mrr > report.before.mrr and report.after.r_at_1 > report.before.r_at_1
    target = adapted_path(library.settings.data_dir, library.settings.image_model, library.settings.text_model)
    assert target.is_file() and not list(target.parent.glob("*.pending*"))
    assert library.model_changes() == []
    assert library.library.recorded_models()["image binding"] != recorded["image binding"]
    adapted = picture_vectors(library)
    assert max(float(np.abs(original[i] - adapted[i]).max()) for i in original) > 0.01
    found_after = kinds_found(library)
    print(f"kinds found in the nearest three: {found_before:.3f} -> {found_after:.3f}")
    assert found_after > found_before + 0.1

    reopened = Omnidex(library.settings)  # another process sees the adapted library as it is
    library.close()
    try:
        assert reopened.model_changes() == []
        assert reopened.models.image_binding.fingerprint == load_binding("", "", target).fingerprint
        back = reopened.adapt(revert=True)
        assert back.rebound == len(original) and not target.exists()
        assert reopened.library.recorded_models() == recorded
        reverted = picture_vectors(reopened)
        assert max(float(np.abs(original[i] - reverted[i]).max()) for i in original) < 1e-5
        assert "nothing to revert" in reopened.adapt(revert=True).message
    finally:
        reopened.close()


def kinds_found(app: Omnidex) -> float:
    """Searching the stored figure vectors for each kind of shape ("a green triangle"): the share of the
    nearest three that are that kind, by what their captions say."""
    vectors = picture_vectors(app)
    kinds = {p.point_id: p.words.lower().rstrip(".") for p in adapting.mine_pairs(app.store, 1000)
             if p.words.startswith("A ")}
    ids = list(kinds)
    gallery = np.stack([vectors[i] for i in ids])
    wanted = sorted(set(kinds.values()))
    nearest = np.argsort(-(app.text_encoder.encode_query(wanted) @ gallery.T), axis=1)[:, :3]
    return float(np.mean([[kinds[ids[j]] == kind for j in row] for kind, row in zip(wanted, nearest)]))


def test_adapting_is_bounded(library: Omnidex, tmp_path: Path) -> None:
    few = Omnidex(_settings(library.settings.data_dir, adapt_max_pairs=30))
    library.close()
    try:
        assert len(adapting.mine_pairs(few.store, few.settings.adapt_max_pairs)) == 30
        report = few.adapt()
        assert report.pairs == 30
    finally:
        few.close()
    too_few = Omnidex(_settings(library.settings.data_dir, adapt_min_pairs=500))
    try:
        report = too_few.adapt()
        assert not report.kept and "at least 500" in report.message
    finally:
        too_few.close()


def test_training_stops_at_its_deadline() -> None:
    """A deadline already passed ends training after its first epoch: exactly what one epoch learns."""
    rng = np.random.default_rng(0)
    features = rng.normal(size=(64, 32)).astype(np.float32)
    targets = rng.normal(size=(64, 8)).astype(np.float32)
    targets /= np.linalg.norm(targets, axis=1, keepdims=True)
    bounded = fit(features, targets, Training(epochs=50), deadline=0.0)
    one = fit(features, targets, Training(epochs=1))
    many = fit(features, targets, Training(epochs=50))
    assert np.allclose(bounded.weight, one.weight) and not np.allclose(bounded.weight, many.weight)


KILL_AFTER_FIRST_WRITE = """
import os, signal, sys
from omnidex import adapt
from store.edge import EdgeStore
adapt.PAGE = 8
real = EdgeStore.upsert
def upsert(self, points):
    real(self, points)
    os.kill(os.getpid(), signal.SIGKILL)  # after the first page of remade vectors
EdgeStore.upsert = upsert
from omnidex.cli import main
sys.exit(main(["adapt"]))
"""


def test_a_killed_adapt_is_finished_by_the_next_run(library: Omnidex) -> None:
    settings = library.settings
    original = picture_vectors(library)
    library.close()
    env = {**os.environ, "OMNIDEX_DATA_DIR": str(settings.data_dir), "OMNIDEX_FRAME_INTERVAL_S": "4",
           "OMNIDEX_MIN_FRAMES": "4", "OMP_WAIT_POLICY": "PASSIVE"}
    killed = subprocess.run([sys.executable, "-c", KILL_AFTER_FIRST_WRITE], env=env, capture_output=True, text=True,
                            timeout=600, cwd=Path(__file__).resolve().parents[1])
    assert killed.returncode == -9, killed.stderr[-2000:]
    target = adapted_path(settings.data_dir, settings.image_model, settings.text_model)
    assert not target.exists() and list(target.parent.glob("*.pending.npz"))  # killed mid-way

    again = Omnidex(settings)
    try:
        assert again.model_changes() == []  # an unfinished adapt is not a model change
        remade = picture_vectors(again)  # opening the index finished the job
        assert target.is_file() and not list(target.parent.glob("*.pending*"))
        assert again.library.adapting is None and again.model_changes() == []
        assert remade.keys() == original.keys()  # no point lost, none added
        kept = adapting._kept_vectors(again.store, list(remade))
        expected = adapting._vectors([kept[i] for i in remade], load_binding("", "", target),
                                     settings.adapted_binding_weight)
        assert np.allclose(np.stack(list(remade.values())), expected, atol=1e-5)
        assert len(again.search("a red circle", limit=3)) == 3
    finally:
        again.close()


def test_the_committed_projection_is_what_a_fresh_library_uses(tmp_path: Path) -> None:
    """Weighed in, a library with no adapted projection binds with the committed one; by default with none."""
    app = Omnidex(_settings(tmp_path / "data", image_binding_weight=0.5))
    try:
        committed = binding_path(app.settings.image_model, app.settings.text_model)
        assert app.models.image_binding.fingerprint == load_binding("", "", committed).fingerprint
    finally:
        app.close()
    assert ModelHub(_settings(tmp_path / "default")).image_binding is None
