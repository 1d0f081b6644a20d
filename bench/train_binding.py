"""Train the projections that bind pictures and sounds to language (encoders/binding.py) and report what
they add.

    .venv/bin/python bench/train_binding.py [--what pictures|sounds|both] [--cache bench/out/cache]
        [--devsets bench/out/devsets] [--write]

Pictures: every captioned clip-art picture of `openclipart-png` (public domain; titles as in
bench/devsets.py), fetched with `apt-get download`, except the pictures of the clip-art dev set.
Features: EfficientNet-Lite2's pooled 1,280 features (encoders/image_tagger.py); targets: the
frozen text encoder's query vectors of the captions. A linear map is trained with a symmetric
InfoNCE loss in PyTorch on the CPU (seconds), then text->picture R@1/R@10 is printed for ConSE
alone, the projection alone and both bound as ingestion binds them, on a held-out tenth of the
pairs and on the picture dev sets (clip-art, KTuberling: pictures nobody trained on).

Sounds: the effects of game and sound-theme packages (SOUND_PACKAGES), captioned from their file
and folder names, except every sound of the sounds dev set and its takes and namesakes. Features:
YAMNet's 1,024-d embedding averaged over a file's audible patches (its first 10 s). With a few
hundred pairs, the training settings and the bound weight are chosen by cross-validation on the
training pairs (grouped by caption, so takes of one sound never sit on both sides), then
reported on a held-out tenth of the captions and on the sounds dev set.
`--write` stores the weights where encoders/binding.py loads them.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import sys
import time
from collections.abc import Callable
from functools import cache
from pathlib import Path

import numpy as np

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR.parent))
sys.path.insert(0, str(BENCH_DIR))
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import devsets  # noqa: E402

from core.config import Settings  # noqa: E402
from encoders.binding import Binding, Training, bind, binding_path, fit  # noqa: E402
from encoders.hub import ModelHub  # noqa: E402
from encoders.image_tagger import FEATURE_DIM  # noqa: E402
from encoders.sound_events import EMBEDDING_DIM, SILENCE_LABEL  # noqa: E402
from ingest.audio import SILENCE_DBFS  # noqa: E402
from ingest.errors import ExtractionError  # noqa: E402
from ingest.image import open_image  # noqa: E402
from ingest.media import audio_blocks  # noqa: E402
from omnidex.evaluation import load_beir  # noqa: E402

HELD_OUT = 0.1
SEED = 0
PICTURE_SUFFIXES = (".png", ".jpg", ".jpeg")
SOUND_SUFFIXES = (".ogg", ".wav", ".flac", ".mp3", ".oga")
SOUND_SECONDS = 10.0  # of each file: effects are short, and a long file's start says what it is
SOUND_FOLDS = 5
SOUND_WEIGHTS = (0.0, 0.25, 0.5, 0.75, 1.0)


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


def dev_set(folder: Path, suffixes: tuple[str, ...] = PICTURE_SUFFIXES) -> tuple[list[Path], list[str], list[set[int]]]:
    """A media dev set's pictures (or sounds), and its queries that have one of them among their answers."""
    dataset = load_beir(folder)
    items = sorted(name for name in dataset.corpus if name.lower().endswith(suffixes))
    index = {name: i for i, name in enumerate(items)}
    queries, relevant = [], []
    for qid, judged in dataset.qrels.items():
        wanted = {index[name] for name, grade in judged.items() if grade > 0 and name in index}
        if wanted:
            queries.append(dataset.queries[qid])
            relevant.append(wanted)
    return [folder / "files" / name for name in items], queries, relevant


def report(name: str, hub: ModelHub, binding: Binding, weight: float, probs: np.ndarray, features: np.ndarray,
           queries: list[str], relevant: list[set[int]], conse_embed: Callable[[np.ndarray], np.ndarray] | None = None,
           items: str = "pictures") -> dict[str, dict[str, float]]:
    query_vectors = hub.text.encode_query(queries)
    conse = (conse_embed or hub.image_conse.embed)(probs)
    projected = binding.project(features)
    rows = {"ConSE alone": recall(query_vectors, relevant, conse),
            "projection alone": recall(query_vectors, relevant, projected),
            "bound (ingestion)": recall(query_vectors, relevant, bind(conse, projected, weight))}
    for run, metrics in rows.items():
        print(f"| {name} ({len(features)} {items}, {len(queries)} queries) | {run} | {metrics['R@1']:.3f} | "
              f"{metrics['R@10']:.3f} |")
    return rows


