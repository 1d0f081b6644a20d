"""Sets ConSE's label text, top-k and temperature on the picture and sound dev sets (bench/devsets.py).

    .venv/bin/python bench/tune_conse.py [--devsets bench/out/devsets] [--sets clipart sounds]

Classifier probabilities are computed once per file and cached; each setting is
then scored as text->file retrieval by the ConSE vector alone (cosine, R@10 and
MRR@10), which is the part of the index these settings change.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.config import Settings  # noqa: E402
from encoders.conse import Conse  # noqa: E402
from encoders.hub import (  # noqa: E402
    IMAGE_TEMPLATES,
    SOUND_BACKGROUND_WEIGHT,
    SOUND_TEMPLATES,
    ModelHub,
)
from encoders.image_tagger import imagenet_descriptions  # noqa: E402
from encoders.sound_events import sound_descriptions, specificity_weights  # noqa: E402

BENCH = Path(__file__).resolve().parent
PICTURE_SETS = {"clipart", "ktuberling"}
TOP_KS = (5, 10, 20)
TEMPERATURES = (1.0, 2.0, 3.0)
DESCRIPTION_WEIGHTS = (0.0, 0.25, 0.5, 1.0)  # 0: the bare label; 1: label + hypernyms (or parents) alone
GENERIC_HALVES = (float("inf"), 10.0)


def read_set(folder: Path) -> tuple[list[str], list[str], dict[str, set[str]], list[str]]:
    """(query ids, query texts, relevant file names per query, file names)."""
    queries = [json.loads(line) for line in (folder / "queries.jsonl").read_text().splitlines() if line]
    relevant: dict[str, set[str]] = {}
    for line in (folder / "qrels" / "test.tsv").read_text().splitlines()[1:]:
        query, doc, score = line.split("\t")
        if int(score) > 0:
            relevant.setdefault(query, set()).add(doc)
    files = [json.loads(line)["_id"] for line in (folder / "corpus.jsonl").read_text().splitlines() if line]
    queries = [q for q in queries if q["_id"] in relevant]
    return [q["_id"] for q in queries], [q["text"] for q in queries], relevant, files


def probabilities(hub: ModelHub, folder: Path, files: list[str], picture: bool, cache: Path) -> np.ndarray:
    """(files, classes): image softmax, or a sound file's mean YAMNet probabilities over its audible patches."""
    cached = cache / f"conse-probs-{folder.name}-{len(files)}.npy"
    if cached.exists():
        return np.load(cached)
    rows = []
    for name in files:
        path = folder / "files" / name
        if picture:
            from ingest.image import open_image

            rows.append(hub.image_tagger.predict([open_image(path)[0]])[0])
        else:
            from ingest.audio import SILENCE_DBFS
            from ingest.media import audio_blocks

            heard = hub.sound_tagger.listen(audio_blocks(path), quiet_dbfs=SILENCE_DBFS)
            audible = heard.dbfs >= SILENCE_DBFS
            rows.append(heard.probs[audible if audible.any() else slice(None)].mean(axis=0))
    cache.mkdir(parents=True, exist_ok=True)
    np.save(cached, np.stack(rows))
    return np.stack(rows)


def score(vectors: np.ndarray, queries: np.ndarray, qids: list[str], relevant: dict[str, set[str]],
          files: list[str]) -> tuple[float, float]:
    ranks = np.argsort(-(queries @ vectors.T), axis=1)[:, :10]
    recall = mrr = 0.0
    for qid, top in zip(qids, ranks):
        hits = [i for i, doc in enumerate(top) if files[doc] in relevant[qid]]
        recall += len(hits) / min(len(relevant[qid]), 10)
        mrr += 1.0 / (hits[0] + 1) if hits else 0.0
    return recall / len(qids), mrr / len(qids)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--devsets", type=Path, default=BENCH / "out" / "devsets")
    parser.add_argument("--sets", nargs="+", default=["clipart", "sounds"])
    parser.add_argument("--cache", type=Path, default=BENCH / "out" / "cache")
    args = parser.parse_args()
    settings = Settings(data_dir=args.cache / "tune-conse-data")
    hub = ModelHub(settings)
    text = hub.text
    for name in args.sets:
        folder = args.devsets / name
        if not folder.is_dir():
            print(f"{name}: not built, skipped")
            continue
        picture = name in PICTURE_SETS
        qids, qtexts, relevant, files = read_set(folder)
        probs = probabilities(hub, folder, files, picture, args.cache)
        queries = text.encode_query(qtexts)
        if picture:
            labels = hub.image_tagger.labels
            descriptions = list(imagenet_descriptions())
            templates = {"'a photo of a'": ("a photo of a {label}",), "ensemble": IMAGE_TEMPLATES}
            halves: tuple[float, ...] = (float("inf"),)
        else:
            labels = hub.sound_tagger.labels
            descriptions = sound_descriptions(labels)
            templates = {"'the sound of'": ("the sound of {label}",), "ensemble": SOUND_TEMPLATES}
            halves = GENERIC_HALVES
        print(f"\n{name}: {len(files)} files, {len(qids)} queries; ConSE vector alone, R@10 / MRR@10")
        best = None
        for alpha, (template_name, phrases) in itertools.product(DESCRIPTION_WEIGHTS, templates.items()):
            text_name = f"description weight {alpha:g}"
            for half in halves:
                weights = None if half == float("inf") else specificity_weights(labels, half,
                                                                                 SOUND_BACKGROUND_WEIGHT)
                cells = []
                for k, temperature in itertools.product(TOP_KS, TEMPERATURES):
                    conse = Conse(text, labels, phrases, k, settings.model_cache_dir, descriptions=descriptions,
                                  description_weight=alpha, temperature=temperature, label_weights=weights)
                    recall, mrr = score(conse.embed(probs), queries, qids, relevant, files)
                    cells.append(f"k{k}/T{temperature:g} {recall:.3f}/{mrr:.3f}")
                    setting = (recall, mrr, text_name, template_name, half, k, temperature)
                    best = max(best or setting, setting)
                generic = "" if picture else f", generic half {half:g}"
                print(f"  {text_name}, {template_name}{generic}:")
                for row in range(0, len(cells), len(TEMPERATURES)):
                    print("    " + "   ".join(cells[row : row + len(TEMPERATURES)]))
        print(f"  best: R@10 {best[0]:.3f} MRR@10 {best[1]:.3f} with {best[2:]}")


if __name__ == "__main__":
    main()
