"""The `documents` dev set: real manuals of several file kinds from Debian documentation packages, each query a
section's heading with its manual's subject ("Debian policy: Cron job file names"), judged at the file and at the
section the heading opens.

- HTML: a seeded sample of the Debian Administrator's Handbook's section pages (`debian-handbook`, en-US).
- EPUB: the Debian Developer's Reference (`developers-reference`).
- plain text: the Debian Policy Manual, its menu sub-policy and the debconf specification (`debian-policy`,
  *.txt.gz unpacked: plain text has no headings for ingestion, so their sections are judged by line range).
- Markdown: pip's topic guides (`python3-pip`), eSpeak NG's guides (`espeak-ng`) and the READMEs of APT, man-db
  and zstd (`.md.gz` unpacked).

No Word, OpenDocument or spreadsheet files: no Debian documentation package here ships a manual in those
formats, and converting HTML to them would test the converter, not real documents.

Sections are found with the ingesters' own parsers (ingest/html.py page_sections, ingest/text.py
markdown_sections, ingest/epub.py places), so a judged section's name is the one its segments carry in the
payload (`section`, or an EPUB's `chapter`). A section is queried when its own text holds at least
MIN_SECTION_WORDS words, its heading is no generic one ("Introduction") and no other section of the set has the
same query. Unlike the FAQ sets, the heading stays in the file, as it does in a user's documents.
"""

from __future__ import annotations

import gzip
import random
import re
import sys
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the ingesters' parsers

from devsets import SEED, MediaSet  # noqa: E402
from faq_to_beir import _GENERIC_HEADINGS, fetch_package  # noqa: E402

MIN_SECTION_WORDS = 80
HANDBOOK_PAGES = 30
QUERIES_PER_FILE = 4  # a page or README gives at most this many queries...
QUERIES_PER_BOOK = 30  # ...a whole book (the EPUB, the policy manual) this many

# "9.1.1. File System Structure", "Chapter 2. Menu Structure", "Appendix A. Foo": the number is no words a
# person types.
_NUMBER = re.compile(r"^\s*(?:(?:Chapter|Appendix)\s+)?(?:\d+|[A-Z])(?:\.\d+)*\.?\s+(?=\S)")
# A numbered heading line of a DocBook or Sphinx text rendering (no list bullet before it).
_TEXT_HEADING = re.compile(r"^\s*(\*\s+)?(?:Chapter\s+)?(\d+(?:\.\d+)*)\.\s+(\S.{0,100})$")


@dataclass(frozen=True)
class Candidate:
    """A section that may be queried: its file, the heading as the payload names it, and its words."""

    source: Path
    original: str  # where it came from, for the opaque file name
    subject: str
    heading: str  # the payload's section (or chapter) name
    words: int
    lines: tuple[int, int] | None = None  # 1-based first and last line, for plain text (no headings there)
    suffix: str | None = None  # the file's suffix when the source's is not its kind's (.txt.gz -> .txt)


def bare_heading(heading: str) -> str:
    """A heading without its section number or a trailing colon: "9.1.1. File System Structure" -> "File System
    Structure"."""
    return " ".join(_NUMBER.sub("", heading).split()).rstrip(":").strip()


def subject_query(subject: str, heading: str) -> str:
    """"Debian policy: Cron jobs"; the heading alone when it names the subject already."""
    bare = bare_heading(heading)
    return bare if subject.lower() in bare.lower() else f"{subject}: {bare}"


def queryable(heading: str | None, words: int) -> bool:
    if not heading:
        return False
    bare = bare_heading(heading).lower().rstrip(".?")
    return words >= MIN_SECTION_WORDS and len(bare) >= 3 and bare not in _GENERIC_HEADINGS


def text_sections(lines: list[str]) -> list[tuple[str, int, int]]:
    """(heading, first line, last line) of a text rendering's numbered sections, lines 1-based, from the heading
    line (a hit that reaches it opens the reader at the section) to the line before the next heading. A heading is a numbered line whose number and title occur at least twice (the table of contents and
    the heading itself, a bulleted entry in a Sphinx rendering's contents); the last unbulleted occurrence is the
    heading, so a numbered list item is no heading."""
    found: dict[tuple[str, str], list[int]] = {}
    for n, line in enumerate(lines):
        match = _TEXT_HEADING.match(line.replace("\xa0", " "))
        if match:
            key = (match.group(2), " ".join(match.group(3).split()))
            found.setdefault(key, []).append(-1 if match.group(1) else n)
    starts = sorted((at[-1], f"{number}. {title}") for (number, title), at in found.items()
                    if len(at) >= 2 and at[-1] >= 0)
    sections = []
    for i, (start, heading) in enumerate(starts):
        end = starts[i + 1][0] if i + 1 < len(starts) else len(lines)
        body = start + 1
        while body < end and re.fullmatch(r"\s*[-=*~^\"#]*\s*", lines[body]):  # blank lines and underlines
            body += 1
        if body < end:  # a heading with text under it
            sections.append((heading, start + 1, end))
    return sections


def _words(text: str) -> int:
    return len(text.split())


# --------------------------------------------------------------------------- each kind's sections


def html_candidates(page: Path, subject: str, original: str) -> list[Candidate]:
    from ingest.html import page_sections, parse_page

    root, _ = parse_page(page.read_bytes())
    return [Candidate(page, original, subject, s.title, _words(s.text())) for s in page_sections(root) if s.title]


def markdown_candidates(source: Path, subject: str, original: str) -> list[Candidate]:
    from ingest.text import markdown_sections

    text = _read(source)
    lines = text.split("\n")
    suffix = ".md" if source.name.endswith(".gz") else None
    return [Candidate(source, original, subject, s.title, _words("\n".join(lines[s.start + 1 : s.end])),
                      suffix=suffix) for s in markdown_sections(text, len(lines)) if s.title]


