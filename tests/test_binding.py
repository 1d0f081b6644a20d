"""The learned picture projection (encoders/binding.py) on real photos with the real models: it ships for the
default models, keeps what ConSE finds, trains from pairs, and counts as a model change when it changes.
What it adds is measured by domain by bench/train_binding.py: for pictures nothing yet on every domain, so it
ships weighed out (ConSE alone) and is weighed in where `omnidex adapt` fitted it on a library's own pictures."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from encoders.binding import (Familiarity, Training, adapted_path, bind, bind_features, binding_path, fit,
                              load_binding)
from encoders.hub import ModelHub
from encoders.versions import model_versions
from tests.conftest import load_bench_script, make_settings

skdata = pytest.importorskip("skimage.data")

PHOTOS = ("chelsea", "coffee", "astronaut", "rocket", "camera", "horse", "hubble_deep_field", "page", "clock")


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> ModelHub:
    return ModelHub(make_settings(tmp_path_factory.mktemp("data"), image_binding_weight=0.5))  # weighed in


@pytest.fixture(scope="module")
def photos(hub: ModelHub) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """scikit-image's sample photos: (probabilities, pooled features, bound vectors)."""
    pictures = [Image.fromarray(getattr(skdata, name)()).convert("RGB") for name in PHOTOS]
    probs, features = hub.image_tagger.predict_with_features(pictures)
    vectors = hub.embed_pictures(pictures).vectors
    return probs, features, vectors


def _first(hub: ModelHub, query: str, vectors: np.ndarray) -> str:
    return PHOTOS[int(np.argmax(vectors @ hub.text.encode_query([query])[0]))]


def test_the_projection_ships_for_the_default_models(hub: ModelHub, tmp_path: Path) -> None:
    s = hub.settings
    assert binding_path(s.image_model, s.text_model).is_file()
    binding = hub.image_binding
    assert binding is not None and binding.weight.shape == (1280, hub.text.dim)
    assert binding_path(s.image_model, s.text_model).stat().st_size < 4_000_000  # a few MB, committed
    assert load_binding(s.image_model, "all-minilm-l6-v2") is None  # another text space: ConSE alone
    defaults = ModelHub(make_settings(tmp_path))
    assert defaults.image_weight == 0.0 and defaults.image_binding is None  # shipped weighed out
    assert defaults.sound_weight > 0 and defaults.sound_binding is not None
    assert defaults.sound_binding.familiarity is not None  # the sound projection's gate ships with it
    adapted = adapted_path(tmp_path, s.image_model, s.text_model)
    adapted.parent.mkdir(parents=True)
    shutil.copy(binding_path(s.image_model, s.text_model), adapted)  # as `omnidex adapt` leaves it
    defaults.forget_bindings()
    assert defaults.image_weight == defaults.settings.adapted_binding_weight > 0
    assert defaults.image_binding is not None


@pytest.mark.parametrize(("query", "expected"), [("a cat", "chelsea"), ("a cup of coffee", "coffee"),
                                                 ("a clock", "clock")])
def test_bound_vectors_keep_what_conse_finds(hub: ModelHub, photos, query: str, expected: str) -> None:
    probs, _, vectors = photos
    assert _first(hub, query, hub.image_conse.embed(probs)) == expected
    assert _first(hub, query, vectors) == expected
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_weight_zero_is_conse_alone_and_a_new_projection_is_a_model_change(hub: ModelHub, photos,
                                                                           tmp_path: Path) -> None:
    probs, features, vectors = photos
    conse = hub.image_conse.embed(probs)
    assert np.allclose(bind(conse, hub.image_binding.project(features), 0.0), conse, atol=1e-6)
    alone = make_settings(tmp_path, image_binding_weight=0.0)
    assert ModelHub(alone).image_binding is None
    before, after = model_versions(hub.settings), model_versions(alone)
    assert before["image binding"] != after["image binding"] == "none"
    assert {k for k in before if before[k] != after[k]} == {"image binding"}  # reindex asked for, nothing else


def test_training_binds_pictures_to_their_captions(hub: ModelHub, photos) -> None:
    """The trainer bench/train_binding.py and `omnidex adapt` use, on real features: each photo nearest its own
    caption."""
    trainer = load_bench_script("train_binding")
    _, features, _ = photos
    captions = ["a tabby cat", "a cup of espresso", "an astronaut in a space suit", "a rocket on the launch pad",
                "a man with a camera on a tripod", "a horse", "galaxies in the night sky", "a printed page",
                "a wall clock"]
    targets = hub.text.encode_query(captions)
    binding = fit(features, targets)
    found = trainer.recall(targets, [{i} for i in range(len(captions))], binding.project(features))
    assert found["R@1"] == 1.0, found


def test_the_gate_gives_the_projection_only_to_what_it_knows(hub: ModelHub, photos, tmp_path: Path) -> None:
    """A projection trained on some pictures is weighed in for pictures like them, and kept out of pictures
    unlike anything it learned from (the photos a clip-art projection moved away from their words); the gate
    travels with the weights file and `omnidex adapt` counts a library's own pictures as known."""
    probs, features, _ = photos
    views = []  # five photos as a training set would hold them: each in a few takes
    for name in PHOTOS[:5]:
        picture = Image.fromarray(getattr(skdata, name)()).convert("RGB")
        w, h = picture.size
        views += [picture, picture.transpose(Image.Transpose.FLIP_LEFT_RIGHT),
                  picture.crop((w // 10, h // 10, w - w // 10, h - h // 10)), picture.rotate(8)]
    trained, unseen = hub.image_tagger.predict_with_features(views)[1], features[5:]
    binding = fit(trained, hub.text.encode_query([f"picture {i // 4}" for i in range(len(views))]), Training(epochs=2))
    gate = Familiarity.of_training(binding.standardise(trained), bar=0.0, width=0.01)
    known, strange = gate.closeness(binding.standardise(trained)), gate.closeness(binding.standardise(unseen))
    assert known.min() > strange.max() + 0.05, (known, strange)
    gated = binding.gated(gate.with_bar((known.min() + strange.max()) / 2, 0.01))
    assert np.all(gated.shares(trained) > 0.9)  # its own training pictures: the whole weight
    assert np.all(gated.shares(unseen) < 0.1), gated.shares(unseen)
    conse = hub.image_conse.embed(probs)
    bound = bind_features(conse, features, gated, 1.0)
    assert not np.allclose(bound[:5], conse[:5], atol=1e-3)
    for row in np.flatnonzero(gated.shares(features) < 0.01):
        assert np.allclose(bound[row], conse[row], atol=1e-2)  # what the projection never saw keeps ConSE's vector
    assert np.allclose(gate.including(binding.standardise(unseen)).share(binding.standardise(unseen)), 1.0, atol=0.01)
    path = tmp_path / "gated.npz"
    gated.save(path)
    again = load_binding("any", "any", path)
    assert again is not None and again.familiarity is not None
    assert np.allclose(again.shares(features), gated.shares(features), atol=1e-5)
    assert np.allclose(bind_features(conse, features, again, 1.0), bound, atol=1e-5)
