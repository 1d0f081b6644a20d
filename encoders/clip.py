"""A CLIP-family dual encoder (CLIP, SigLIP) adding a second, image-native vector to pictures.

No such weights ship with Omnidex: `clip_model` names a local directory or a
Hugging Face hub id (e.g. openai/clip-vit-base-patch32, google/siglip-base-patch16-224),
loaded with transformers' Auto classes. Images go through the PIL image
processors, so torchvision is never needed.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from functools import cached_property
from typing import Any

import numpy as np
from PIL import Image

from encoders.base import l2_normalise
from encoders.runtime import resolve_device

# SigLIP was trained on text padded to its full length; shorter padding changes its vectors.
PAD_TO_MAX_LENGTH = ("siglip", "siglip2")


class ClipEncoder:
    """Image and text vectors in the model's shared space, L2-normalised float32; loads on first use."""

    def __init__(self, model: str, device: str = "auto", batch_size: int = 16) -> None:
        self.name = model
        self.device = resolve_device(device)
        self.batch_size = batch_size
        self._parts: tuple[Any, Any, Any] | None = None
        self._lock = threading.Lock()

    def _load(self) -> tuple[Any, Any, Any]:
        with self._lock:
            if self._parts is None:
                import torch
                from transformers import AutoImageProcessor, AutoModel, AutoTokenizer

                dtype = torch.float16 if self.device == "cuda" else torch.float32
                model = AutoModel.from_pretrained(self.name, dtype=dtype).to(self.device).eval()
                if not hasattr(model, "get_image_features") or not hasattr(model, "get_text_features"):
                    raise ValueError(f"{self.name!r} is a {type(model).__name__}, not a CLIP-family dual encoder")
                processor = AutoImageProcessor.from_pretrained(self.name, backend="pil")
                tokenizer = AutoTokenizer.from_pretrained(self.name)
                self._parts = (model, processor, tokenizer)
        return self._parts

    @cached_property
    def dim(self) -> int:
        """Read off one encoding: configs name the projection size differently across the family."""
        return int(self.encode_text(["a photo"]).shape[1])

    def encode_images(self, images: Sequence[Image.Image]) -> np.ndarray:
        model, processor, _ = self._load()
        batches = []
        for start in range(0, len(images), self.batch_size):
            rgb = [im if im.mode == "RGB" else im.convert("RGB") for im in images[start : start + self.batch_size]]
            inputs = processor(images=rgb, return_tensors="pt")
            batches.append(self._run(model.get_image_features, inputs, model.dtype))
        return self._stack(batches)

    def encode_text(self, texts: Sequence[str]) -> np.ndarray:
        model, _, tokenizer = self._load()
        max_length = int(model.config.text_config.max_position_embeddings)
        padding = "max_length" if model.config.model_type in PAD_TO_MAX_LENGTH else True
        batches = []
        for start in range(0, len(texts), self.batch_size):
            inputs = tokenizer(list(texts[start : start + self.batch_size]), padding=padding, truncation=True,
                               max_length=max_length, return_tensors="pt")
            inputs.pop("token_type_ids", None)
            batches.append(self._run(model.get_text_features, inputs, model.dtype))
        return self._stack(batches)

    def _run(self, features, inputs, dtype) -> np.ndarray:
        import torch

        tensors = {k: v.to(self.device) for k, v in inputs.items()}
        if "pixel_values" in tensors:
            tensors["pixel_values"] = tensors["pixel_values"].to(dtype)
        with torch.inference_mode():
            out = features(**tensors)
        # transformers 5 returns an output object whose pooler_output is the
        # projected embedding; older releases return the tensor itself.
        if not isinstance(out, torch.Tensor):
            out = out.pooler_output
        return out.float().cpu().numpy()

    def _stack(self, batches: list[np.ndarray]) -> np.ndarray:
        if not batches:
            return np.zeros((0, self.dim), dtype=np.float32)
        return l2_normalise(np.concatenate(batches))