def plain_text_candidates(source: Path, subject: str, original: str) -> list[Candidate]:
    lines = _read(source).split("\n")
    return [Candidate(source, original, subject, heading, _words("\n".join(lines[first : last])),
                      lines=(first, last), suffix=".txt") for heading, first, last in text_sections(lines)]


def epub_candidates(book: Path, subject: str, original: str) -> list[Candidate]:
    """An EPUB's sections as ingestion places its pages: each page lies in the deepest TOC entry that starts on or
    before it (an entry that starts on the same page as a later one owns no page, so it is not queried)."""
    import pymupdf

    from ingest.epub import places

    with pymupdf.open(book, filetype="epub") as doc:
        toc = sorted(((level, " ".join(str(title).split()), page) for level, title, page, *_ in doc.get_toc()
                      if page and page > 0 and str(title).strip()), key=lambda e: e[2])
        words: Counter[str] = Counter()
        for index, (chapter, section) in enumerate(places(toc, doc.page_count)):
            if section or chapter:
                words[section or chapter] += _words(doc.load_page(index).get_text("text"))
    return [Candidate(book, original, subject, heading, count) for heading, count in words.items()]


def _read(path: Path) -> str:
    data = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    return data.decode("utf-8")


# --------------------------------------------------------------------------- the set


def pick(candidates: list[Candidate], seed: int = SEED) -> list[Candidate]:
    """The queried sections: queryable ones whose query no other section of the set shares, at most
    QUERIES_PER_FILE of a page (QUERIES_PER_BOOK of an EPUB or the policy manual), sampled with a fixed seed."""
    good = [c for c in candidates if queryable(c.heading, c.words)]
    counts = Counter(subject_query(c.subject, c.heading).lower() for c in candidates if c.heading)
    good = [c for c in good if counts[subject_query(c.subject, c.heading).lower()] == 1]
    by_file: dict[str, list[Candidate]] = {}
    for c in good:
        by_file.setdefault(c.original, []).append(c)
    rng = random.Random(seed)
    picked = []
    for original in sorted(by_file):
        items = by_file[original]
        cap = QUERIES_PER_BOOK if items[0].source.suffix == ".epub" or len(items) > 100 else QUERIES_PER_FILE
        picked.extend(sorted(rng.sample(items, min(cap, len(items))), key=items.index))
    return picked


def document_candidates(cache: Path, seed: int = SEED) -> tuple[list[Candidate], list[tuple[Path, str, str | None]]]:
    """Every section of the set's files, and the files themselves (source, original name, suffix)."""
    candidates: list[Candidate] = []
    files: list[tuple[Path, str, str | None]] = []

    def add(found: Iterable[Candidate], source: Path, original: str, suffix: str | None = None) -> None:
        candidates.extend(found)
        files.append((source, original, suffix))

    handbook = fetch_package("debian-handbook", cache) / "usr/share/doc/debian-handbook/html/en-US"
    pages = sorted(handbook.glob("sect.*.html"))
    for page in sorted(random.Random(seed).sample(pages, min(HANDBOOK_PAGES, len(pages)))):
        add(html_candidates(page, "Debian", f"handbook/{page.name}"), page, f"handbook/{page.name}")

    reference = fetch_package("developers-reference", cache) / "usr/share/developers-reference"
    book = reference / "developers-reference.epub"
    add(epub_candidates(book, "Debian developers", "developers-reference.epub"), book, "developers-reference.epub")

    policy = fetch_package("debian-policy", cache) / "usr/share/doc/debian-policy"
    for name, subject in (("policy.txt.gz", "Debian policy"), ("menu-policy.txt.gz", "Debian menu policy"),
                          ("debconf_specification.txt.gz", "debconf")):
        add(plain_text_candidates(policy / name, subject, f"policy/{name}"), policy / name, f"policy/{name}", ".txt")

    markdown: list[tuple[Path, str]] = []
    pip_topics = fetch_package("python3-pip", cache) / "usr/share/doc/python3-pip/html/topics"
    markdown += [(p, "pip") for p in sorted(pip_topics.glob("*.md*"))]
    espeak = fetch_package("espeak-ng", cache) / "usr/share/doc/espeak-ng/docs"
    markdown += [(espeak / f, "eSpeak NG") for f in ("voices.md.gz", "dictionary.md.gz", "building.md.gz",
                                                     "add_language.md.gz", "mbrola.md.gz") if (espeak / f).is_file()]
    for package, subject in (("apt", "APT"), ("man-db", "man-db"), ("zstd", "zstd")):
        readme = fetch_package(package, cache) / f"usr/share/doc/{package}/README.md.gz"
        if readme.is_file():
            markdown.append((readme, subject))
    for source, subject in markdown:
        original = f"{subject}/{source.name}"
        add(markdown_candidates(source, subject, original), source, original,
            ".md" if source.name.endswith(".gz") else None)
    return candidates, files


def build_documents(dest: Path, cache: Path, seed: int = SEED) -> Path:
    import tempfile

    candidates, files = document_candidates(cache, seed)
    media = MediaSet("documents")
    with tempfile.TemporaryDirectory(prefix="omnidex-documents-") as tmp:
        names: dict[str, str] = {}
        for source, original, suffix in files:
            if source.suffix == ".gz":  # the text as the package's reader sees it (zless), not its gzip
                plain = Path(tmp) / f"{len(names)}{suffix}"
                plain.write_bytes(gzip.decompress(source.read_bytes()))
                source = plain
            names[original] = media.add_file(source, original, suffix)
        for c in pick(candidates, seed):
            media.judge_section(subject_query(c.subject, c.heading), names[c.original], c.heading, c.lines)
        return media.write(dest)
