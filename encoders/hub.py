"""Every model Omnidex uses, each built on first use and then shared by the whole process."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from core.config import Settings
from core.once import forget, once
from encoders.base import TextEncoder
from encoders.binding import Binding, bind_features, binding_in_use, load_binding, weight_in_use
from encoders.conse import Conse
from encoders.text import load_text_encoder

if TYPE_CHECKING:
    from PIL import Image

    from encoders.clip import ClipEncoder
    from encoders.image_tagger import ImageTagger
    from encoders.sound_events import SoundTagger
    from encoders.speech import Transcriber
    from rerank.cross_encoder import CrossEncoder

# How a label is phrased before it is embedded: several ways people describe
# a picture or a sound, averaged (a prompt ensemble), rather than the bare class name.
IMAGE_TEMPLATES = ("a photo of a {label}", "a drawing of a {label}", "clip art of a {label}", "a {label}")
SOUND_TEMPLATES = ("the sound of {label}", "{label}", "a recording of {label}")
# Sound classes weigh less the more classes they cover: one with this many YAMNet
# classes below it weighs a half ("Speech" 0.67, "Animal" 0.14, "Music" 0.06).
SOUND_GENERIC_HALF = 10.0
SOUND_BACKGROUND_WEIGHT = 0.2  # "Inside, small room": where, not what


@dataclass(frozen=True)
class Seen:
    """What the models make of pictures or sounds: one row each."""

    probs: np.ndarray  # the classifier's class probabilities
    features: np.ndarray  # the pooled features those come from
    conse: np.ndarray  # the text-space vector of the labels (ConSE)
    vectors: np.ndarray  # ConSE bound with the learned projection of the features: what is searched


class ModelHub:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @once
    def text(self) -> TextEncoder:
        s = self.settings
        return load_text_encoder(s.text_model, s.device, s.threads, s.encode_batch_size)

    @once
    def image_tagger(self) -> ImageTagger:
        from encoders.image_tagger import ImageTagger

        s = self.settings
        return ImageTagger(s.image_model, s.device, s.threads, cache_dir=s.model_cache_dir)

    @once
    def image_conse(self) -> Conse:
        from encoders.image_tagger import imagenet_descriptions

        s = self.settings
        return Conse(self.text, self.image_tagger.labels, IMAGE_TEMPLATES, s.conse_top_k, s.model_cache_dir,
                     descriptions=imagenet_descriptions(), description_weight=s.conse_description_weight,
                     temperature=s.conse_temperature)

    @once
    def image_binding(self) -> Binding | None:
        """The learned projection for this image and text model (the library's adapted one, else the one
        that ships), when there is one and it is weighed in."""
        s = self.settings
        return _binding(s, s.image_model, self.image_weight)

    @once
    def image_weight(self) -> float:
        s = self.settings
        return binding_weight(s, s.image_model, s.image_binding_weight)

    def embed_pictures(self, pictures: Sequence[Image.Image]) -> Seen:
        """RGB pictures into the text space: ConSE of the labels, bound with the learned projection of the
        features the labels come from (encoders/binding.py) when there is one."""
        probs, features = self.image_tagger.predict_with_features(pictures)
        return self._bound(probs, features, self.image_conse, self.image_binding, self.image_weight)

    def forget_bindings(self) -> None:
        """The next picture or sound is bound with whatever projection is in use by then (after adapt)."""
        forget(self, "image_binding", "image_weight", "sound_binding", "sound_weight")

    @once
    def sound_tagger(self) -> SoundTagger:
        from encoders.sound_events import SoundTagger

        return SoundTagger(self.settings.sound_model, self.settings.threads)

    @once
    def sound_conse(self) -> Conse:
        from encoders.sound_events import sound_descriptions, specificity_weights

        s, labels = self.settings, self.sound_tagger.labels
        return Conse(self.text, labels, SOUND_TEMPLATES, s.conse_top_k, s.model_cache_dir,
                     descriptions=sound_descriptions(labels), description_weight=s.conse_description_weight,
                     temperature=s.conse_temperature,
                     label_weights=specificity_weights(labels, SOUND_GENERIC_HALF, SOUND_BACKGROUND_WEIGHT))

    @once
    def sound_binding(self) -> Binding | None:
        s = self.settings
        return _binding(s, s.sound_model, self.sound_weight)

    @once
    def sound_weight(self) -> float:
        s = self.settings
        return binding_weight(s, s.sound_model, s.sound_binding_weight)

    def embed_sounds(self, probs: np.ndarray, features: np.ndarray) -> Seen:
        """Sounds (YAMNet's mean probabilities and embedding over each) into the text space, as pictures."""
        return self._bound(probs, features, self.sound_conse, self.sound_binding, self.sound_weight)

    def _bound(self, probs: np.ndarray, features: np.ndarray, conse: Conse, binding: Binding | None,
               weight: float) -> Seen:
        conse_vectors = conse.embed(probs) if len(probs) else np.zeros((0, self.text.dim), np.float32)
        return Seen(probs, features, conse_vectors, bind_features(conse_vectors, features, binding, weight))

    @once
    def transcriber(self) -> Transcriber:
        from encoders.speech import Transcriber

        s = self.settings
        return Transcriber(s.speech_model, s.device, s.threads, s.model_cache_dir)

    @once
    def cross_encoder(self) -> CrossEncoder | None:
        """The reranker (also what picks the Ask page's sentences), or None when reranking is off."""
        from rerank.cross_encoder import load_cross_encoder

        s = self.settings
        return load_cross_encoder(s.rerank_model, s.device, s.threads) if s.rerank_model else None

    @once
    def clip(self) -> ClipEncoder | None:
        """Only when configured: no CLIP-family weights ship with Omnidex."""
        if not self.settings.clip_model:
            return None
        from encoders.clip import ClipEncoder

        return ClipEncoder(self.settings.clip_model, self.settings.device)


def binding_weight(settings: Settings, source_model: str, committed: float) -> float:
    """The share of the projection in use: the adapted one's where the library has one."""
    return weight_in_use(settings.data_dir, source_model, settings.text_model, committed,
                         settings.adapted_binding_weight)


def _binding(settings: Settings, source_model: str, weight: float) -> Binding | None:
    if weight <= 0:
        return None
    return load_binding(source_model, settings.text_model,
                        binding_in_use(settings.data_dir, source_model, settings.text_model))

