"""Train the projection that binds pictures to language (encoders/binding.py) and report what it adds.

    .venv/bin/python bench/train_binding.py [--cache bench/out/cache] [--devsets bench/out/devsets] [--write]

Pairs: every captioned clip-art picture of `openclipart-png` (public domain; titles as in
bench/devsets.py), fetched with `apt-get download`, except the pictures of the clip-art dev set.
Features: EfficientNet-Lite2's pooled 1,280 features (encoders/image_tagger.py); targets: the
frozen text encoder's query vectors of the captions. A linear map is trained with a symmetric
InfoNCE loss in PyTorch on the CPU (seconds), then text->picture R@1/R@10 is printed for ConSE
alone, the projection alone and both bound as ingestion binds them, on a held-out tenth of the
pairs and on the picture dev sets (clip-art, KTuberling: pictures nobody trained on).
`--write` stores the weights where encoders/binding.py loads them.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR.parent))
sys.path.insert(0, str(BENCH_DIR))
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import devsets  # noqa: E402

from encoders.binding import Binding, bind, binding_path  # noqa: E402
from encoders.hub import ModelHub  # noqa: E402
from encoders.image_tagger import FEATURE_DIM  # noqa: E402
from ingest.errors import ExtractionError  # noqa: E402
from ingest.image import open_image  # noqa: E402
from omnidex.config import Settings  # noqa: E402
from retrieval.evaluation import load_beir  # noqa: E402

HELD_OUT = 0.1
SEED = 0
EPOCHS = 40
BATCH = 256
LEARNING_RATE = 1e-3
WEIGHT_DECAY = 0.05
TEMPERATURE = 0.05
DROPOUT = 0.1
PICTURE_SUFFIXES = (".png", ".jpg", ".jpeg")


def clipart_pairs(cache: Path) -> list[tuple[Path, str, str]]:
    """(picture, caption, dev-set file name) for every captioned openclipart picture."""
    png_root = devsets.fetch_package("openclipart-png", cache) / "usr" / "share" / "openclipart" / "png"
    svg_root = devsets.fetch_package("openclipart-svg", cache) / "usr" / "share" / "openclipart" / "svg"
    dictionary, names = devsets.english_words(cache)
    pairs = []
    for png in sorted(png_root.rglob("*.png")):
        rel = png.relative_to(png_root)
        if any(rel.as_posix().startswith(skip + "/") for skip in devsets.CLIPART_SKIP) or png.stem.endswith("_bw"):
            continue
        title = devsets.clipart_title(png, svg_root / rel.with_suffix(".svg"), dictionary)
        if title is None:
            continue
        template = next((devsets.CLIPART_CAPTIONS[p] for p in rel.parent.parts if p in devsets.CLIPART_CAPTIONS),
                        None)
        caption = template.format(title) if template else devsets.with_article(title, names)
        pairs.append((png, caption, devsets.opaque_name(f"clipart/{rel.as_posix()}", ".png")))
    return pairs


def picture_features(hub: ModelHub, paths: list[Path], cache_file: Path) -> tuple[np.ndarray, np.ndarray]:
    """(probabilities, pooled features) per picture, kept in cache_file (minutes to compute on 2 cores);
    a picture that cannot be read has NaN rows."""
    keys = [str(p) for p in paths]
    if cache_file.is_file():
        with np.load(cache_file, allow_pickle=False) as cached:
            if list(cached["keys"]) == keys:
                return cached["probs"], cached["features"]
    probs, features = [], []
    for n, path in enumerate(paths, 1):
        try:
            picture, _ = open_image(path, hub.settings.max_image_pixels)
        except ExtractionError as e:  # too large or damaged: left out of training and scoring (a NaN row)
            print(f"  skipped {path.name}: {e}", file=sys.stderr)
            probs.append(np.full(len(hub.image_tagger.labels), np.nan, np.float32))
            features.append(np.full(FEATURE_DIM, np.nan, np.float32))
            continue
        p, f = hub.image_tagger.predict_with_features([picture])
        probs.append(p[0])
        features.append(f[0])
        if n % 250 == 0:
            print(f"  features: {n}/{len(paths)}", file=sys.stderr, flush=True)
    probs_array, features_array = np.array(probs, np.float32), np.array(features, np.float32)
    np.savez(cache_file, keys=np.array(keys), probs=probs_array, features=features_array)
    return probs_array, features_array


def train(features: np.ndarray, targets: np.ndarray) -> Binding:
    """A linear map from standardised features to the captions' unit vectors, by symmetric InfoNCE."""
    import torch

    torch.manual_seed(SEED)
    mean, scale = features.mean(axis=0), features.std(axis=0) + 1e-6
    net = torch.nn.Sequential(torch.nn.Dropout(DROPOUT), torch.nn.Linear(features.shape[1], targets.shape[1]))
    optimiser = torch.optim.AdamW(net.parameters(), lr=LEARNING_RATE, weight_decay=WEIGHT_DECAY)
    x = torch.from_numpy((features - mean) / scale)
    y = torch.from_numpy(targets)
    for _ in range(EPOCHS):
        net.train()
        order = torch.randperm(len(x))
        for start in range(0, len(x), BATCH):
            batch = order[start:start + BATCH]
            projected = torch.nn.functional.normalize(net(x[batch]), dim=1)
            logits = projected @ y[batch].T / TEMPERATURE
            wanted = torch.arange(len(batch))
            loss = (torch.nn.functional.cross_entropy(logits, wanted)
                    + torch.nn.functional.cross_entropy(logits.T, wanted)) / 2
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
    linear = net[1]
    return Binding(mean.astype(np.float32), scale.astype(np.float32),
                   linear.weight.detach().numpy().T.copy(), linear.bias.detach().numpy().copy(), fingerprint="")