def bind_pictures(args: argparse.Namespace, hub: ModelHub, settings: Settings) -> dict:
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
    binding = fit(features[trained], hub.text.encode_query([captions[i] for i in trained]))
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
    if args.write:
        target = binding_path(settings.image_model, settings.text_model)
        binding.save(target)
        print(f"\nwrote {target} ({target.stat().st_size / 1e6:.1f} MB)")
    return {"train_cpu_s": seconds, "results": results}


# --------------------------------------------------------------------------- sounds

# Packages of sound effects with descriptive file names (apt-get download), and where their sounds are.
# Free licences: see encoders/data/README.md. Never Tux Paint, GCompris, Asterisk or perl-doc material.
SOUND_PACKAGES = {
    "wesnoth-1.16-data": "usr/share/games/wesnoth/1.16",
    "sound-theme-freedesktop": "usr/share/sounds/freedesktop",
    "oxygen-sounds": "usr/share/sounds",
    "deepin-sound-theme": "usr/share/sounds/deepin",
    "yaru-theme-sound": "usr/share/sounds/Yaru",
    "pingus-data": "usr/share/games/pingus",
    "sound-icons": "usr/share/sounds/sound-icons",
    "chromium-bsu-data": "usr/share/games/chromium-bsu",
    "alienblaster-data": "usr/share/games/alienblaster",
    "frozen-bubble-data": "usr/share/games/frozen-bubble",
    "lmms-common": "usr/share/lmms/samples",
    "hedgewars-data": "usr/share/games/hedgewars/Data/Sounds",
}
# Folders of music, synthesiser waveforms, or voices in other languages (and more English voice
# packs than three: the same phrases again would outweigh every other sound).
SOUND_SKIP_FOLDERS = frozenset({"music", "waveforms", "shapes", "drumsynth", "misc", "default_es", "default_pl",
                                "default_ru", "default_uk", "russian", "russian_pl", "classic", "hillbilly", "mobster",
                                "robot", "singer", "surfer"})
# Folders whose sounds a person names by what they are, not only what the file says.
SOUND_FOLDER_CAPTIONS = {"voices": "a voice saying {}", "drums": "a drum: {}", "beats": "a drum beat: {}",
                         "bassloops": "a bass loop: {}", "basses": "a bass note: {}", "latin": "latin percussion: {}",
                         "instruments": "a musical instrument: {}", "stringsnpads": "a synthesiser: {}"}
# Names of themes and apps that prefix file names ("Oxygen-Sys-Warning"), and abbreviations in them.
SOUND_NAME_PREFIXES = frozenset({"oxygen", "deepin", "x", "yaru", "k3b", "sys", "im"})
SOUND_SHORT_WORDS = devsets._SHORT_WORDS | {"oh", "no", "go", "me", "it", "us", "we", "so", "ow", "uh", "hi", "my"}


def _segments(word: str, dictionary: frozenset[str]) -> list[str] | None:
    """"comeonthen" -> ["come", "on", "then"]: the fewest dictionary words that spell it, or None."""
    best: list[list[str] | None] = [[]] + [None] * len(word)
    for end in range(1, len(word) + 1):
        for begin in range(end):
            piece = word[begin:end]
            if best[begin] is not None and piece in dictionary and (len(piece) > 2 or piece in SOUND_SHORT_WORDS):
                if best[end] is None or len(best[begin]) + 1 < len(best[end]):
                    best[end] = [*best[begin], piece]
    return best[-1]


