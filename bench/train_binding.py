"""Train the projections that bind pictures and sounds to language (encoders/binding.py) and report what
they add, domain by domain.

    .venv/bin/python bench/train_binding.py [--what pictures|sounds|both] [--cache bench/out/cache] [--write]

The pairs come by domain from bench/domains.py: pictures (photos, clip-art, icons, figures) and sounds (game
and interface effects, real recordings), each domain's training and dev pairs from different packages.
Features: the picture classifier's pooled 1,280 features (OMNIDEX_IMAGE_MODEL), YAMNet's 1,024-d embedding averaged over a file's
audible patches (its first 10 s); targets: the frozen text encoder's query vectors of the captions. A linear
map is trained with a symmetric InfoNCE loss in PyTorch on the CPU.

For every domain it prints text->item R@1/R@10 of ConSE alone, the projection alone and both bound as
ingestion binds them, first with the projection trained on the other domains only (leave one domain out:
the forecast for a kind of collection nobody here has), then trained on every domain (what ships). The
bound weight and the gate's bar (encoders/binding.Familiarity) are the best setting that is at least ConSE
alone on every domain's dev pairs, left out of training and trained on.
`--write` stores the projection trained on every domain, gated, where encoders/binding.py loads it.
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
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR.parent))
sys.path.insert(0, str(BENCH_DIR))
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import devsets  # noqa: E402
import domains  # noqa: E402

from core.config import Settings  # noqa: E402
from encoders.binding import Binding, Familiarity, Training, bind, binding_path, fit  # noqa: E402
from encoders.hub import ModelHub  # noqa: E402
from encoders.image_tagger import FEATURE_DIM  # noqa: E402
from encoders.sound_events import EMBEDDING_DIM, SILENCE_LABEL  # noqa: E402
from ingest.audio import SILENCE_DBFS  # noqa: E402
from ingest.errors import ExtractionError  # noqa: E402
from ingest.image import open_image  # noqa: E402
from ingest.media import audio_blocks  # noqa: E402
from omnidex.evaluation import load_beir  # noqa: E402

PICTURE_SUFFIXES = (".png", ".jpg", ".jpeg")
SOUND_SUFFIXES = (".ogg", ".wav", ".flac", ".mp3", ".oga")
SOUND_SECONDS = 10.0  # of each file: effects are short, and a long file's start says what it is


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


# --------------------------------------------------------------------------- by domain (bench/domains.py)

GATE_WIDTH = 0.02
GATE_BARS = (None, 0.4, 0.5, 0.6, 0.7, 0.8)  # None: no gate (every item the whole weight)
BOUND_WEIGHTS = (0.0, 0.1, 0.25, 0.5, 1.0)  # 0: ConSE alone, what ships when no other weight passes


@dataclass
class Items:
    """One domain's pairs of one role, as the models see them."""

    probs: np.ndarray
    features: np.ndarray
    captions: list[str]


def domain_items(hub: ModelHub, domain: domains.Domain, role: str, cache: Path) -> Items:
    pairs = domains.readable(getattr(domain, role)(cache))
    extract = picture_features if domain.kind == domains.PICTURES else sound_features
    model = hub.settings.image_model if domain.kind == domains.PICTURES else hub.settings.sound_model
    probs, features = extract(hub, [p.path for p in pairs], cache / f"domain-{domain.name}-{role}-{model}-features.npz")
    ok = ~np.isnan(features).any(axis=1)
    return Items(probs[ok], features[ok], [p.caption for p, good in zip(pairs, ok) if good])


def joined(parts: list[Items]) -> Items:
    return Items(np.concatenate([p.probs for p in parts]), np.concatenate([p.features for p in parts]),
                 [c for p in parts for c in p.captions])


def conse_of(hub: ModelHub, kind: str) -> Callable[[np.ndarray], np.ndarray]:
    return hub.image_conse.embed if kind == domains.PICTURES else hub.sound_conse.embed


def scored(hub: ModelHub, kind: str, binding: Binding, train: Items, items: Items) -> dict[str, dict[str, float]]:
    """R@1/R@10 of ConSE alone, the projection alone, and bound at every weight and gate bar."""
    queries, relevant = by_caption(items.captions)
    query_vectors = hub.text.encode_query(queries)
    conse, projected = conse_of(hub, kind)(items.probs), binding.project(items.features)
    rows = {"conse": recall(query_vectors, relevant, conse), "projection": recall(query_vectors, relevant, projected)}
    familiarity = Familiarity.of_training(binding.standardise(train.features), 0.0, GATE_WIDTH)
    closeness = familiarity.closeness(binding.standardise(items.features))
    for bar in GATE_BARS:
        shares = np.ones(len(closeness)) if bar is None else familiarity.with_bar(bar, GATE_WIDTH).share_at(closeness)
        for weight in BOUND_WEIGHTS if bar is None else BOUND_WEIGHTS[1:]:
            rows[f"w{weight}/{bar}"] = recall(query_vectors, relevant, bind(conse, projected, weight * shares))
    rows["closeness"] = {"R@1": float(np.median(closeness)), "R@10": float(np.mean(closeness))}
    return rows


