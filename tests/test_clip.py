"""The CLIP-family loading path, on tiny CLIP and SigLIP models built from configs.

No CLIP weights ship offline, so these check the plumbing a real model goes
through (directory layout, Auto classes, processors, feature extraction,
normalisation), not semantic quality. Random weights are seeded.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from encoders.clip import ClipEncoder

WORDS = "a photo of cat dog cup coffee red blue car tree sunset over mountains".split()
SPECIALS = ["<pad>", "<unk>", "<s>", "</s>"]


def _tokenizer(max_length: int):
    """A word-level tokenizer built in memory: no vocabulary download needed."""
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    vocab = {token: i for i, token in enumerate(SPECIALS + WORDS)}
    core = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.Whitespace()
    core.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", special_tokens=[("<s>", vocab["<s>"]), ("</s>", vocab["</s>"])]
    )
    return PreTrainedTokenizerFast(tokenizer_object=core, bos_token="<s>", eos_token="</s>", unk_token="<unk>",
                                   pad_token="<pad>", model_max_length=max_length)


def _save_clip(folder: Path) -> Path:
    import torch
    from transformers import CLIPConfig, CLIPImageProcessorPil, CLIPModel

    torch.manual_seed(0)
    tokenizer = _tokenizer(16)
    config = CLIPConfig(
        text_config=dict(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=2, max_position_embeddings=16, pad_token_id=0, bos_token_id=2,
                         eos_token_id=3),
        vision_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                           image_size=32, patch_size=8),
        projection_dim=24,
    )
    CLIPModel(config).eval().save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    CLIPImageProcessorPil(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}).save_pretrained(folder)
    return folder


def _save_siglip(folder: Path) -> Path:
    import torch
    from transformers import SiglipConfig, SiglipImageProcessorPil, SiglipModel

    torch.manual_seed(0)
    tokenizer = _tokenizer(12)
    config = SiglipConfig(
        text_config=dict(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=2, max_position_embeddings=12, projection_size=32),
        vision_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                           image_size=32, patch_size=8),
    )
    SiglipModel(config).eval().save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    SiglipImageProcessorPil(size={"height": 32, "width": 32}).save_pretrained(folder)
    return folder


@pytest.fixture(scope="module", params=["clip", "siglip"])
def encoder(request, tmp_path_factory: pytest.TempPathFactory) -> ClipEncoder:
    folder = tmp_path_factory.mktemp(request.param)
    (_save_clip if request.param == "clip" else _save_siglip)(folder)
    return ClipEncoder(str(folder), "cpu")


def _pictures() -> list[Image.Image]:
    rng = np.random.default_rng(0)
    noise = Image.fromarray(rng.integers(0, 255, (48, 64, 3), dtype=np.uint8))
    return [Image.new("RGB", (40, 30), "red"), noise, Image.new("L", (50, 50), 128), noise.rotate(90)]


def test_loads_from_a_directory(encoder: ClipEncoder) -> None:
    model, _, _ = encoder._load()
    assert type(model).__name__ in ("CLIPModel", "SiglipModel")


def test_image_and_text_vectors_share_one_normalised_space(encoder: ClipEncoder) -> None:
    images = encoder.encode_images(_pictures())
    texts = encoder.encode_text(["a photo of a cat", "sunset over mountains", "unknown words here"])
    assert images.shape == (4, encoder.dim) and texts.shape == (3, encoder.dim)
    assert images.dtype == texts.dtype == np.float32
    assert np.allclose(np.linalg.norm(images, axis=1), 1.0, atol=1e-5)
    assert np.allclose(np.linalg.norm(texts, axis=1), 1.0, atol=1e-5)
    assert not np.allclose(images[0], images[1])  # different pictures, different vectors
    assert not np.allclose(texts[0], texts[1])


def test_deterministic_and_independent_of_batching(encoder: ClipEncoder) -> None:
    pictures = _pictures()
    together = encoder.encode_images(pictures)
    encoder.batch_size, before = 3, encoder.batch_size
    try:
        split = encoder.encode_images(pictures)
    finally:
        encoder.batch_size = before
    alone = np.concatenate([encoder.encode_images([p]) for p in pictures])
    assert np.allclose(together, split, atol=1e-5) and np.allclose(together, alone, atol=1e-5)
    assert np.allclose(encoder.encode_text(["a red car"]), encoder.encode_text(["a red car", "a blue tree"])[:1],
                       atol=1e-5)


def test_empty_input(encoder: ClipEncoder) -> None:
    assert encoder.encode_images([]).shape == (0, encoder.dim)
    assert encoder.encode_text([]).shape == (0, encoder.dim)


def test_torchvision_is_never_needed(encoder: ClipEncoder) -> None:
    encoder.encode_images(_pictures()[:1])
    assert "torchvision" not in sys.modules


def test_wrong_kind_of_model_is_refused(tmp_path: Path) -> None:
    from transformers import BertConfig, BertModel

    BertModel(BertConfig(vocab_size=20, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                         intermediate_size=32)).save_pretrained(tmp_path)
    _tokenizer(8).save_pretrained(tmp_path)
    with pytest.raises(ValueError, match="not a CLIP-family"):
        ClipEncoder(str(tmp_path), "cpu").encode_text(["a cat"])


def test_configured_clip_model_adds_a_vector_to_image_segments(tmp_path: Path) -> None:
    """The path ingestion takes: settings.clip_model -> ModelHub.clip -> Segment.clip."""
    from encoders.hub import ModelHub
    from ingest.chunking import TextChunker
    from ingest.extraction import ExtractContext
    from ingest.image import image_segments
    from tests.conftest import make_settings

    settings = make_settings(tmp_path / "data", clip_model=str(_save_clip(tmp_path / "clip")))
    models = ModelHub(settings)
    ctx = ExtractContext(settings, models, TextChunker(models.text.count_tokens, 200, 32))
    segments = image_segments(_pictures()[:2], ctx, ["a", "b"])
    assert models.clip.dim == 24
    for segment in segments:
        assert segment.clip.shape == (24,) and np.isclose(np.linalg.norm(segment.clip), 1.0, atol=1e-5)