def sound_caption(relative: Path, dictionary: frozenset[str], names: frozenset[str] = frozenset()) -> str | None:
    """What a sound file is, from its name and folder: "sounds/wolf-growl-2.ogg" -> "a wolf growl",
    "voices/Default/Ohdear.ogg" -> "a voice saying oh dear"; None when the name is not English words."""
    folders = [part.lower() for part in relative.parent.parts]
    if SOUND_SKIP_FOLDERS & set(folders):
        return None
    words: list[str] = []
    for word in devsets._name_words(relative.stem):
        word = re.sub(r"\d+$", "", word)  # takes: "birds1", "ooff2"
        if not word or word in SOUND_NAME_PREFIXES:
            continue
        pieces = [word] if word in dictionary and (len(word) > 2 or word in SOUND_SHORT_WORDS) \
            else _segments(word, dictionary)
        if pieces is None:
            return None
        words += pieces
    if not 1 <= len(words) <= 6 or not any(len(w) > 2 for w in words):
        return None
    title = " ".join(words)
    template = next((SOUND_FOLDER_CAPTIONS[f] for f in folders if f in SOUND_FOLDER_CAPTIONS), None)
    return template.format(title) if template else devsets.with_article(title, names)


def _bare_stem(stem: str) -> str:
    """A sound's name without its take number or separators: "wolf-growl-2" and "wolf-growl-1" are one."""
    return re.sub(r"[^a-z]+", "", Path(stem).name.lower())


@cache
def dev_sounds() -> tuple[frozenset[str], frozenset[str]]:
    """(bare stems, captions) of every sound of the sounds dev set (bench/devsets.py)."""
    labelled = {**devsets.FREEDESKTOP_SOUNDS, **devsets.WESNOTH_SOUNDS, **devsets.PINGUS_SOUNDS}
    return (frozenset(_bare_stem(stem) for stem in labelled),
            frozenset(d.lower() for descriptions in labelled.values() for d in descriptions))


def near_dev_set(stem: str, caption: str) -> bool:
    """A sound of the dev set, another take of one, or a namesake: never trained on."""
    stems, captions = dev_sounds()
    return _bare_stem(stem) in stems or caption.lower() in captions


def sound_pairs(cache: Path, dev_files: Path | None = None) -> list[tuple[Path, str]]:
    """(sound file, caption) for every captioned sound of SOUND_PACKAGES that no dev-set sound is near
    (nor byte for byte the same as a file of the dev set in `dev_files`)."""
    dictionary, names = devsets.english_words(cache)
    dev_bytes = {hashlib.sha1(f.read_bytes()).digest() for f in dev_files.iterdir()} if dev_files else set()
    pairs = []
    for package, folder in SOUND_PACKAGES.items():
        root = devsets.fetch_package(package, cache) / folder
        for path in sorted(p for p in root.rglob("*") if p.suffix.lower() in SOUND_SUFFIXES and p.is_file()):
            caption = sound_caption(path.relative_to(root), dictionary, names)
            if caption is None or near_dev_set(path.stem, caption):
                continue
            if hashlib.sha1(path.read_bytes()).digest() not in dev_bytes:
                pairs.append((path, caption))
    return pairs


def sound_features(hub: ModelHub, paths: list[Path], cache_file: Path) -> tuple[np.ndarray, np.ndarray]:
    """(mean probabilities, mean YAMNet embedding) over each file's audible patches, as ingestion takes them
    for a sound segment, kept in cache_file; a file that cannot be decoded has NaN rows."""
    keys = [str(p) for p in paths]
    if cache_file.is_file():
        with np.load(cache_file, allow_pickle=False) as cached:
            if list(cached["keys"]) == keys:
                return cached["probs"], cached["features"]
    tagger = hub.sound_tagger
    silence = tagger.labels.index(SILENCE_LABEL)
    probs, features = [], []
    for n, path in enumerate(paths, 1):
        try:
            heard = tagger.listen(audio_blocks(path, max_seconds=SOUND_SECONDS), quiet_dbfs=SILENCE_DBFS)
        except (ExtractionError, OSError, ValueError) as e:  # left out of training and scoring (a NaN row)
            print(f"  skipped {path.name}: {e}", file=sys.stderr)
            probs.append(np.full(len(tagger.labels), np.nan, np.float32))
            features.append(np.full(EMBEDDING_DIM, np.nan, np.float32))
            continue
        loud = heard.dbfs >= SILENCE_DBFS
        audible = loud & (heard.probs.argmax(axis=1) != silence)  # what a sound segment of ingestion holds
        patches = audible if audible.any() else loud if loud.any() else slice(None)
        probs.append(heard.probs[patches].mean(axis=0))
        features.append(heard.features[patches].mean(axis=0))
        if n % 250 == 0:
            print(f"  sound features: {n}/{len(paths)}", file=sys.stderr, flush=True)
    probs_array, features_array = np.array(probs, np.float32), np.array(features, np.float32)
    np.savez(cache_file, keys=np.array(keys), probs=probs_array, features=features_array)
    return probs_array, features_array


