"""ConSE label text with the real text model: WordNet hypernyms for ImageNet classes, AudioSet
parents for sound classes, prompt ensembles, specific sound classes ahead of generic ones."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from core.config import Settings
from encoders.conse import Conse
from encoders.hub import IMAGE_TEMPLATES, ModelHub
from encoders.image_tagger import imagenet_descriptions, imagenet_labels
from encoders.sound_events import ancestors, sound_descriptions


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> ModelHub:
    return ModelHub(Settings(data_dir=tmp_path_factory.mktemp("data")))


def _rank(conse: Conse, query: np.ndarray, label: str) -> int:
    """Where the class's own ConSE vector (all probability on it) ranks for the query among all classes."""
    vectors = conse.embed(np.eye(len(conse.labels), dtype=np.float32))
    order = np.argsort(-(vectors @ query))
    return int(np.nonzero(order == conse.labels.index(label))[0][0])


def test_imagenet_classes_carry_their_wordnet_hypernyms_and_synonyms() -> None:
    described = dict(zip(imagenet_labels(), imagenet_descriptions()))
    assert "mushroom" in described["bolete mushroom"] and "fungus" in described["bolete mushroom"]
    assert "fungus" in described["stinkhorn mushroom"] and "carrion fungus" in described["stinkhorn mushroom"]
    assert "dog" in described["Golden Retriever"]
    assert "fish" in described["great white shark"] and "man-eater" in described["great white shark"]
    assert "Tinca tinca" not in described["tench fish"]  # Latin names help no searcher


def test_a_query_for_the_wider_kind_finds_the_class(hub: ModelHub) -> None:
    conse = hub.image_conse
    assert conse.templates == list(IMAGE_TEMPLATES) and len(conse.templates) > 1
    for query in ("a fungus", "a mushroom"):
        assert _rank(conse, hub.text.encode_query([query])[0], "bolete mushroom") < 10
    # WordNet knows what the label does not say: a merganser is a duck, a bird; a spoonbill a wading bird
    plain = Conse(hub.text, conse.labels, IMAGE_TEMPLATES, cache_dir=hub.settings.model_cache_dir)
    for query, label in (("a bird", "red-breasted merganser"), ("a wading bird", "spoonbill")):
        vector = hub.text.encode_query([query])[0]
        assert _rank(conse, vector, label) < 0.7 * _rank(plain, vector, label), (query, label)


def test_sound_classes_carry_their_audioset_parents(hub: ModelHub) -> None:
    assert ancestors("Croak")[:2] == ["Frog", "Wild animals"]
    labels = hub.sound_tagger.labels
    described = dict(zip(labels, sound_descriptions(labels)))
    assert described["Croak"] == "Croak (Frog, Wild animals)"
    assert "Dog" in described["Bark"]
    frog = hub.text.encode_query(["a frog"])[0]
    conse = hub.sound_conse
    plain = Conse(hub.text, labels, conse.templates, cache_dir=hub.settings.model_cache_dir)
    assert _rank(conse, frog, "Croak") < 0.7 * _rank(plain, frog, "Croak")


def test_specific_sound_classes_lead_generic_ones(hub: ModelHub) -> None:
    """YAMNet calls a frog "Animal" above all; the tags and the vector say croak first."""
    conse = hub.sound_conse
    probs = np.zeros(len(conse.labels), dtype=np.float32)
    for label, p in (("Animal", 0.9), ("Music", 0.6), ("Inside, small room", 0.5), ("Frog", 0.4), ("Croak", 0.35)):
        probs[conse.labels.index(label)] = p
    tags = [label for label, _ in conse.top_labels(probs, 2)]
    assert set(tags) == {"Frog", "Croak"}
    assert conse.top_labels(probs, 1)[0][1] == pytest.approx(probs[conse.labels.index(tags[0])])
    query = hub.text.encode_query(["the sound of a frog"])[0]
    unweighted = Conse(hub.text, conse.labels, conse.templates, conse.top_k, hub.settings.model_cache_dir,
                       descriptions=conse.descriptions, description_weight=conse.description_weight,
                       temperature=conse.temperature)
    assert float(conse.embed(probs)[0] @ query) > float(unweighted.embed(probs)[0] @ query)


def test_temperature_sharpens_or_flattens_the_mixture(hub: ModelHub) -> None:
    conse = hub.image_conse
    probs = np.zeros(len(conse.labels), dtype=np.float32)
    probs[[10, 20, 30]] = [0.6, 0.3, 0.1]
    lead = conse.embed(np.eye(len(conse.labels), dtype=np.float32)[10])[0]

    def mixed(temperature: float) -> np.ndarray:
        return Conse(hub.text, conse.labels, conse.templates, 3, hub.settings.model_cache_dir,
                     descriptions=conse.descriptions, description_weight=conse.description_weight,
                     temperature=temperature).embed(probs)[0]

    assert float(mixed(0.5) @ lead) > float(mixed(1.0) @ lead) > float(mixed(3.0) @ lead)


def test_label_vectors_are_cached_per_templates_and_text(hub: ModelHub, tmp_path: Path) -> None:
    labels = ["bolete mushroom", "goldfish"]
    one = Conse(hub.text, labels, ["a photo of a {label}"], cache_dir=tmp_path)
    two = Conse(hub.text, labels, ["a photo of a {label}", "a drawing of a {label}"], cache_dir=tmp_path)
    three = Conse(hub.text, labels, ["a photo of a {label}"], cache_dir=tmp_path,
                  descriptions=["bolete mushroom, a kind of fungus", "goldfish, a kind of cyprinid"])
    assert len(list(tmp_path.glob("conse-*.npy"))) == 3
    again = Conse(hub.text, labels, ["a photo of a {label}", "a drawing of a {label}"], cache_dir=tmp_path)
    assert np.array_equal(again.embed(np.eye(2)), two.embed(np.eye(2)))
    assert not np.allclose(one.embed(np.eye(2)), three.embed(np.eye(2)))