def by_domain(args: argparse.Namespace, hub: ModelHub, kind: str) -> dict:
    """Per domain: trained on every domain's training pairs (in-domain) and on all but its own (leave one
    domain out); scored on its dev pairs."""
    names = [n for n, d in domains.DOMAINS.items() if d.kind == kind]
    train = {n: domain_items(hub, domains.DOMAINS[n], "train", args.cache) for n in names}
    dev = {n: domain_items(hub, domains.DOMAINS[n], "dev", args.cache) for n in names}
    hyper = Training() if kind == domains.PICTURES else Training(epochs=20, dropout=0.7, rank=64, batch=64)
    results: dict[str, dict] = {}
    for held in names:
        others = joined([train[n] for n in names if n != held])
        binding = fit(others.features, hub.text.encode_query(others.captions), hyper)
        results[held] = {"lodo-dev": scored(hub, kind, binding, others, dev[held])}
    everything = joined([train[n] for n in names])
    binding = fit(everything.features, hub.text.encode_query(everything.captions), hyper)
    for name in names:
        results[name]["in-domain-dev"] = scored(hub, kind, binding, everything, dev[name])
    return {"results": results, "binding": binding, "train": everything}


def margin(rows: dict[str, dict[str, float]], setting: str, parts: tuple[str, ...] = ("conse", "projection")) -> float:
    """How far the bound vector stands above the better of its parts, the worse of R@1 and R@10."""
    return min(rows[setting][k] - max(rows[p][k] for p in parts) for k in ("R@1", "R@10"))


DEV_RUNS = ("lodo-dev", "in-domain-dev")


def choose(results: dict) -> str:
    """The weight and gate bar that never subtracts from ConSE: on every domain's dev pairs, with the
    projection trained without that domain and with it, R@1 and R@10 at least ConSE's. Of those, the best
    mean R@10. The dev pairs share no package with any training pair, and the collections held back from
    us judge the choice; without a setting that passes, the one whose worst domain loses least."""
    settings = [k for k in next(iter(results.values()))["lodo-dev"] if k.startswith("w")]

    def worst(setting: str) -> float:
        return round(min(0.0, *(margin(r[run], setting, ("conse",)) for r in results.values() for run in DEV_RUNS)), 3)

    return max(settings, key=lambda k: (worst(k), np.mean([r[run][k]["R@10"] for r in results.values()
                                                           for run in DEV_RUNS])))


def print_domains(kind: str, results: dict, setting: str) -> None:
    """The per-domain table README shows: leave-one-domain-out first, then in-domain."""
    print(f"\n{kind}, bound as {setting} (weight/gate bar); R@1 / R@10 on each domain's dev pairs")
    print("| domain | trained on | ConSE alone | projection alone | bound | bound >= ConSE? | bound >= projection? |")
    print("|---|---|---|---|---|---|---|")
    for run, label in (("lodo-dev", "other domains only"), ("in-domain-dev", "every domain")):
        for name, runs in results.items():
            rows = runs[run]
            cells = " | ".join(f"{rows[k]['R@1']:.3f} / {rows[k]['R@10']:.3f}" for k in ("conse", "projection", setting))
            passes = ["yes" if margin(rows, setting, (part,)) >= -0.005 else "NO" for part in ("conse", "projection")]
            print(f"| {name} | {label} | {cells} | {' | '.join(passes)} |")


def write_binding(kind: str, settings: Settings, outcome: dict, setting: str) -> None:
    """The projection trained on every domain, gated at the chosen bar, where encoders/binding.py loads it."""
    binding, train = outcome["binding"], outcome["train"]
    bar = None if setting.endswith("/None") else float(setting.split("/")[1])
    if bar is not None:
        binding = binding.gated(Familiarity.of_training(binding.standardise(train.features), bar, GATE_WIDTH))
    model = settings.image_model if kind == domains.PICTURES else settings.sound_model
    target = binding_path(model, settings.text_model)
    binding.save(target)
    print(f"wrote {target} ({target.stat().st_size / 1e6:.1f} MB); set the {kind} binding weight to "
          f"{setting.split('/')[0][1:]}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--what", choices=("pictures", "sounds", "both"), default="both")
    parser.add_argument("--cache", type=Path, default=BENCH_DIR / "out" / "cache")
    parser.add_argument("--write", action="store_true", help="store the weights for encoders/binding.py")
    parser.add_argument("--json", type=Path, help="also write the numbers here")
    args = parser.parse_args(argv)
    settings = Settings()
    hub = ModelHub(settings)
    numbers = {}
    for kind in (domains.PICTURES, domains.SOUNDS):
        if args.what not in (kind, "both"):
            continue
        started = time.process_time()
        outcome = by_domain(args, hub, kind)
        setting = choose(outcome["results"])
        print(f"{kind}: {time.process_time() - started:.0f} CPU s; chosen (never below ConSE on a domain's dev "
              f"pairs): {setting}")
        print_domains(kind, outcome["results"], setting)
        numbers[kind] = {"setting": setting, "results": outcome["results"]}
        if args.write:
            write_binding(kind, settings, outcome, setting)
    if args.json:
        args.json.write_text(json.dumps(numbers, indent=1, default=str))


if __name__ == "__main__":
    main()