def caption_folds(captions: list[str], folds: int) -> np.ndarray:
    """A fold per item, the same for every item of one caption (takes of a sound never straddle)."""
    distinct = sorted(set(captions))
    fold_of = dict(zip(distinct, np.random.default_rng(SEED).permutation(len(distinct)) % folds))
    return np.array([fold_of[c] for c in captions])


def bound_recalls(hub: ModelHub, binding: Binding, probs: np.ndarray, features: np.ndarray,
                  captions: list[str]) -> dict[float, dict[str, float]]:
    """Caption->sound recall of the bound vector at each SOUND_WEIGHTS weight (0: ConSE alone), plus the
    projection alone (weight inf)."""
    queries, relevant = by_caption(captions)
    query_vectors = hub.text.encode_query(queries)
    conse, projected = hub.sound_conse.embed(probs), binding.project(features)
    rows = {w: recall(query_vectors, relevant, bind(conse, projected, w)) for w in SOUND_WEIGHTS}
    rows[float("inf")] = recall(query_vectors, relevant, projected)
    return rows


def cross_validate(hub: ModelHub, features: np.ndarray, probs: np.ndarray, captions: list[str],
                   targets: np.ndarray, hyper: Training) -> dict[float, dict[str, float]]:
    """Mean recall over SOUND_FOLDS folds of the training pairs, per bound weight."""
    folds = caption_folds(captions, SOUND_FOLDS)
    per_fold = []
    for fold in range(SOUND_FOLDS):
        inside, outside = folds != fold, folds == fold
        binding = fit(features[inside], targets[inside], hyper)
        per_fold.append(bound_recalls(hub, binding, probs[outside], features[outside],
                                      [c for c, out in zip(captions, outside) if out]))
    return {w: {k: round(float(np.mean([f[w][k] for f in per_fold])), 3) for k in ("R@1", "R@10")}
            for w in per_fold[0]}


# Few pairs: fewer epochs, more dropout, a narrower map. (Weight decay 1.0 beside 0.05 never helped.)
SOUND_GRID = [Training(epochs=epochs, dropout=dropout, rank=rank, batch=64)
              for epochs in (10, 20, 60) for dropout in (0.1, 0.5, 0.7) for rank in (None, 64)]