def recall(queries: np.ndarray, relevant: list[set[int]], pictures: np.ndarray) -> dict[str, float]:
    """Text->picture R@1 and R@10: each query's share of its pictures among the nearest k."""
    order = np.argsort(-(queries @ pictures.T), axis=1)
    return {f"R@{k}": round(float(np.mean([len(rel & set(order[i, :k])) / len(rel)
                                             for i, rel in enumerate(relevant)])), 3) for k in (1, 10)}


def by_caption(captions: list[str]) -> tuple[list[str], list[set[int]]]:
    """One query per distinct caption; every picture with that caption is relevant to it."""
    relevant: dict[str, set[int]] = {}
    for i, caption in enumerate(captions):
        relevant.setdefault(caption, set()).add(i)
    return list(relevant), list(relevant.values())


def dev_set(folder: Path) -> tuple[list[Path], list[str], list[set[int]]]:
    """A media dev set's pictures, and its queries that have a picture among their answers."""
    dataset = load_beir(folder)
    pictures = sorted(name for name in dataset.corpus if name.lower().endswith(PICTURE_SUFFIXES))
    index = {name: i for i, name in enumerate(pictures)}
    queries, relevant = [], []
    for qid, judged in dataset.qrels.items():
        wanted = {index[name] for name, grade in judged.items() if grade > 0 and name in index}
        if wanted:
            queries.append(dataset.queries[qid])
            relevant.append(wanted)
    return [folder / "files" / name for name in pictures], queries, relevant


def report(name: str, hub: ModelHub, binding: Binding, weight: float, probs: np.ndarray, features: np.ndarray,
           queries: list[str], relevant: list[set[int]]) -> dict[str, dict[str, float]]:
    query_vectors = hub.text.encode_query(queries)
    conse = hub.image_conse.embed(probs)
    projected = binding.project(features)
    rows = {"ConSE alone": recall(query_vectors, relevant, conse),
            "projection alone": recall(query_vectors, relevant, projected),
            "bound (ingestion)": recall(query_vectors, relevant, bind(conse, projected, weight))}
    for run, metrics in rows.items():
        print(f"| {name} ({len(features)} pictures, {len(queries)} queries) | {run} | {metrics['R@1']:.3f} | "
              f"{metrics['R@10']:.3f} |")
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, default=BENCH_DIR / "out" / "cache")
    parser.add_argument("--devsets", type=Path, default=BENCH_DIR / "out" / "devsets")
    parser.add_argument("--write", action="store_true", help="store the weights for encoders/binding.py")
    parser.add_argument("--json", type=Path, help="also write the numbers here")
    args = parser.parse_args(argv)
    settings = Settings()
    hub = ModelHub(settings)
    dev_files = set(os.listdir(args.devsets / "clipart" / "files")) if (args.devsets / "clipart").is_dir() else set()
    pairs = [p for p in clipart_pairs(args.cache) if p[2] not in dev_files]  # never train on a dev picture
    probs, features = picture_features(hub, [p[0] for p in pairs], args.cache / "binding-clipart-features.npz")
    readable = ~np.isnan(features).any(axis=1)
    probs, features = probs[readable], features[readable]
    captions = [p[1] for p, ok in zip(pairs, readable) if ok]
    rng = np.random.default_rng(SEED)
    order = rng.permutation(len(captions))
    held, trained = order[: int(len(captions) * HELD_OUT)], order[int(len(captions) * HELD_OUT):]
    started = time.process_time()
    binding = train(features[trained], hub.text.encode_query([captions[i] for i in trained]))
    seconds = time.process_time() - started
    print(f"trained on {len(trained)} captioned pictures in {seconds:.1f} CPU s; "
          f"weights {binding.weight.nbytes / 1e6:.1f} MB ({binding.weight.shape[0]}x{binding.weight.shape[1]})")
    print("\n| pictures | run | R@1 | R@10 |\n|---|---|---:|---:|")
    weight = settings.image_binding_weight
    queries, relevant = by_caption([captions[i] for i in held])
    results = {"held-out": report("held-out clip-art", hub, binding, weight, probs[held], features[held],
                                  queries, relevant)}
    for name in ("clipart", "ktuberling"):
        folder = args.devsets / name
        if not (folder / "queries.jsonl").is_file():
            print(f"| {name} | not built (bench/devsets.py) | | |")
            continue
        paths, queries, relevant = dev_set(folder)
        dev_probs, dev_features = picture_features(hub, paths, args.cache / f"binding-{name}-dev-features.npz")
        unreadable = np.isnan(dev_features).any(axis=1)  # scored as never found
        dev_probs[unreadable], dev_features[unreadable] = 0.0, 0.0
        results[name] = report(f"{name} dev set", hub, binding, weight, dev_probs, dev_features, queries, relevant)
    if args.json:
        args.json.write_text(json.dumps({"train_cpu_s": seconds, "results": results}, indent=1))
    if args.write:
        target = binding_path(settings.image_model, settings.text_model)
        binding.save(target)
        print(f"\nwrote {target} ({target.stat().st_size / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
