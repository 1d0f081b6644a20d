"""Sounds bound to language by learning: YAMNet's 1,024-d embedding per patch, on real audio (espeak-ng
speech, sox tones, noise), the committed projection from it into bge-small-en's space, and how
bench/train_binding.py captions its training sounds (never the dev set's, nor their other takes).
What the projection adds is measured on the sounds dev set by bench/train_binding.py."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import onnx
import pytest

from encoders.binding import binding_path, load_binding
from encoders.hub import ModelHub
from encoders.sound_events import CLASS_MAP, EMBEDDING_DIM, SoundTagger
from ingest.audio import SILENCE_DBFS
from tests.conftest import load_bench_script, make_settings
from sample_corpus.media import SAMPLE_RATE, beeps, read_wav, speak, write_wav


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> ModelHub:
    return ModelHub(make_settings(tmp_path_factory.mktemp("data")))


@pytest.fixture(scope="module")
def sounds(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("sounds")
    noise = np.random.default_rng(0).standard_normal(3 * SAMPLE_RATE).astype(np.float32) * 0.2
    return {"speech": speak("Hello there, this is a test of the sound binding.", root / "speech.wav"),
            "beeps": beeps(root / "beeps.wav", seconds=3),
            "noise": write_wav(root / "noise.wav", noise)}


@pytest.fixture(scope="module")
def trainer():
    return load_bench_script("train_binding")


def _samples(path: Path) -> np.ndarray:
    return read_wav(path)[0]


def test_each_audible_patch_has_an_embedding_and_silent_ones_none(hub: ModelHub, sounds: dict[str, Path]) -> None:
    gap = np.zeros(3 * SAMPLE_RATE, dtype=np.float32)  # digital silence: those patches skip the network
    heard = hub.sound_tagger.listen([_samples(sounds["speech"]), gap, _samples(sounds["noise"])],
                                    quiet_dbfs=SILENCE_DBFS)
    assert heard.features.shape == (len(heard.probs), EMBEDDING_DIM) and heard.features.dtype == np.float32
    assert np.isfinite(heard.features).all()
    quiet = heard.dbfs < SILENCE_DBFS
    assert quiet.sum() >= 2 and (~quiet).sum() >= 4
    assert not heard.features[quiet].any()
    assert (np.linalg.norm(heard.features[~quiet], axis=1) > 0).all()
    again = hub.sound_tagger.listen([_samples(sounds["speech"])])
    assert np.array_equal(again.features, heard.features[: len(again.features)])  # the same audio, the same rows


def test_different_sounds_have_different_embeddings(hub: ModelHub, sounds: dict[str, Path]) -> None:
    means = {name: hub.sound_tagger.listen([_samples(path)]).features.mean(axis=0) for name, path in sounds.items()}
    unit = {name: v / np.linalg.norm(v) for name, v in means.items()}
    for a, b in (("speech", "beeps"), ("speech", "noise"), ("beeps", "noise")):
        assert float(unit[a] @ unit[b]) < 0.75, (a, b)


def test_a_yamnet_graph_without_the_embedding_gives_zero_features(tmp_path: Path, hub: ModelHub) -> None:
    """A float YAMNet-shaped graph given by path (here the first 521 log-mel values as its scores)."""
    flatten = onnx.helper.make_node("Flatten", ["audio"], ["flat"], axis=1)
    cut = onnx.helper.make_node("Slice", ["flat", "start", "end", "axis"], ["scores"])
    constants = [onnx.helper.make_tensor(name, onnx.TensorProto.INT64, [1], [value])
                 for name, value in (("start", 0), ("end", 521), ("axis", 1))]
    graph = onnx.helper.make_graph(
        [flatten, cut], "scores-only",
        [onnx.helper.make_tensor_value_info("audio", onnx.TensorProto.FLOAT, [1, 1, 96, 64])],
        [onnx.helper.make_tensor_value_info("scores", onnx.TensorProto.FLOAT, [1, 521])], constants)
    model = onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", 17)], ir_version=8)
    onnx.save(model, tmp_path / "m.onnx")
    shutil.copy(hub.sound_tagger._model_file.parent / CLASS_MAP, tmp_path / CLASS_MAP)
    heard = SoundTagger(str(tmp_path / "m.onnx"), threads=1).listen([np.full(SAMPLE_RATE, 0.1, np.float32)])
    assert heard.probs.shape == (2, 521) and not np.allclose(heard.probs, 0.5)  # the graph ran
    assert heard.features.shape == (2, EMBEDDING_DIM) and not heard.features.any()


def test_the_sound_projection_ships_and_lands_in_the_text_space(hub: ModelHub, sounds: dict[str, Path]) -> None:
    s = hub.settings
    assert binding_path(s.sound_model, s.text_model).is_file()
    assert binding_path(s.sound_model, s.text_model).stat().st_size < 4_000_000  # a few MB, committed
    binding = load_binding(s.sound_model, s.text_model)
    assert binding is not None and binding.weight.shape == (EMBEDDING_DIM, hub.text.dim)
    features = np.stack([hub.sound_tagger.listen([_samples(p)]).features.mean(axis=0) for p in sounds.values()])
    projected = binding.project(features)
    assert projected.shape == (3, hub.text.dim) and np.allclose(np.linalg.norm(projected, axis=1), 1.0, atol=1e-5)
    nearest = int(np.argmax(projected @ hub.text.encode_query(["electronic beeps"])[0]))
    assert list(sounds)[nearest] == "beeps"
    assert load_binding(s.sound_model, "all-minilm-l6-v2") is None  # another text space: ConSE alone


def test_sound_features_average_the_audible_patches_and_are_cached(hub: ModelHub, sounds: dict[str, Path],
                                                                   trainer, tmp_path: Path) -> None:
    paths = [sounds["speech"], sounds["beeps"], tmp_path / "broken.wav"]
    paths[2].write_bytes(b"not audio at all")
    probs, features = trainer.sound_features(hub, paths, tmp_path / "features.npz")
    assert probs.shape == (3, len(hub.sound_tagger.labels)) and features.shape == (3, EMBEDDING_DIM)
    assert np.isnan(features[2]).all() and np.isfinite(features[:2]).all()  # left out, not a crash
    heard = hub.sound_tagger.listen([_samples(sounds["beeps"])], quiet_dbfs=SILENCE_DBFS)
    assert np.allclose(features[1], heard.features[heard.dbfs >= SILENCE_DBFS].mean(axis=0), atol=1e-4)
    again = trainer.sound_features(hub, paths, tmp_path / "features.npz")  # read back from the cache
    assert np.array_equal(again[1][:2], features[:2])


def test_captions_drop_takes_and_never_name_a_dev_set_sound(trainer) -> None:
    words = frozenset({"wolf", "growl", "howl", "come", "on", "then", "oh", "dear", "sword", "kick", "bird",
                       "call", "trash", "emptied"})
    caption = trainer.sound_caption
    assert caption(Path("sounds/wolf-growl-2.ogg"), words) == "a wolf growl"
    assert caption(Path("sounds/wolfHowl_01.wav"), words) == "a wolf howl"
    assert caption(Path("voices/Default/Comeonthen.ogg"), words) == "a voice saying come on then"
    assert caption(Path("voices/Default/Ohdear.ogg"), words) == "a voice saying oh dear"
    assert caption(Path("drums/kick04.ogg"), words) == "a drum: kick"
    assert caption(Path("Oxygen-Sys-Trash-Emptied.ogg"), words) == "a trash emptied"
    assert caption(Path("voices/Default_es/Ohdear.ogg"), words) is None  # another language
    assert caption(Path("music/bird-call.ogg"), words) is None
    assert caption(Path("sounds/xqzt-growl.ogg"), words) is None  # not English words
    assert trainer.near_dev_set("wolf-growl-2", "a wolf growl")  # another take of the dev set's wolf-growl-1
    assert trainer.near_dev_set("sword-3", "a sword")
    assert trainer.near_dev_set("wolf-howl", "a wolf growling")  # a dev-set caption
    assert not trainer.near_dev_set("wolf-howl", "a wolf howl")