def bind_sounds(args: argparse.Namespace, hub: ModelHub, settings: Settings) -> dict:
    dev_folder = args.devsets / "sounds"
    pairs = sound_pairs(args.cache, dev_folder / "files" if dev_folder.is_dir() else None)
    probs, features = sound_features(hub, [p[0] for p in pairs], args.cache / "binding-sounds-features.npz")
    readable = ~np.isnan(features).any(axis=1)
    probs, features = probs[readable], features[readable]
    captions = [p[1] for p, ok in zip(pairs, readable) if ok]
    by_package = {package: sum(str(p[0]).startswith(str(args.cache / package) + "/") for p in pairs)
                  for package in SOUND_PACKAGES}
    print(f"{len(captions)} captioned sounds ({len(set(captions))} captions): {by_package}")
    held = caption_folds(captions, round(1 / HELD_OUT)) == 0  # a tenth of the captions, with all their takes
    trained = np.flatnonzero(~held)
    train_captions = [captions[i] for i in trained]
    targets = hub.text.encode_query(train_captions)
    print("\ncross-validation on the training pairs (R@10 by bound weight; inf: projection alone)")
    tried = {}
    for hyper in SOUND_GRID:
        cv = cross_validate(hub, features[trained], probs[trained], train_captions, targets, hyper)
        tried[hyper] = cv
        print(f"  {hyper}: " + ", ".join(f"{w}: {m['R@10']:.3f}" for w, m in cv.items()))
    # the settings whose best bound weight does best, by R@10 then R@1
    chosen, cv = max(tried.items(), key=lambda kv: max((m["R@10"], m["R@1"]) for w, m in kv[1].items()
                                                       if w != float("inf")))
    weight = max((w for w in cv if w != float("inf")), key=lambda w: (cv[w]["R@10"], cv[w]["R@1"]))
    print(f"chosen: {chosen}, bound weight {weight} (cross-validated R@10 {cv[weight]['R@10']:.3f}, "
          f"ConSE alone {cv[0.0]['R@10']:.3f})")
    started = time.process_time()
    binding = fit(features[trained], targets, chosen)
    seconds = time.process_time() - started
    print(f"trained on {len(trained)} captioned sounds in {seconds:.1f} CPU s; "
          f"weights {binding.weight.nbytes / 1e6:.1f} MB ({binding.weight.shape[0]}x{binding.weight.shape[1]})")
    print("\n| sounds | run | R@1 | R@10 |\n|---|---|---:|---:|")
    queries, relevant = by_caption([captions[i] for i in np.flatnonzero(held)])
    results = {"held-out": report("held-out sounds", hub, binding, weight, probs[held], features[held], queries,
                                  relevant, hub.sound_conse.embed, "sounds")}
    sweeps = {"held-out": bound_recalls(hub, binding, probs[held], features[held],
                                        [captions[i] for i in np.flatnonzero(held)])}
    if (dev_folder / "queries.jsonl").is_file():
        paths, queries, relevant = dev_set(dev_folder, SOUND_SUFFIXES)
        dev_probs, dev_features = sound_features(hub, paths, args.cache / "binding-sounds-dev-features.npz")
        unreadable = np.isnan(dev_features).any(axis=1)  # scored as never found
        dev_probs[unreadable], dev_features[unreadable] = 0.0, 0.0
        results["sounds"] = report("sounds dev set", hub, binding, weight, dev_probs, dev_features, queries,
                                   relevant, hub.sound_conse.embed, "sounds")
        query_vectors = hub.text.encode_query(queries)
        conse, projected = hub.sound_conse.embed(dev_probs), binding.project(dev_features)
        sweeps["sounds"] = {w: recall(query_vectors, relevant, bind(conse, projected, w)) for w in SOUND_WEIGHTS}
    else:
        print("| sounds | not built (bench/devsets.py) | | |")
    print("\nbound weight sweep (R@1 / R@10)\n| set | " + " | ".join(str(w) for w in SOUND_WEIGHTS) + " |")
    for name, sweep in sweeps.items():
        print(f"| {name} | " + " | ".join(f"{sweep[w]['R@1']:.3f} / {sweep[w]['R@10']:.3f}" for w in SOUND_WEIGHTS)
              + " |")
    helps = weight > 0 and sweeps["held-out"][weight]["R@10"] > sweeps["held-out"][0.0]["R@10"]
    print(f"\nrecommended sound_binding_weight: {weight if helps else 0.0}")
    if args.write and helps:
        target = binding_path(settings.sound_model, settings.text_model)
        binding.save(target)
        print(f"wrote {target} ({target.stat().st_size / 1e6:.1f} MB)")
    elif args.write:
        print("not written: the projection does not help the bound result on the held-out sounds")
    return {"train_cpu_s": seconds, "hyper": chosen.__dict__, "weight": weight, "results": results,
            "sweeps": {name: {str(w): m for w, m in sweep.items()} for name, sweep in sweeps.items()}}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--what", choices=("pictures", "sounds", "both"), default="both")
    parser.add_argument("--cache", type=Path, default=BENCH_DIR / "out" / "cache")
    parser.add_argument("--devsets", type=Path, default=BENCH_DIR / "out" / "devsets")
    parser.add_argument("--write", action="store_true", help="store the weights for encoders/binding.py")
    parser.add_argument("--json", type=Path, help="also write the numbers here")
    args = parser.parse_args(argv)
    settings = Settings()
    hub = ModelHub(settings)
    numbers = {}
    if args.what in ("pictures", "both"):
        numbers["pictures"] = bind_pictures(args, hub, settings)
    if args.what in ("sounds", "both"):
        numbers["sounds"] = bind_sounds(args, hub, settings)
    if args.json:
        args.json.write_text(json.dumps(numbers, indent=1, default=str))


if __name__ == "__main__":
    main()
