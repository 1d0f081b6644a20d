"""Real PDF documents for the first-start demo corpus, tests and benchmarks.

Everything is rendered with PyMuPDF from text that ships with this package or
with Python itself, so generation is deterministic and needs no network.
Text is set in the PDF base-14 Times fonts: they are not embedded (files stay
small) and, unlike shaped fonts, produce no ligature glyphs, so
``page.get_text()`` returns exactly the characters that were written.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import inspect
import io
import math
import operator
import pkgutil
import random
import re
import shutil
import subprocess
import tempfile
import textwrap
import warnings
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import pymupdf

__all__ = ["Needle", "build_sample", "real_text_paragraphs", "synthetic_pdfs", "verify_needles"]

TEXTS_DIR = Path(__file__).parent / "texts"
PAGE_BREAK = "---page---"

# (text file stem, author, creation date) of each demo document, in display order.
DEMO_DOCUMENTS: tuple[tuple[str, str, str], ...] = (
    ("northwind_q3_2026_review", "Northwind Analytics Finance", "D:20261014093000"),
    ("alpine_birds_field_guide", "Alpine Ornithology Circle", "D:20240503161500"),
    ("engineering_onboarding_handbook", "Platform Engineering", "D:20250217110000"),
    ("family_recipe_booklet", "The Moreau Family", "D:20241124184500"),
    ("lisbon_travel_guide", "Wayfarer Guides", "D:20250609080000"),
    ("electric_bus_battery_degradation", "Transit Energy Research Group", "D:20260302143000"),
)
SYNTHETIC_DATE = "D:20250101000000"

# --------------------------------------------------------------------------- rendering

MARGIN = 64.0
LINE_HEIGHT = 1.3


@dataclass(frozen=True)
class _Style:
    font: str
    size: float
    space_before: float
    space_after: float
    indent: float = 0.0
    justify: bool = False


_STYLES = {
    "h1": _Style("tibo", 19, 0, 12),
    "h2": _Style("tibo", 14, 8, 5),
    "h3": _Style("tibo", 11.5, 4, 3),
    "p": _Style("tiro", 11, 0, 7, justify=True),
    "li": _Style("tiro", 11, 0, 3, indent=16, justify=True),
}

Block = tuple[str, str]  # (style name, text)


def _render_page(doc: pymupdf.Document, blocks: Sequence[Block], footer: str) -> None:
    """Lay out blocks top to bottom on a new A4 page; raise if anything does not fit."""
    width, height = pymupdf.paper_size("a4")
    page = doc.new_page(width=width, height=height)
    shape = page.new_shape()  # one content stream per page: much faster than page.insert_* per block
    left, right, bottom = MARGIN, width - MARGIN, height - MARGIN
    y = MARGIN
    for kind, text in blocks:
        style = _STYLES[kind]
        y += style.space_before
        spare = shape.insert_textbox(
            pymupdf.Rect(left + style.indent, y, right, bottom),
            text,
            fontname=style.font,
            fontsize=style.size,
            lineheight=LINE_HEIGHT,
            align=pymupdf.TEXT_ALIGN_JUSTIFY if style.justify else pymupdf.TEXT_ALIGN_LEFT,
        )
        if spare < 0:
            raise OverflowError(f"page {page.number + 1} of {footer!r} overflows at {text[:60]!r}")
        if kind == "li":
            shape.draw_circle((left + 5, y + 0.65 * style.size), 1.6)
            shape.finish(color=None, fill=(0, 0, 0))
        y = bottom - spare + style.space_after
    shape.insert_text((left, bottom + 28), footer, fontname="tiro", fontsize=8, color=(0.4, 0.4, 0.4))
    shape.commit()


def _pdf_bytes(doc: pymupdf.Document, title: str, author: str, date: str) -> bytes:
    """Serialise with fixed metadata and no random file ID, so output is byte-identical."""
    doc.set_metadata({"title": title, "author": author, "creationDate": date, "modDate": date})
    data: bytes = doc.tobytes(garbage=4, deflate=True, no_new_id=True)
    return data


def _write_if_changed(path: Path, data: bytes) -> None:
    """Leave identical files untouched so their mtimes (and any index built on them) stay valid."""
    if not (path.is_file() and path.read_bytes() == data):
        path.write_bytes(data)


def _normalise(text: str) -> str:
    return " ".join(text.split())


# --------------------------------------------------------------------------- demo corpus


def _parse_text(source: str) -> tuple[str, list[list[Block]]]:
    """Split a texts/*.txt file into its title and per-page blocks.

    Format: first line ``# Title``; pages separated by ``---page---`` lines;
    blocks separated by blank lines; ``## `` and ``### `` start headings and
    ``- `` lines are bullet items.
    """
    first_line, _, body = source.partition("\n")
    title = first_line.removeprefix("# ").strip()
    pages: list[list[Block]] = []
    for page_source in re.split(rf"^{PAGE_BREAK}$", body, flags=re.M):
        blocks: list[Block] = [("h1", title)] if not pages else []
        for chunk in re.split(r"\n\s*\n", page_source.strip()):
            lines = chunk.splitlines()
            if chunk.startswith("### "):
                blocks.append(("h3", chunk[4:].strip()))
            elif chunk.startswith("## "):
                blocks.append(("h2", chunk[3:].strip()))
            elif all(line.startswith("- ") for line in lines):
                blocks.extend(("li", line[2:].strip()) for line in lines)
            else:
                blocks.append(("p", _normalise(chunk)))
        pages.append(blocks)
    return title, pages


def _check_extracted(data: bytes, pages: Sequence[Sequence[Block]], name: str) -> None:
    """Re-extract the PDF and confirm every block of every page came out intact."""
    with pymupdf.open(stream=data, filetype="pdf") as doc:
        if doc.page_count != len(pages):
            raise RuntimeError(f"{name}: {doc.page_count} pages rendered, {len(pages)} expected")
        for page, blocks in zip(doc, pages, strict=True):
            extracted = _normalise(page.get_text())
            for _, text in blocks:
                if _normalise(text) not in extracted:
                    raise RuntimeError(f"{name} page {page.number + 1}: text lost: {text[:60]!r}")


def build_sample(dest: Path) -> list[Path]:
    """Write the demo corpus the app indexes on first start (six PDFs, photos, a voice memo); return its paths.

    Files whose bytes are already identical are not rewritten, so calling this
    on every start keeps mtimes stable and does not trigger re-indexing.
    """
    dest.mkdir(parents=True, exist_ok=True)
    paths = []
    for stem, author, date in DEMO_DOCUMENTS:
        title, pages = _parse_text((TEXTS_DIR / f"{stem}.txt").read_text(encoding="utf-8"))
        with pymupdf.open() as doc:
            for number, blocks in enumerate(pages, start=1):
                _render_page(doc, blocks, f"{title}  ·  page {number} of {len(pages)}")
            data = _pdf_bytes(doc, title, author, date)
        _check_extracted(data, pages, stem)
        path = dest / f"{stem}.pdf"
        _write_if_changed(path, data)
        paths.append(path)
    return paths + _demo_photos(dest) + _demo_voice_memo(dest)


# Photos that ship with scikit-image (public domain or freely licensed), when it is installed.
DEMO_PHOTOS = ("coffee", "chelsea", "astronaut", "rocket")
VOICE_MEMO = (
    "Voice memo for the leadership sync. Churn on the Starter plan is still the biggest risk this quarter. "
    "Monthly churn reached four point one percent, and most of it came from small business accounts. "
    "Please bring the onboarding proposal and the pricing options to Thursday's meeting."
)


def _demo_photos(dest: Path) -> list[Path]:
    """A few real photos, so the demo shows image search; skipped without scikit-image."""
    try:
        from PIL import Image
        from skimage import data
    except ImportError:
        return []
    paths = []
    for name in DEMO_PHOTOS:
        buffer = io.BytesIO()
        Image.fromarray(getattr(data, name)()).convert("RGB").save(buffer, format="JPEG", quality=90)
        path = dest / f"{name}.jpg"
        _write_if_changed(path, buffer.getvalue())
        paths.append(path)
    return paths


def _demo_voice_memo(dest: Path) -> list[Path]:
    """A spoken memo made with espeak-ng, so the demo shows jumping to the second; skipped without it."""
    espeak = shutil.which("espeak-ng")
    if espeak is None:
        return []
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "memo.wav"
        result = subprocess.run([espeak, "-v", "en-us", "-s", "150", "-w", str(wav), VOICE_MEMO],
                                capture_output=True, timeout=60)
        if result.returncode != 0 or not wav.exists():
            return []
        path = dest / "voice_memo_churn.wav"
        _write_if_changed(path, wav.read_bytes())
    return [path]


# --------------------------------------------------------------------------- real text

# Standard-library modules (sorted) whose docstrings supply the prose; packages
# are walked recursively. Modules that fail to import on this platform are skipped.
STDLIB_MODULES: tuple[str, ...] = tuple(
    """
    abc argparse array ast asyncio base64 bdb binascii bisect builtins bz2 calendar cmath cmd code
    codecs collections colorsys compileall concurrent configparser contextlib contextvars copy
    copyreg csv ctypes dataclasses datetime dbm decimal difflib dis doctest email enum filecmp
    fileinput fnmatch fractions ftplib functools gc getopt gettext glob graphlib gzip hashlib heapq
    hmac html http imaplib importlib inspect io ipaddress itertools json keyword linecache locale
    logging lzma mailbox marshal math mimetypes mmap modulefinder multiprocessing netrc numbers
    operator optparse os pathlib pdb pickle pickletools pkgutil platform plistlib poplib pprint
    profile pstats py_compile pyclbr pydoc queue quopri random re reprlib runpy sched secrets
    selectors shelve shlex shutil signal site smtplib socket socketserver sqlite3 ssl stat
    statistics string struct subprocess symtable sys sysconfig tabnanny tarfile tempfile textwrap
    threading time timeit token tokenize trace traceback tracemalloc types typing unicodedata
    unittest urllib uuid warnings wave weakref webbrowser wsgiref xml xmlrpc zipapp zipfile
    zipimport zlib zoneinfo
""".split()
)

_TYPOGRAPHY = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u2013": "-", "\u2014": "--"})
_ROLE = re.compile(r":[\w:.-]+:`~?([^`<]*?)(?:\s*<[^>]*>)?`")  # :func:`name <target>` -> name
_SIGNATURE = re.compile(r"^[\w.]+\(.*\)(\s*->.*)?$")
_CODE_PROMPT = (">>>", "...", "$ ")
_TABLE_OR_RULE = re.compile(r"[=+*~^-]{4}|\|")
_BULLET = re.compile(r"^[*-] ")
# *some words* and **strong** -> plain words; leaves *args, a**b and "**" alone
_EMPHASIS = re.compile(r"(?<![\w*])\*{1,2}(\w(?:[^*]*\w)?)\*{1,2}(?![\w*])")
_SENTENCE_END = re.compile(r"[.!?][\"')]*$")


def _import_quietly(name: str) -> ModuleType | None:
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        try:
            return importlib.import_module(name)
        except Exception:  # platform-specific or optional modules
            return None


def _stdlib_modules() -> Iterator[ModuleType]:
    for name in STDLIB_MODULES:
        module = _import_quietly(name)
        if module is None:
            continue
        yield module
        for info in pkgutil.walk_packages(getattr(module, "__path__", []), f"{name}.", onerror=lambda _: None):
            parts = info.name.split(".")
            if not any(part.startswith("_") or part in {"test", "tests"} for part in parts):
                if (submodule := _import_quietly(info.name)) is not None:
                    yield submodule


def _docstrings(module: ModuleType) -> Iterator[str | None]:
    """The module's docstring and those of its own public classes, functions and methods."""
    package = module.__name__.split(".")[0]
    yield inspect.getdoc(module)
    for name, obj in sorted(vars(module).items(), key=operator.itemgetter(0)):
        if name.startswith("_") or not (inspect.isclass(obj) or inspect.isroutine(obj)):
            continue
        home = getattr(obj, "__module__", None) or ""
        if home != package and not home.startswith(f"{package}."):
            continue  # re-exported from elsewhere
        yield inspect.getdoc(obj)
        if inspect.isclass(obj):
            for attr_name, attr in sorted(vars(obj).items(), key=operator.itemgetter(0)):
                if not attr_name.startswith("_") and (
                    callable(attr) or isinstance(attr, (property, classmethod, staticmethod))
                ):
                    yield inspect.getdoc(attr)


def _clean_paragraph(raw: str) -> str | None:
    """One docstring paragraph as a single line of prose, or None if it is code, a table, a signature..."""
    lines = textwrap.dedent(raw.translate(_TYPOGRAPHY)).strip("\n").splitlines()
    if not lines or lines[0][:1].isspace() or _SIGNATURE.match(lines[0].strip()):
        return None
    if len({len(line) - len(line.lstrip()) for line in lines[1:]}) > 1:  # uneven indentation: code or a list
        return None
    if any(line.lstrip().startswith(_CODE_PROMPT) for line in lines):
        return None
    text = _normalise(re.sub(r"(?<=[a-z]-)\n(?=[a-z])", "", "\n".join(lines)))  # re-join words hyphenated at line ends
    if text.endswith("::") or _TABLE_OR_RULE.search(text):
        return None
    text = _normalise(_EMPHASIS.sub(r"\1", _BULLET.sub("", _ROLE.sub(r"\1", text))).replace("`", ""))
    if not ((text[:1].isalnum() or text[:1] in "'\"(") and _SENTENCE_END.search(text)):
        return None
    if not all(c.isprintable() and ord(c) < 256 for c in text):  # must render in base-14 fonts
        return None
    words = text.split()
    if sum(word.strip(".,;:()\"'").isalpha() for word in words) < 0.7 * len(words):
        return None
    return text


@functools.lru_cache(maxsize=1)
def _all_paragraphs() -> tuple[str, ...]:
    from pydoc_data.topics import topics  # the language reference text behind help()

    sources = [doc for module in _stdlib_modules() for doc in _docstrings(module) if doc]
    sources += [topics[key] for key in sorted(topics)]
    unique: dict[str, None] = {}
    for source in sources:
        for raw in re.split(r"\n\s*\n", source):
            if (paragraph := _clean_paragraph(raw)) is not None:
                unique.setdefault(paragraph, None)
    return tuple(unique)


def real_text_paragraphs(min_words: int = 30) -> list[str]:
    """Deduplicated English prose paragraphs from Python's own documentation.

    Available offline on any machine with Python, so tests and benchmarks get a
    real text corpus (e.g. to compare our BM25 with rank-bm25) without data files.
    """
    return [p for p in _all_paragraphs() if len(p.split()) >= min_words]


# --------------------------------------------------------------------------- synthetic corpus


@dataclass(frozen=True)
class Needle:
    """A sentence that occurs on exactly one page of a synthetic corpus: ground truth for retrieval."""

    path: Path
    page: int  # 1-based
    sentence: str


_NEEDLE_TEMPLATES = (
    "The archive of {person} records {count} {item} shipped to {place} in {month}.",
    "In {month}, {person} counted {count} {item} in a warehouse near {place}.",
    "{person} once traded {count} {item} for a ferry ticket to {place}.",
    "A letter from {person} mentions {count} {item} waiting at the harbour of {place}.",
    "By the end of {month}, {person} had repaired {count} {item} for the museum in {place}.",
    "The harbour master of {place} fined {person} for carrying {count} undeclared {item}.",
)
_FIRST_NAMES = (
    "Marta Ingrid Tomasz Amara Kenji Lucia Oskar Priya Dmitri Sofia Emeka Hana Rafael Yusuf Greta "
    "Mateo Aiko Nadia Bruno Leila Anton Zora Felix Ines"
).split()
_SURNAMES = (
    "Okonkwo Lindqvist Kowalski Haddad Tanaka Ferreira Novak Raman Petrov Castellano Adeyemi Sato "
    "Moreau Demir Albrecht Quispe Nakamura Haugen Rossi Mensah Varga Ortiz Kaplan Bianchi"
).split()
_PLACES = (
    "Valparaíso Reykjavík Tromsø Zanzibar Trieste Hobart Mombasa Aarhus Cartagena Tangier Halifax "
    "Nagasaki Odessa Galway Montevideo Bergen Palermo Dakar Riga Macau Cádiz Ushuaia Lamu Stavanger"
).split()
_MATERIALS = "copper brass walnut porcelain pewter linen cedar bronze ivory amber silver oak".split()
_OBJECTS = "lanterns compasses clocks barometers teapots telescopes typewriters bells kettles globes sextants".split()
_MONTHS = "January February March April May June July August September October November December".split()


def _needle_sentences(rng: random.Random) -> Iterator[str]:
    """An endless stream of distinct, specific, made-up sentences."""
    seen: set[str] = set()
    while True:
        sentence = rng.choice(_NEEDLE_TEMPLATES).format(
            person=f"{rng.choice(_FIRST_NAMES)} {rng.choice(_SURNAMES)}",
            count=rng.randint(12, 989),
            item=f"{rng.choice(_MATERIALS)} {rng.choice(_OBJECTS)}",
            place=rng.choice(_PLACES),
            month=rng.choice(_MONTHS),
        )
        if sentence not in seen:
            seen.add(sentence)
            yield sentence


def _paragraph_stream(rng: random.Random) -> Iterator[str]:
    """Real-text paragraphs in an endless sequence of shuffled passes."""
    pool = real_text_paragraphs()
    while True:
        order = list(pool)
        rng.shuffle(order)
        yield from order


_SENTENCE_BREAK = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")


def _page_paragraphs(paragraphs: Iterator[str], needle: str, rng: random.Random) -> list[str]:
    """About 250-400 words of prose with the needle inserted at the sentence break nearest mid-page."""
    limit = 400 - len(needle.split())
    target = rng.randint(250, limit - 40)  # the room left always fits a short (30-40 word) paragraph
    chosen: list[str] = []
    words = 0
    while words < target:
        paragraph = next(paragraphs)
        if words + len(paragraph.split()) <= limit:
            chosen.append(paragraph)
            words += len(paragraph.split())
    breaks = []  # (distance from mid-page in words, paragraph index, sentences before the break)
    seen = 0
    for index, paragraph in enumerate(chosen):
        for cut, sentence in enumerate(_SENTENCE_BREAK.split(paragraph), start=1):
            seen += len(sentence.split())
            breaks.append((abs(seen - words / 2), index, cut))
    _, index, cut = min(breaks)
    sentences = _SENTENCE_BREAK.split(chosen[index])
    chosen[index] = " ".join([*sentences[:cut], needle, *sentences[cut:]])
    return chosen


def synthetic_pdfs(dest: Path, pages: int = 200, pages_per_file: int = 10, seed: int = 0) -> list[Needle]:
    """Write ``pages`` pages of real prose over ceil(pages / pages_per_file) PDFs; return one Needle per page.

    Each needle is a made-up sentence that occurs only on its page, which gives
    retrieval tests and benchmarks exact ground truth at any corpus size. Files
    are written one at a time, so memory stays flat for large corpora.
    Deterministic for a given seed.
    """
    if pages < 0 or pages_per_file < 1:
        raise ValueError(f"need pages >= 0 and pages_per_file >= 1, got {pages} and {pages_per_file}")
    dest.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    paragraphs, sentences = _paragraph_stream(rng), _needle_sentences(rng)
    file_count = math.ceil(pages / pages_per_file)
    needles: list[Needle] = []
    for file_number in range(1, file_count + 1):
        path = dest / f"synthetic_{file_number:05d}.pdf"
        title = f"Synthetic document {file_number} of {file_count}"
        in_file = min(pages_per_file, pages - (file_number - 1) * pages_per_file)
        with pymupdf.open() as doc:
            for page_number in range(1, in_file + 1):
                needle = Needle(path, page_number, next(sentences))
                blocks = [("p", text) for text in _page_paragraphs(paragraphs, needle.sentence, rng)]
                _render_page(doc, blocks, f"{title}  ·  page {page_number} of {in_file}")
                needles.append(needle)
            _write_if_changed(path, _pdf_bytes(doc, title, "Omnidex sample_corpus", SYNTHETIC_DATE))
    verify_needles(needles)
    return needles


def _key(text: str) -> str:
    """First five words: narrows the needles that can start at a given word."""
    return " ".join(text.split(" ", 5)[:5])


def verify_needles(needles: Sequence[Needle]) -> None:
    """Raise ValueError unless each needle sentence occurs exactly once in the corpus, on its own page.

    The corpus is every page of every file the needles point to; text is
    compared as ``page.get_text()`` returns it, with whitespace normalised,
    and occurrences are counted where they start at a word boundary.
    """
    candidates: defaultdict[str, list[Needle]] = defaultdict(list)
    for needle in needles:
        candidates[_key(needle.sentence)].append(needle)
    first_words = {key.split(" ", 1)[0] for key in candidates}
    at_home: Counter[Needle] = Counter()
    problems: list[str] = []
    for path in sorted({needle.path for needle in needles}):
        with pymupdf.open(path) as doc:
            for page in doc:
                text = _normalise(page.get_text())
                for word in re.finditer(r"\S+", text):
                    if word.group() not in first_words:
                        continue
                    for needle in candidates.get(_key(text[word.start() : word.start() + 200]), ()):
                        if not text.startswith(needle.sentence, word.start()):
                            continue
                        if (needle.path, needle.page) == (path, page.number + 1):
                            at_home[needle] += 1
                        else:
                            problems.append(f"{needle.sentence!r} also on {path.name} p.{page.number + 1}")
    problems += [f"{n.sentence!r} found {at_home[n]}x on {n.path.name} p.{n.page}" for n in needles if at_home[n] != 1]
    if problems:
        raise ValueError(f"{len(problems)} needle problems, e.g. " + "; ".join(problems[:5]))
