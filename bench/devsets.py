"""Build media dev sets from real labelled material in Debian packages, to tune retrieval on.

    .venv/bin/python bench/devsets.py [--out bench/out/devsets] [--cache bench/out/cache] [--sets clipart sounds ...]

Each set is a BEIR-like folder that `omnidex eval` and bench/bench_quality.py read:

    SET/files/            the media, under opaque names (sha1 of the original path + suffix)
    SET/corpus.jsonl      one row per file: {"_id": <file name in files/>, "text": ""}
    SET/queries.jsonl     {"_id", "text"}
    SET/qrels/test.tsv    query-id, corpus-id (a file name), score

File names say nothing about their content, so only what ingestion sees (pixels, sound,
speech) can find a file. Packages are fetched with `apt-get download` and unpacked with
`dpkg-deb -x` into the cache; nothing fetched is committed. Sets:

- clipart: ~400 pictures of `openclipart-png`, sampled across categories with a fixed seed; the
  query is the picture's title (its SVG twin's dc:title, or the file name without the author).
- ktuberling: pictures of named objects cut out of `ktuberling-data`'s playgrounds and the
  English recordings that say those names; a query (the object's name) finds both.
- sounds: event and effect sounds with descriptive names (`sound-theme-freedesktop`,
  `wesnoth-1.16-data`, `pingus-data`); queries are short descriptions written from the names.
- speech: ~120 Debian FAQ sentences spoken by espeak-ng at 8 kHz like phone prompts; queries are
  4 consecutive words of one recording, a quarter of them mostly stop words ("for trying out the").
- documents: manuals as HTML, EPUB, plain text and Markdown (bench/documents.py), each query a section's
  heading with its manual's subject, judged at the file and at the section (qrels/sections.tsv).

Never Tux Paint, GCompris, Asterisk or perl-doc material: those are held back for checking.
The long-answer text FAQ (Python FAQ) lives in bench/faq_to_beir.py with the other FAQs.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import re
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ElementTree
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

from faq_to_beir import DEFAULT_CACHE, clean_text, debian_faq_sections, fetch_package  # noqa: E402

DEFAULT_OUT = BENCH_DIR / "out" / "devsets"
SECTIONS_TSV = "sections.tsv"  # must match omnidex/evaluation.py SECTIONS
SEED = 13


# --------------------------------------------------------------------------- writing a set


def opaque_name(original: str, suffix: str) -> str:
    """A file name that gives nothing away but is stable across rebuilds (same source, same name)."""
    return hashlib.sha1(original.encode()).hexdigest()[:16] + suffix.lower()


@dataclass
class MediaSet:
    """Files, queries and judgements of one dev set, written out by `write`."""

    name: str
    files: dict[str, Path] = field(default_factory=dict)  # opaque name -> source file (or made file)
    queries: dict[str, str] = field(default_factory=dict)  # query text -> query id
    qrels: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    # query id -> (file name, section name, (first, last) line or None): where in the file the answer is
    sections: dict[str, list[tuple[str, str, tuple[int, int] | None]]] = field(
        default_factory=lambda: defaultdict(list))

    def add_file(self, source: Path, original: str, suffix: str | None = None) -> str:
        name = opaque_name(f"{self.name}/{original}", suffix or source.suffix)
        self.files[name] = source
        return name

    def judge(self, query: str, file_name: str) -> None:
        """`file_name` answers `query`; the same query text twice is one query with several answers."""
        query = " ".join(query.split())
        query_id = self.queries.setdefault(query, f"{self.name}-q{len(self.queries) + 1}")
        self.qrels[query_id].add(file_name)

    def judge_section(self, query: str, file_name: str, section: str, lines: tuple[int, int] | None = None) -> None:
        """`file_name` answers `query` in `section` (as its segments' payload names it) or, for a file without
        headings, in `lines`; written to qrels/sections.tsv (omnidex/evaluation.py scores it)."""
        self.judge(query, file_name)
        self.sections[self.queries[" ".join(query.split())]].append((file_name, section, lines))

    def write(self, dest: Path) -> Path:
        folder = dest / self.name
        shutil.rmtree(folder, ignore_errors=True)
        (folder / "files").mkdir(parents=True)
        (folder / "qrels").mkdir()
        for name, source in sorted(self.files.items()):
            shutil.copyfile(source, folder / "files" / name)
        _write_jsonl(folder / "corpus.jsonl", [{"_id": name, "text": ""} for name in sorted(self.files)])
        _write_jsonl(folder / "queries.jsonl", [{"_id": qid, "text": text} for text, qid in self.queries.items()])
        with open(folder / "qrels" / "test.tsv", "w", encoding="utf-8") as out:
            out.write("query-id\tcorpus-id\tscore\n")
            for qid in self.queries.values():
                out.writelines(f"{qid}\t{name}\t1\n" for name in sorted(self.qrels[qid]))
        if self.sections:
            with open(folder / "qrels" / SECTIONS_TSV, "w", encoding="utf-8") as out:
                out.write("query-id\tcorpus-id\tsection\tline-start\tline-end\n")
                for qid, judged in self.sections.items():
                    for name, section, lines in judged:
                        first, last = lines or ("", "")
                        out.write(f"{qid}\t{name}\t{' '.join(section.split())}\t{first}\t{last}\n")
        return folder


def _write_jsonl(path: Path, rows: list[dict[str, str]]) -> None:
    with open(path, "w", encoding="utf-8") as out:
        out.writelines(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)


def _run(*cmd: str) -> None:
    if shutil.which(cmd[0]) is None:
        raise FileNotFoundError(f"{cmd[0]} is needed to build the dev sets: apt-get install {cmd[0]}")
    subprocess.run(cmd, check=True, capture_output=True)


def english_words(cache: Path) -> tuple[frozenset[str], frozenset[str]]:
    """(all words, names) of Debian's American English word list, lowercased: titles must be words a
    person would type; a name ("Brazil", "Michigan") takes no article."""
    root = fetch_package("wamerican", cache)
    words = [w for w in (root / "usr" / "share" / "dict" / "american-english").read_text(encoding="utf-8").split()
             if "'" not in w]
    common = {w for w in words if w.islower()}
    return frozenset(w.lower() for w in words), frozenset(w.lower() for w in words if w[0].isupper()) - common


def with_article(title: str, names: frozenset[str] = frozenset()) -> str:
    """"red apple" -> "a red apple": queries read like captions; plurals and named things stay bare."""
    first = title.split()[0].lower()
    if first in {"a", "an", "the", "some", "two", "three", "four"} or first.isdigit() or first in names:
        return title
    last = title.split()[-1].lower()
    if last.endswith("s") and not last.endswith(("ss", "us", "is")):
        return title
    return f"{'an' if first[0] in 'aeiou' else 'a'} {title}"


# --------------------------------------------------------------------------- clip-art (openclipart)

# Folders of near-identical pictures (icon themes, card decks, star and jigsaw sets, gradients): their
# titles name a set, not what is drawn, so they would make queries nobody can answer.
CLIPART_SKIP = ("computer/icons", "shapes/stars", "shapes/jigsaw", "special", "recreation/games/cards",
                "people/stickmen", "signs_and_symbols/led", "signs_and_symbols/flags/semaphore", "unsorted")
# Folders whose pictures a person names by what they are for, not only what the file says.
CLIPART_CAPTIONS = {"flags": "the flag of {}", "roadsigns": "a road sign: {}", "weather": "a weather symbol: {}",
                    "map_symbols": "a map symbol: {}"}
_GENERIC_TITLE = re.compile(r"clip ?art|collection|theme|library|symbol signs|untitled|part of|^card$|^icon$|hash\(",
                            re.IGNORECASE)
# Names of icon sets that prefix file names ("etiquette_laptop", "bb_home"): not what is drawn.
_SET_NAMES = frozenset({"etiquette", "bb", "gg", "lemon"})
_SHORT_WORDS = frozenset({"a", "an", "of", "on", "in", "to", "up", "tv", "cd", "dvd", "pc", "ox"})


def _svg_metadata(svg: Path) -> tuple[str, str]:
    """(title, creator) from the SVG's RDF metadata; empty strings when absent."""
    try:
        text = svg.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "", ""
    block = re.search(r"<metadata.*?</metadata>", text, re.DOTALL)
    if not block:
        return "", ""
    titles = re.findall(r"<dc:title>([^<]*)</dc:title>", block.group(0))
    creator = re.search(r"<dc:creator>.*?<dc:title>([^<]*)</dc:title>", block.group(0), re.DOTALL)
    return (titles[0].strip() if titles else ""), (creator.group(1).strip() if creator else "")


def _name_words(stem: str) -> list[str]:
    """File-name words: split at _ - . and camelCase; trailing counters ("01", "01r") dropped."""
    stem = re.sub(r"([a-z])([A-Z])", r"\1 \2", stem)
    words = [w for w in re.split(r"[_\-.+\s]+", stem.lower()) if w and w not in _SET_NAMES]
    while words and re.fullmatch(r"\d*r?|\d+[a-z]?", words[-1]):
        words.pop()
    return words


def _strip_author(words: list[str], creator: str) -> list[str]:
    """Drop the author's name from the end of the words; openclipart cut names to 24 characters, so a
    trailing fragment ("gerh") of the author's last word counts too."""
    author = [w for w in re.split(r"[^a-z]+", creator.lower()) if w]
    if not author:
        return words
    kept = list(words)
    while kept and any(a == kept[-1] or (len(kept[-1]) >= 2 and a.startswith(kept[-1])) for a in author):
        kept.pop()
    return kept


def clipart_title(png: Path, svg: Path, dictionary: frozenset[str]) -> str | None:
    """What the picture shows, in English words; None when neither metadata nor file name says so."""
    meta_title, creator = _svg_metadata(svg)
    from_name = _strip_author(_name_words(png.stem), creator)
    candidates = []
    meta_words = _name_words(meta_title)
    if meta_words and not _GENERIC_TITLE.search(meta_title) and set(meta_words) & set(from_name):
        candidates.append(meta_words)
    candidates.append(from_name)
    for words in candidates:
        if (1 <= len(words) <= 6 and all(w in dictionary and (len(w) > 2 or w in _SHORT_WORDS) for w in words)
                and any(len(w) > 2 for w in words)):
            return " ".join(words)
    return None


def build_clipart(dest: Path, cache: Path, size: int = 400, seed: int = SEED) -> Path:
    png_root = fetch_package("openclipart-png", cache) / "usr" / "share" / "openclipart" / "png"
    svg_root = fetch_package("openclipart-svg", cache) / "usr" / "share" / "openclipart" / "svg"
    dictionary, names = english_words(cache)
    by_folder: dict[str, list[tuple[Path, str]]] = defaultdict(list)
    for png in sorted(png_root.rglob("*.png")):
        rel = png.relative_to(png_root)
        if any(rel.as_posix().startswith(skip + "/") for skip in CLIPART_SKIP) or png.stem.endswith("_bw"):
            continue
        title = clipart_title(png, svg_root / rel.with_suffix(".svg"), dictionary)
        if title is None:
            continue
        template = next((CLIPART_CAPTIONS[part] for part in rel.parent.parts if part in CLIPART_CAPTIONS), None)
        caption = template.format(title) if template else with_article(title, names)
        by_folder["/".join(rel.parts[:2])].append((png, caption))
    rng = random.Random(seed)
    for items in by_folder.values():
        rng.shuffle(items)
    # Round-robin over folders so small categories (plants, letters, signs) are not drowned by big ones.
    picked: list[tuple[Path, str]] = []
    queues = [by_folder[k] for k in sorted(by_folder)]
    while len(picked) < size and any(queues):
        for queue in queues:
            if queue and len(picked) < size:
                picked.append(queue.pop())
    media = MediaSet("clipart")
    for png, caption in picked:
        media.judge(caption, media.add_file(png, png.relative_to(png_root).as_posix()))
    return media.write(dest)


# --------------------------------------------------------------------------- named objects (KTuberling)

# Playgrounds whose objects are named in English recordings (sounds/en) or plainly (christmas).
KTUBERLING_THEMES = ("default_theme", "egypt", "moon", "pizzeria", "train_valley", "christmas")
_THEME_PREFIXES = ("egypt_", "moon_", "tv_", "pizzeria_", "xmas_")
# Sound names run words together or misspell them; what a person would type instead.
KTUBERLING_WORDS = {"sphynx": "sphinx", "broccolli": "broccoli", "fallingstar": "falling star",
                    "palmtree": "palm tree", "moonwalker": "moon walker", "fireengine": "fire engine",
                    "volley net": "volleyball net", "lorry tractor": "tractor unit"}


def ktuberling_label(sound: str) -> str:
    """"egypt_palmtree" -> "palm tree": the object's name without its playground."""
    for prefix in _THEME_PREFIXES:
        sound = sound.removeprefix(prefix)
    label = sound.replace("_", " ")
    return KTUBERLING_WORDS.get(label, label)


def _render_object(rsvg: Path, svg: Path, object_id: str, target: Path, side: int = 384) -> bool:
    """One object of a playground as a picture on white, cropped to what it draws; False if it draws nothing.

    Objects differ tenfold in size across playgrounds, so a small one is drawn again at a larger zoom."""
    from PIL import Image

    zoom = 3.0
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "object.png"
        for _ in range(2):
            done = subprocess.run([str(rsvg), "-i", object_id, "-z", f"{zoom:g}", "-f", "png", "-o", str(raw),
                                   str(svg)], capture_output=True)
            if done.returncode != 0 or not raw.is_file():
                return False
            with Image.open(raw) as image:
                rgba = image.convert("RGBA")
            box = rgba.getchannel("A").getbbox()
            if box is None:
                return False
            drawn = max(box[2] - box[0], box[3] - box[1])
            if drawn >= side * 0.6:
                break
            # Capped so an object whose box is far larger than what it draws stays a modest canvas.
            zoom *= min(8.0, side / max(drawn, 1), 4000 / max(rgba.size))
    if min(box[2] - box[0], box[3] - box[1]) < 8:
        return False
    rgba = rgba.crop(box)
    rgba.thumbnail((side, side))
    picture = Image.new("RGB", (rgba.width + 16, rgba.height + 16), "white")
    picture.paste(rgba, (8, 8), rgba)
    picture.save(target)
    return True


def build_ktuberling(dest: Path, cache: Path) -> Path:
    share = fetch_package("ktuberling-data", cache) / "usr" / "share" / "ktuberling"
    rsvg = fetch_package("librsvg2-bin", cache) / "usr" / "bin" / "rsvg-convert"
    recordings = {el.get("name"): share / "sounds" / el.get("file")
                  for el in ElementTree.parse(share / "sounds" / "en.soundtheme").getroot().iter("sound")}
    media = MediaSet("ktuberling")
    with tempfile.TemporaryDirectory(prefix="omnidex-ktuberling-") as tmp:
        made = Path(tmp)
        for theme in KTUBERLING_THEMES:
            playground = ElementTree.parse(share / "pics" / f"{theme}.theme").getroot()
            board = share / "pics" / playground.get("gameboard")
            svg = made / f"{theme}.svg"
            if board.suffix == ".svgz":
                _run("sh", "-c", f"gunzip -c '{board}' > '{svg}'")
            else:
                shutil.copyfile(board, svg)
            first_of_sound: dict[str, str] = {}
            for obj in playground.iter("object"):
                if obj.get("sound") and obj.get("sound") not in first_of_sound:
                    first_of_sound[obj.get("sound")] = obj.get("name")
            for sound, object_id in first_of_sound.items():
                label = ktuberling_label(sound)
                if "tux" in label.split():
                    continue
                picture = made / f"{theme}-{object_id}.png"
                if not _render_object(rsvg, svg, object_id, picture):
                    print(f"ktuberling: {theme}/{object_id} draws nothing", file=sys.stderr)
                    continue
                query = with_article(label)
                media.judge(query, media.add_file(picture, f"{theme}/{object_id}"))
                if sound in recordings and recordings[sound].is_file():
                    media.judge(query, media.add_file(recordings[sound], f"en/{sound}"))
        return media.write(dest)


# --------------------------------------------------------------------------- event and effect sounds

FREEDESKTOP_SOUNDS = {
    "alarm-clock-elapsed": ["an alarm clock ringing", "an alarm"],
    "audio-channel-front-center": ["a voice saying front center"],
    "audio-channel-front-left": ["a voice saying front left"],
    "audio-channel-front-right": ["a voice saying front right"],
    "audio-channel-rear-center": ["a voice saying rear center"],
    "audio-channel-rear-left": ["a voice saying rear left"],
    "audio-channel-rear-right": ["a voice saying rear right"],
    "audio-channel-side-left": ["a voice saying side left"],
    "audio-channel-side-right": ["a voice saying side right"],
    "audio-test-signal": ["a noise test signal"],
    "audio-volume-change": ["a short click when the volume changes"],
    "bell": ["a bell", "the sound of a bell ringing"],
    "camera-shutter": ["a camera shutter clicking", "taking a photo"],
    "complete": ["a chime when a task is complete"],
    "device-added": ["a sound when a device is plugged in"],
    "device-removed": ["a sound when a device is removed"],
    "dialog-information": ["an information chime"],
    "dialog-warning": ["a warning sound"],
    "message": ["a message notification"],
    "message-new-instant": ["a new instant message notification"],
    "phone-incoming-call": ["a telephone ringing", "an incoming phone call"],
    "phone-outgoing-busy": ["a busy signal on the telephone"],
    "phone-outgoing-calling": ["a telephone ringing tone while calling someone"],
    "power-plug": ["a sound when the power cable is plugged in"],
    "power-unplug": ["a sound when the power cable is unplugged"],
    "screen-capture": ["a camera click for a screenshot"],
    "service-login": ["a welcome sound when logging in"],
    "service-logout": ["a sound when logging out"],
    "suspend-error": ["an error sound"],
    "trash-empty": ["emptying the trash", "crumpling paper"],
}

# Wesnoth's unit and ambient sounds (sounds/<name>), one take each, named for what makes the sound.
WESNOTH_SOUNDS = {
    "wolf-growl-1": ["a wolf growling", "the sound of a wolf"],
    "wolf-die-1": ["a dying wolf whimpering"],
    "bat-flapping": ["bat wings flapping", "flapping wings"],
    "horse-canter": ["a horse cantering", "the hooves of a galloping horse"],
    "horse-die": ["a horse neighing"],
    "gryphon-shriek-1": ["a bird of prey screeching", "a gryphon shrieking"],
    "hiss": ["a snake hissing", "the sound of a snake"],
    "dwarf-laugh": ["a man laughing"],
    "human-female-die-1": ["a woman screaming"],
    "human-die-1": ["a man crying out in pain"],
    "human-old-hit-1": ["an old man grunting"],
    "zombie-attack": ["a zombie moaning"],
    "groan": ["a man groaning"],
    "wail-long": ["a long ghostly wail"],
    "drake-die": ["a dragon roaring"],
    "yeti-die": ["a large beast roaring"],
    "bow": ["an arrow shot from a bow", "a bow and arrow"],
    "crossbow-fire": ["a crossbow firing"],
    "sword-1": ["a sword slash", "the sound of a sword"],
    "axe": ["an axe chopping"],
    "mace": ["a mace striking"],
    "spear": ["a spear thrust"],
    "dagger-swish": ["a dagger swishing through the air"],
    "throwing-knife": ["a thrown knife"],
    "sling": ["a sling throwing a stone"],
    "fist": ["a punch", "someone being punched"],
    "club": ["a wooden club hitting"],
    "flail": ["a flail swinging"],
    "gunshot": ["a gunshot", "the sound of a gun firing"],
    "explosion": ["an explosion", "a loud blast"],
    "thunderstick": ["a musket firing"],
    "fuse": ["a burning fuse"],
    "lightning": ["a lightning strike", "thunder"],
    "flame-big": ["a big burst of flame", "fire"],
    "torch": ["a torch swung through the air"],
    "water-blast": ["a blast of water", "a splash of water"],
    "rumble": ["a deep rumble"],
    "cave-in": ["a cave collapsing", "falling rocks"],
    "open-chest": ["a chest creaking open"],
    "gold": ["coins jingling", "the sound of money"],
    "bite": ["an animal biting"],
    "claws": ["claws scratching"],
    "pincers": ["pincers snapping"],
    "squishy-hit": ["a squishy splat"],
    "mud-glob": ["mud splattering"],
    "heal": ["a healing spell chime"],
    "fanfare-short": ["a short trumpet fanfare"],
    "horn-signals/horn-1": ["a horn signal", "a hunting horn blowing"],
    "ambient/birds1": ["birds singing", "birdsong"],
    "ambient/night": ["crickets chirping at night"],
    "ambient/campfire": ["a crackling campfire"],
    "ambient/ship": ["a creaking ship at sea"],
    "ambient/wardrums": ["war drums beating", "drums"],
    "../../campaigns/World_Conquest/sounds/witches-laugh": ["a witch cackling", "evil laughter"],
}

PINGUS_SOUNDS = {
    "splash": ["a splash"],
    "yipee": ["someone shouting yippee"],
    "ohno": ["a voice saying oh no"],
    "letsgo": ["a voice saying let's go"],
    "goodidea": ["a voice saying good idea"],
    "digger": ["digging"],
    "tick": ["a clock ticking"],
    "chink": ["a metallic clink"],
}


def _find_sound(folder: Path, name: str) -> Path | None:
    for suffix in (".ogg", ".oga", ".wav"):
        path = folder / f"{name}{suffix}"
        if path.is_file():
            return path
    return None


def build_sounds(dest: Path, cache: Path) -> Path:
    freedesktop = fetch_package("sound-theme-freedesktop", cache) / "usr/share/sounds/freedesktop/stereo"
    wesnoth = fetch_package("wesnoth-1.16-data", cache) / "usr/share/games/wesnoth/1.16/data/core/sounds"
    pingus = fetch_package("pingus-data", cache)
    pingus_sounds = next((p.parent for p in pingus.rglob("splash.wav")), pingus)
    media = MediaSet("sounds")
    sources = ((freedesktop, FREEDESKTOP_SOUNDS), (wesnoth, WESNOTH_SOUNDS), (pingus_sounds, PINGUS_SOUNDS))
    for folder, labels in sources:
        for stem, descriptions in labels.items():
            source = _find_sound(folder, stem)
            if source is None:
                print(f"sounds: {stem} not found under {folder}", file=sys.stderr)
                continue
            # .oga is Ogg Vorbis: the same bytes under the suffix ingestion knows.
            name = media.add_file(source, f"{folder.name}/{stem}", ".ogg" if source.suffix == ".oga" else None)
            for description in descriptions:
                media.judge(description, name)
    return media.write(dest)


# --------------------------------------------------------------------------- speech (espeak-ng phone prompts)

SPEECH_VOICES = ("en-us", "en-gb", "en-us+f3", "en-gb-x-rp", "en-gb-scotland", "en-us+m3", "en-029", "en-gb+f2")
PHRASE_WORDS = 4


def _stopwords() -> frozenset[str]:
    sys.path.insert(0, str(BENCH_DIR.parent))
    from encoders.bm25 import STOPWORDS

    return STOPWORDS


def faq_sentences(cache: Path, count: int, seed: int = SEED) -> list[str]:
    """Plain prose sentences of 8-22 words from the Debian FAQ answers (no commands, paths or URLs)."""
    faq_dir = fetch_package("debian-faq", cache) / "usr" / "share" / "doc" / "debian" / "FAQ"
    sentences: list[str] = []
    seen: set[str] = set()
    for section in debian_faq_sections(faq_dir):
        text = " ".join(clean_text(section.text).split())
        for sentence in re.split(r"(?<=[.!?])\s+(?=[A-Z])", text):
            words = sentence.split()
            if not 8 <= len(words) <= 22 or not re.fullmatch(r"[A-Za-z][A-Za-z ,'’-]*[.?!]", sentence):
                continue
            key = sentence.lower()
            if key not in seen:
                seen.add(key)
                sentences.append(sentence.replace("’", "'"))
    random.Random(seed).shuffle(sentences)
    return sentences[:count]


def _phrases(words: list[str]) -> list[tuple[int, str]]:
    """(position, phrase) of every run of PHRASE_WORDS plain words; hyphenated words ("e-mail") are left out
    of phrases because a transcript may write them either way."""
    return [(i, " ".join(words[i : i + PHRASE_WORDS])) for i in range(len(words) - PHRASE_WORDS + 1)
            if all(re.fullmatch(r"[a-z']+", w) for w in words[i : i + PHRASE_WORDS])]


def speak_prompt(text: str, path: Path, voice: str, rate: int = 8000, speed: int = 165) -> Path:
    """espeak-ng reads the text; sox makes it a mono 16-bit wav at the telephone's 8 kHz."""
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "espeak.wav"
        _run("espeak-ng", "-v", voice, "-s", str(speed), "-w", str(raw), text)
        _run("sox", str(raw), "-r", str(rate), "-c", "1", "-b", "16", str(path))
    return path


def build_speech(dest: Path, cache: Path, count: int = 120, seed: int = SEED) -> Path:
    sentences = faq_sentences(cache, count, seed)
    stopwords = _stopwords()
    rng = random.Random(seed)
    word_lists = [[w.strip(",.?!") for w in s.lower().split()] for s in sentences]
    phrase_count: dict[str, int] = defaultdict(int)
    for words in word_lists:
        for phrase in {p for _, p in _phrases(words)}:
            phrase_count[phrase] += 1
    media = MediaSet("speech")
    with tempfile.TemporaryDirectory(prefix="omnidex-speech-") as tmp:
        made = Path(tmp)
        for n, (sentence, words) in enumerate(zip(sentences, word_lists, strict=True)):
            voice = SPEECH_VOICES[n % len(SPEECH_VOICES)]
            audio = speak_prompt(sentence, made / f"{n}.wav", voice, speed=rng.choice((150, 165, 180)))
            name = media.add_file(audio, f"{n}:{sentence}", ".wav")
            unique = [(i, p) for i, p in _phrases(words) if phrase_count[p] == 1]
            if not unique:
                continue
            if n % 4 == 0:  # a lookup of a phrase made mostly of stop words
                _, phrase = max(unique, key=lambda ip: (sum(w in stopwords for w in ip[1].split()), -ip[0]))
            else:
                _, phrase = rng.choice(unique)
            media.judge(phrase, name)
        return media.write(dest)


# --------------------------------------------------------------------------- CLI


def build_documents(dest: Path, cache: Path) -> Path:
    """bench/documents.py's set (imported here: that module builds on MediaSet)."""
    from documents import build_documents as build

    return build(dest, cache)


BUILDERS: dict[str, Callable[[Path, Path], Path]] = {
    "clipart": build_clipart,
    "ktuberling": build_ktuberling,
    "sounds": build_sounds,
    "speech": build_speech,
    "documents": build_documents,
}


def _count_lines(path: Path) -> int:
    with open(path, encoding="utf-8") as handle:
        return sum(1 for line in handle if line.strip())


def main(argv: Iterable[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="destination of the set folders")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help="where the .deb files are kept")
    parser.add_argument("--sets", nargs="+", choices=sorted(BUILDERS), default=list(BUILDERS))
    args = parser.parse_args(list(argv) if argv is not None else None)
    for name in args.sets:
        folder = BUILDERS[name](args.out, args.cache)
        files = sum(1 for _ in (folder / "files").iterdir())
        queries = _count_lines(folder / "queries.jsonl")
        judgements = _count_lines(folder / "qrels" / "test.tsv") - 1
        print(f"{name}: {files} files, {queries} queries, {judgements} judgements -> {folder}")


if __name__ == "__main__":
    main()
