"""Build BEIR-format retrieval benchmarks from real FAQs shipped as Debian packages.

    .venv/bin/python bench/faq_to_beir.py [--out bench/out/beir] [--cache bench/out/cache]

Why FAQs: every question heading is a natural user query whose single relevant
document is the answer below it, so relevance labels come for free and are not
synthetic. The heading is never part of the indexed text (and corpus titles stay
empty), otherwise retrieval would just be string matching on the question.

- debian-faq: DocBook HTML chapters (package `debian-faq`).
- r-faq: R-FAQ.pdf (package `r-doc-pdf`), split with the PDF outline.
- python-faq: the Python FAQ's Sphinx HTML (package `python3.11-doc`): answers with code (median
  about 100 words).
- shell-faq: the zsh FAQ (`zsh-common`) and the Git FAQ (`git-doc`): long answers with code and
  examples (median about 200 words, up to 1,300), like the perlfaq our held-back check uses.

Long-answer sets (issue 23): manuals cut into sections of about 300 to 1,500 words (subsections merged into
their section until it holds at most 1,500), each queried by a natural query made of the manual's subject and
the section's heading, never by its text. Sections outside that range stay as distractors.

- python-howto: the Python HOWTOs (`python3.11-doc`, howto/*.html): prose with code.
- tool-manuals: the Git User Manual (`git-doc`, user-manual.html) and the Bash Reference Manual (`bash-doc`,
  bashref.html): commands, their options and output.
- debian-reference: the Debian Reference (`debian-reference-en`): prose, shell sessions and package tables.

Packages are fetched with `apt-get download` into the cache folder (once) and
unpacked with `dpkg-deb -x`. Each dataset is written as
DEST/<name>/{corpus.jsonl, queries.jsonl, qrels/test.tsv}.
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import shutil
import subprocess
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

import pymupdf

BENCH_DIR = Path(__file__).resolve().parent
DEFAULT_OUT = BENCH_DIR / "out" / "beir"
DEFAULT_CACHE = BENCH_DIR / "out" / "cache"
MIN_WORDS = 20  # shorter answers are section stubs ("see below"), not answers

DEBIAN_FAQ = "debian-faq"
R_FAQ = "r-faq"
PYTHON_FAQ = "python-faq"
PYTHON_DOC = "python3.11-doc"
SHELL_FAQ = "shell-faq"
PYTHON_HOWTO = "python-howto"
TOOL_MANUALS = "tool-manuals"
DEBIAN_REFERENCE = "debian-reference"
LONG_SETS = (PYTHON_HOWTO, TOOL_MANUALS, DEBIAN_REFERENCE)
LONG_MIN_WORDS = 300  # a long-answer set's queried sections hold this many words...
LONG_MAX_WORDS = 1500  # ...to this many; a section over it is cut into its subsections

# A heading is a question if it has a question mark or opens like one ("How to report a bug").
_QUESTION_START = re.compile(
    r"^\(?(how|why|what|when|where|which|who|whose|is|are|was|were|do|does|did|can|could|"
    r"should|shall|will|would|must|may|might|has|have)\b\)?",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Section:
    """One numbered section of a FAQ: its heading and the text under it (heading excluded)."""

    number: str  # "7.31"; a bare chapter number ("7") for a chapter's introduction
    heading: str  # without the number
    text: str
    corpus_only: bool = False  # chapter intros (their titles are topics, not questions) and distractors
    query: str | None = None  # the query, when it is made from the heading (long-answer sets), not the heading


# --------------------------------------------------------------------------- shared helpers


def is_question(heading: str) -> bool:
    """Whether a heading reads as a question a user would type (else the section is only a distractor)."""
    return "?" in heading or bool(_QUESTION_START.match(heading.strip()))


def clean_text(raw: str) -> str:
    """Collapse runs of spaces per line and drop blank lines, keeping line structure for code and lists."""
    lines = (" ".join(line.split()) for line in raw.split("\n"))
    return "\n".join(line for line in lines if line)


# 'Section 6.1, “How many Debian distributions are there?”' (DocBook) and
# 'Section 7.8 [How do file names work in Windows?], page 30' (texinfo).
_QUOTED_XREF = re.compile(r"(Section\s+\d+(?:\.\d+)*)(?:,\s*\u201c[^\u201d]*\u201d|\s*\[[^\]]*\](?:,\s*page\s+\d+)?)")


def drop_quoted_titles(text: str) -> str:
    """Reduce cross-references to their section number.

    Both FAQs quote the target's question in a cross-reference, which would make the referring
    answer a verbatim match for another query (a quarter of the Debian questions are quoted so).
    """
    return _QUOTED_XREF.sub(r"\1", text)


def word_count(text: str) -> int:
    return len(text.split())


def fetch_package(package: str, cache: Path) -> Path:
    """Download PACKAGE's .deb into CACHE unless already there, unpack it once; returns the unpacked root.

    `apt-get download` needs no root and installs nothing; the cache keeps reruns offline.
    """
    cache.mkdir(parents=True, exist_ok=True)
    debs = sorted(cache.glob(f"{package}_*.deb"), key=lambda p: p.stat().st_mtime)
    if not debs:
        done = subprocess.run(["apt-get", "download", package], cwd=cache, capture_output=True, text=True)
        debs = sorted(cache.glob(f"{package}_*.deb"), key=lambda p: p.stat().st_mtime)
        if done.returncode != 0 or not debs:
            raise RuntimeError(f"apt-get download {package} failed (is the apt index current?): {done.stderr.strip()}")
    deb = debs[-1]
    root = cache / package
    stamp = root / ".unpacked-from"
    if not (stamp.is_file() and stamp.read_text() == deb.name):
        shutil.rmtree(root, ignore_errors=True)
        subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], check=True)
        stamp.write_text(deb.name)
    return root


def _strip_question(section: Section) -> str:
    """Answer text without verbatim repeats of its question, so it never contains its own query.

    Call only for question sections: a topic heading like "dpkg" is an ordinary word of its answer.
    """
    text = section.text.replace(section.heading, " ")
    return text.replace(section.query, " ") if section.query else text


def write_beir(dest: Path, name: str, sections: Iterable[Section]) -> Path:
    """Write one BEIR dataset: every substantial section is a document, every question heading a query.

    Titles are left empty on purpose: the title would be the question itself.
    """
    folder = dest / name
    (folder / "qrels").mkdir(parents=True, exist_ok=True)
    docs: list[dict[str, str]] = []
    queries: list[dict[str, str]] = []
    qrels: list[tuple[str, str]] = []
    seen: set[str] = set()
    for section in sections:
        queryable = not section.corpus_only and (section.query is not None or is_question(section.heading))
        text = clean_text(_strip_question(section) if queryable else section.text)
        if word_count(text) < MIN_WORDS:
            continue
        doc_id = f"{name}-{section.number}"
        if doc_id in seen:
            raise ValueError(f"duplicate section number {section.number} in {name}")
        seen.add(doc_id)
        docs.append({"_id": doc_id, "title": "", "text": text})
        if queryable:
            query_id = f"{name}-q{section.number}"
            queries.append({"_id": query_id, "text": section.query or section.heading})
            qrels.append((query_id, doc_id))
    _write_jsonl(folder / "corpus.jsonl", docs)
    _write_jsonl(folder / "queries.jsonl", queries)
    with open(folder / "qrels" / "test.tsv", "w", encoding="utf-8") as out:
        out.write("query-id\tcorpus-id\tscore\n")
        out.writelines(f"{query_id}\t{doc_id}\t1\n" for query_id, doc_id in qrels)
    return folder


def _write_jsonl(path: Path, rows: list[dict[str, str]]) -> None:
    with open(path, "w", encoding="utf-8") as out:
        out.writelines(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)


# --------------------------------------------------------------------------- Debian FAQ (HTML)

# "Chapter 3. Choosing a Debian distribution", "3.1.12. I am currently tracking testing ..."
_HTML_HEADING = re.compile(r"^(Chapter\s+)?(\d+(?:\.\d+)*)\.?\s+(.+)$", re.DOTALL)
_BLOCK_TAGS = {"p", "pre", "div", "li", "dt", "dd", "tr", "table", "blockquote", "br", "ul", "ol", "dl"}
_HEADING_TAGS = {"h1", "h2", "h3", "h4", "h5", "h6"}


class _DocBookSections(HTMLParser):
    """Split a DocBook chapter page at every numbered heading; navigation bars and the TOC are skipped.

    Un-numbered headings (admonitions such as "Note") stay part of the text.
    """

    SKIP_CLASSES = {"navheader", "navfooter", "toc"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.sections: list[Section] = []
        self._current: tuple[str, str, bool] | None = None  # (number, heading, corpus_only)
        self._body: list[str] = []
        self._heading: list[str] | None = None
        self._div_depth = 0
        self._skip_at: int | None = None
        self._in_pre = 0
        self._xref: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "div":
            self._div_depth += 1
            classes = set((dict(attrs).get("class") or "").split())
            if self._skip_at is None and classes & self.SKIP_CLASSES:
                self._skip_at = self._div_depth
        if self._skip_at is not None:
            return
        if tag in _HEADING_TAGS:
            self._heading = []
        elif tag == "a" and "xref" in (dict(attrs).get("class") or "").split():
            self._xref = []
        elif tag == "pre":
            self._in_pre += 1
        if tag in _BLOCK_TAGS:
            self._body.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag == "div":
            if self._skip_at == self._div_depth:
                self._skip_at = None
                self._div_depth -= 1
                return
            self._div_depth -= 1
        if self._skip_at is not None:
            return
        if tag in _HEADING_TAGS and self._heading is not None:
            self._end_heading(tag)
        elif tag == "a" and self._xref is not None:
            self._body.append(drop_quoted_titles(" ".join("".join(self._xref).split())))
            self._xref = None
        elif tag == "pre":
            self._in_pre -= 1
        if tag in _BLOCK_TAGS:
            self._body.append("\n")

    def handle_data(self, data: str) -> None:
        if self._skip_at is not None:
            return
        if self._heading is not None:
            self._heading.append(data)
        elif self._xref is not None:
            self._xref.append(data)
        else:
            self._body.append(data if self._in_pre else re.sub(r"\s+", " ", data))

    def _end_heading(self, tag: str) -> None:
        text = " ".join("".join(self._heading or []).split())
        self._heading = None
        match = _HTML_HEADING.match(text)
        if not match:  # an admonition title: ordinary text
            self._body.append(f"\n{text}\n")
            return
        self._flush()
        self._current = (match.group(2), match.group(3), tag == "h1")

    def _flush(self) -> None:
        if self._current is not None:
            number, heading, intro = self._current
            self.sections.append(Section(number, heading, "".join(self._body), corpus_only=intro))
        self._body = []  # text before the first numbered heading (title page, abstract) is dropped

    def close(self) -> None:
        super().close()
        self._flush()


def debian_faq_sections(faq_dir: Path) -> list[Section]:
    """All numbered sections (and chapter intros) of the Debian FAQ HTML, in chapter order."""
    sections: list[Section] = []
    for page in sorted(faq_dir.glob("*.en.html")):
        parser = _DocBookSections()
        parser.feed(page.read_text(encoding="utf-8"))
        parser.close()
        sections.extend(parser.sections)
    return sorted(sections, key=lambda s: tuple(int(part) for part in s.number.split(".")))


def build_debian_faq(dest: Path, cache: Path) -> Path:
    """Debian FAQ -> DEST/debian-faq (one query per question heading, its answer the only relevant doc)."""
    root = fetch_package("debian-faq", cache)
    faq_dir = root / "usr" / "share" / "doc" / "debian" / "FAQ"
    sections = debian_faq_sections(faq_dir)
    if not sections:
        raise RuntimeError(f"no numbered sections found under {faq_dir}")
    return write_beir(dest, DEBIAN_FAQ, sections)


# --------------------------------------------------------------------------- Python FAQ (Sphinx HTML)

_SPHINX_BODY = re.compile(r'<div class="body" role="main">(.*?)<div class="sphinxsidebar"', re.DOTALL)
_SPHINX_NOISE = re.compile(r'<nav class="contents".*?</nav>|<a class="headerlink"[^>]*>.*?</a>', re.DOTALL)
# A link to another answer quotes that answer's question ("See also Why must 'self' be used ...?").
_SPHINX_SECTION_REF = re.compile(r'<a class="reference internal"[^>]*><span class="std std-ref">.*?</span></a>',
                                 re.DOTALL)


class _SphinxSections(_DocBookSections):
    """Sphinx headings carry no numbers: each heading of a page is numbered PAGE.N in document order,
    the page title (h1) being the page's introduction."""

    def __init__(self, page: int) -> None:
        super().__init__()
        self._page = page
        self._count = 0

    def _end_heading(self, tag: str) -> None:
        text = " ".join("".join(self._heading or []).split())
        self._heading = None
        self._flush()
        if tag == "h1":
            self._current = (str(self._page), text, True)
        else:
            self._count += 1
            self._current = (f"{self._page}.{self._count}", text, False)


def sphinx_bodies(folder: Path, reference: str) -> Iterator[tuple[int, str]]:
    """(page number, main body HTML) of every Sphinx page but the index, links to other sections replaced by
    `reference` so that no text quotes another query."""
    pages = [p for p in sorted(folder.glob("*.html")) if p.stem != "index"]
    for number, page in enumerate(pages, 1):
        body = _SPHINX_BODY.search(page.read_text(encoding="utf-8"))
        if not body:
            raise ValueError(f"no Sphinx body in {page}")
        yield number, _SPHINX_SECTION_REF.sub(reference, _SPHINX_NOISE.sub("", body.group(1)))


def sphinx_faq_sections(faq_dir: Path) -> list[Section]:
    """Every headed section of the FAQ pages (the index page excluded), page by page."""
    sections: list[Section] = []
    for number, html in sphinx_bodies(faq_dir, "another answer"):
        parser = _SphinxSections(number)
        parser.feed(html)
        parser.close()
        sections.extend(parser.sections)
    return sections


def build_python_faq(dest: Path, cache: Path) -> Path:
    """Python FAQ -> DEST/python-faq: long answers, many with code; question headings are the queries."""
    root = fetch_package(PYTHON_DOC, cache)
    found = sorted((root / "usr" / "share" / "doc").glob("python3*/html/faq"))
    if not found:
        raise RuntimeError(f"no html/faq folder under {root}/usr/share/doc")
    return write_beir(dest, PYTHON_FAQ, sphinx_faq_sections(found[0]))


# --------------------------------------------------------------------------- zsh and Git FAQs (text)

# "3.1: Why does `$var' where `var="foo bar"' not do what I expect?" opens a section; the table of
# contents writes "3.1." instead, and "Chapter 3: ..." lines or "Acknowledgments:" close one.
_ZSH_SECTION = re.compile(r"^(\d+\.\d+): (.+)$")
_ZSH_END = re.compile(r"^(Chapter \d+:|Acknowledgments:)")
# "What does `http.postBuffer` really do?::" after an "[[anchor]]" line; "GIT" closes the last answer.
_GIT_QUESTION = re.compile(r"^(.+)::$")


def zsh_faq_sections(text: str) -> list[Section]:
    """The numbered sections of the zsh FAQ's plain-text edition."""
    sections: list[Section] = []
    current: tuple[str, str] | None = None
    body: list[str] = []
    for line in text.splitlines() + ["Acknowledgments:"]:
        opened, closed = _ZSH_SECTION.match(line), _ZSH_END.match(line)
        if (opened or closed) and current:
            sections.append(Section(f"zsh-{current[0]}", current[1].strip(), "\n".join(body)))
            current = None
        if opened:
            current, body = (opened.group(1), opened.group(2)), []
        elif current:
            body.append(line)
    return sections


def git_faq_sections(text: str) -> list[Section]:
    """The questions of gitfaq(7)'s AsciiDoc source, each with the answer under it."""
    sections: list[Section] = []
    lines = text.splitlines()
    starts = [i for i, line in enumerate(lines) if _GIT_QUESTION.match(line) and i and lines[i - 1].startswith("[[")]
    ends = starts[1:] + [next(i for i, line in enumerate(lines) if line == "GIT")]
    for n, (start, end) in enumerate(zip(starts, ends), 1):
        # Drop the next question's anchor and AsciiDoc's block markers ("+", "----").
        body = [line for line in lines[start + 1:end] if not line.startswith("[[") and line not in ("+", "----")]
        sections.append(Section(f"git-{n}", _GIT_QUESTION.match(lines[start]).group(1), "\n".join(body)))
    return sections


def build_shell_faq(dest: Path, cache: Path) -> Path:
    """zsh and Git FAQs -> DEST/shell-faq.

    No distractors from other FAQs: "What is it?" and "Where do I get it?" ask about the FAQ's own subject.
    """
    zsh = fetch_package("zsh-common", cache) / "usr" / "share" / "doc" / "zsh-common" / "FAQ.gz"
    git = fetch_package("git-doc", cache) / "usr" / "share" / "doc" / "git-doc" / "gitfaq.txt"
    if not (zsh.is_file() and git.is_file()):
        raise RuntimeError(f"the zsh FAQ or gitfaq.txt is missing under {cache}")
    return write_beir(dest, SHELL_FAQ, [*zsh_faq_sections(gzip.decompress(zsh.read_bytes()).decode("utf-8")),
                                        *git_faq_sections(git.read_text(encoding="utf-8"))])


# --------------------------------------------------------------------------- long-answer sets (manuals)

_ADMONITIONS = {"note", "tip", "warning", "caution", "important", "admonition", "sidebar"}
_NUMBERED = re.compile(r"^(?:(?:Chapter|Appendix)\s+)?[\dA-Z]+(?:\.\d+)*\.?\s+(.+)$", re.DOTALL)
# Headings that name no subject of their own: as queries they would ask about nothing in particular.
_GENERIC_HEADINGS = {"introduction", "summary", "references", "acknowledgements", "acknowledgments",
                     "conclusion", "overview", "background", "examples", "example", "notes", "see also",
                     "further reading", "resources", "other", "miscellaneous", "abstract", "contents",
                     "glossary", "preface", "basic usage", "usage", "a simple example"}


@dataclass
class _Heading:
    """One heading of a manual and the text up to the next heading (the heading itself excluded)."""

    level: int
    title: str
    text: str = ""
    children: list[_Heading] | None = None


class _HeadingTree(HTMLParser):
    """A manual page as (level, heading, text) in document order.

    Navigation bars and tables of contents are skipped; admonition titles ("Note", "Tip") stay text;
    a cross-reference to another section is reduced to "another section", since its text quotes that
    section's heading, which is a query.
    """

    SKIP_CLASSES = {"navheader", "navfooter", "toc", "contents", "list-of-tables", "list-of-figures", "header"}

    def __init__(self, internal_links: bool = False) -> None:
        """`internal_links`: every link to an anchor of the page is a cross-reference (texinfo's HTML)."""
        super().__init__(convert_charrefs=True)
        self._internal_links = internal_links
        self.headings: list[_Heading] = []
        self._body: list[str] = []
        self._heading: list[str] | None = None
        self._heading_level = 0
        self._div_stack: list[set[str]] = []
        self._skip_at: int | None = None
        self._admonition = 0
        self._in_pre = 0
        self._xref = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        classes = set((dict(attrs).get("class") or "").split())
        if tag in ("div", "nav"):
            self._div_stack.append(classes)
            if self._skip_at is None and classes & self.SKIP_CLASSES:
                self._skip_at = len(self._div_stack)
            if classes & _ADMONITIONS:
                self._admonition += 1
        if self._skip_at is not None:
            return
        if tag in _HEADING_TAGS and not self._admonition:
            self._heading, self._heading_level = [], int(tag[1])
        elif tag == "a" and ("xref" in classes or self._xref or (
                self._internal_links and (dict(attrs).get("href") or "").startswith("#"))):
            self._xref += 1
        elif tag == "pre":
            self._in_pre += 1
        if tag in _BLOCK_TAGS or (tag in _HEADING_TAGS and self._admonition):
            self._body.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("div", "nav") and self._div_stack:
            classes = self._div_stack.pop()
            if classes & _ADMONITIONS:
                self._admonition -= 1
            if self._skip_at is not None and self._skip_at > len(self._div_stack):
                self._skip_at = None
                return
        if self._skip_at is not None:
            return
        if tag in _HEADING_TAGS and self._heading is not None:
            title = " ".join("".join(self._heading).split())
            self._heading = None
            self._flush()
            match = _NUMBERED.match(title)
            self.headings.append(_Heading(self._heading_level, match.group(1) if match else title))
        elif tag == "a" and self._xref:
            self._xref -= 1
            if not self._xref:
                self._body.append("another section")
        elif tag == "pre":
            self._in_pre -= 1
        if tag in _BLOCK_TAGS or (tag in _HEADING_TAGS and self._admonition):
            self._body.append("\n")

    def handle_data(self, data: str) -> None:
        if self._skip_at is not None or self._xref:
            return
        if self._heading is not None:
            self._heading.append(data)
        else:
            self._body.append(data if self._in_pre else re.sub(r"\s+", " ", data))

    def _flush(self) -> None:
        if self.headings:
            self.headings[-1].text += "".join(self._body)
        self._body = []  # text before the first heading (a title page) is dropped

    def close(self) -> None:
        super().close()
        self._flush()


def _tree(headings: list[_Heading]) -> list[_Heading]:
    """Headings nested by level: each takes the following deeper headings as its children."""
    roots: list[_Heading] = []
    stack: list[_Heading] = []
    for heading in headings:
        heading.children = []
        while stack and stack[-1].level >= heading.level:
            stack.pop()
        (stack[-1].children if stack else roots).append(heading)
        stack.append(heading)
    return roots


def _all_text(heading: _Heading) -> str:
    """A heading's text and its subsections' text, their headings left out."""
    return "\n".join([heading.text, *(_all_text(child) for child in heading.children or [])])


def long_sections(roots: list[_Heading], prefix: str, topic: str,
                  query: Callable[[str, str], str]) -> list[Section]:
    """Sections of about LONG_MIN_WORDS to LONG_MAX_WORDS words: a heading with all its subsections when
    they hold at most LONG_MAX_WORDS, else its own text and each subsection in turn.

    A merged section under LONG_MIN_WORDS, an over-long heading's own text, a top heading's introduction
    (its title is the page's subject) and a section with a generic heading ("Introduction") are
    distractors. QUERY(topic, heading) is a merged section's query.
    """
    sections: list[Section] = []
    counter = 0

    def walk(heading: _Heading, top: bool) -> None:
        nonlocal counter
        counter += 1
        text = _all_text(heading)
        whole = word_count(text) <= LONG_MAX_WORDS
        if not whole:
            text = heading.text
        queryable = (whole and not top and word_count(text) >= LONG_MIN_WORDS
                     and heading.title.lower().rstrip(".:?") not in _GENERIC_HEADINGS)
        sections.append(Section(f"{prefix}{counter}", heading.title, text, corpus_only=not queryable,
                                query=query(topic, heading.title) if queryable else None))
        if not whole:
            for child in heading.children or []:
                walk(child, False)

    for root in roots:
        walk(root, True)
    return sections


def _parsed(html: str, internal_links: bool = False) -> list[_Heading]:
    parser = _HeadingTree(internal_links)
    parser.feed(html)
    parser.close()
    return parser.headings


def _drop_ambiguous(sections: list[Section]) -> list[Section]:
    """A query two sections share ("Debian: Examples") names neither: both become distractors."""
    counts: dict[str, int] = {}
    for section in sections:
        if section.query:
            counts[section.query.lower()] = counts.get(section.query.lower(), 0) + 1
    return [Section(s.number, s.heading, s.text, corpus_only=True) if s.query and counts[s.query.lower()] > 1
            else s for s in sections]


def _subject_query(topic: str, heading: str) -> str:
    """"Python sorting: Key Functions"; the heading alone when it names the subject already."""
    if topic.lower() in heading.lower():
        return heading
    return f"{topic}: {heading}"


# "Sorting HOW TO", "Descriptor HowTo Guide", "HOWTO Fetch Internet Resources Using The urllib Package".
_HOWTO_WORDS = re.compile(r"\b(HOW ?TO|How-To|HowTo)\b( Guide)?", re.IGNORECASE)


def howto_topic(title: str) -> str:
    """A HOWTO's subject as a user would name it: "Sorting HOW TO" -> "Python sorting"."""
    subject = " ".join(_HOWTO_WORDS.sub(" ", title).split())
    if "python" not in subject.lower():
        subject = f"Python {subject[:1].lower()}{subject[1:]}"
    return subject


def python_howto_sections(howto_dir: Path) -> list[Section]:
    """Every HOWTO page (the index excluded) cut into long sections, queried by its subject and heading."""
    sections: list[Section] = []
    for number, html in sphinx_bodies(howto_dir, "another section"):
        roots = _tree(_parsed(html))
        if not roots:
            continue
        topic = howto_topic(roots[0].title)
        sections.extend(long_sections(roots, f"{number}.", topic, _subject_query))
    return _drop_ambiguous(sections)


def build_python_howto(dest: Path, cache: Path) -> Path:
    """Python HOWTOs -> DEST/python-howto."""
    root = fetch_package(PYTHON_DOC, cache)
    found = sorted((root / "usr" / "share" / "doc").glob("python3*/html/howto"))
    if not found:
        raise RuntimeError(f"no html/howto folder under {root}/usr/share/doc")
    return write_beir(dest, PYTHON_HOWTO, python_howto_sections(found[0]))


def git_manual_sections(html: str) -> list[Section]:
    """The Git User Manual's chapters cut into long sections, queried as "Git: <heading>"."""
    # The manual's own title heads everything: its chapters are the top headings.
    headings = [h for h in _parsed(html) if h.title != "Git User Manual"]
    return long_sections(_tree(headings), "git-", "Git", _subject_query)


# The Bash manual's title pages, and its indexes and licence: lists of names, not answers.
_BASH_SKIPPED = re.compile(r"^(Bash Reference Manual|Bash Features|Table of Contents)$|Index|License")


def bash_manual_sections(html: str) -> list[Section]:
    """The Bash Reference Manual's chapters cut into long sections, queried as "Bash: <heading>"."""
    # The title pages are h1 headings: the chapters (h2) are the top headings.
    headings = [h for h in _parsed(html, internal_links=True) if h.level > 1]
    roots = [root for root in _tree(headings) if not _BASH_SKIPPED.search(root.title)]
    for root in roots:
        root.children = [child for child in root.children or [] if not _BASH_SKIPPED.search(child.title)]
    return long_sections(roots, "bash-", "Bash", _subject_query)


def build_tool_manuals(dest: Path, cache: Path) -> Path:
    """The Git User Manual and the Bash Reference Manual -> DEST/tool-manuals."""
    git = fetch_package("git-doc", cache) / "usr" / "share" / "doc" / "git-doc" / "user-manual.html"
    bash = fetch_package("bash-doc", cache) / "usr" / "share" / "doc" / "bash" / "bashref.html"
    if not (git.is_file() and bash.is_file()):
        raise RuntimeError(f"user-manual.html or bashref.html is missing under {cache}")
    return write_beir(dest, TOOL_MANUALS, _drop_ambiguous([*git_manual_sections(git.read_text(encoding="utf-8")),
                                                           *bash_manual_sections(bash.read_text(encoding="utf-8"))]))


def debian_reference_sections(pages: list[Path]) -> list[Section]:
    """The Debian Reference's chapters cut into long sections, queried as "Debian: <heading>"."""
    sections: list[Section] = []
    for number, page in enumerate(pages, 1):
        roots = _tree(_parsed(page.read_text(encoding="utf-8")))
        sections.extend(long_sections(roots, f"{number}.", "Debian", _subject_query))
    return _drop_ambiguous(sections)


def build_debian_reference(dest: Path, cache: Path) -> Path:
    """Debian Reference -> DEST/debian-reference (the chapters and the appendix)."""
    folder = fetch_package("debian-reference-en", cache) / "usr" / "share" / "debian-reference"
    pages = sorted(folder.glob("ch*.en.html")) + sorted(folder.glob("ap*.en.html"))
    if not pages:
        raise RuntimeError(f"no chapter pages under {folder}")
    return write_beir(dest, DEBIAN_REFERENCE, debian_reference_sections(pages))


# --------------------------------------------------------------------------- R FAQ (PDF)

MARGIN_BAND = 0.08  # top/bottom fraction of the page holding the running header ("Chapter 7: ... 39")


def _pdf_rows(page: pymupdf.Page) -> list[str]:
    """Visual text rows of a page in reading order, running header/footer bands dropped.

    PDF "lines" are often fragments of one printed row (mixed fonts, code comments), so fragments
    whose vertical centres fall inside one another's extent are merged left to right.
    """
    height = page.rect.height
    fragments: list[tuple[float, float, float, str]] = []
    for block in page.get_text("dict")["blocks"]:
        for line in block.get("lines", []):
            x0, y0, _, y1 = line["bbox"]
            text = "".join(span["text"] for span in line["spans"]).strip()
            if text and y1 > height * MARGIN_BAND and y0 < height * (1 - MARGIN_BAND):
                fragments.append((y0, y1, x0, text))
    fragments.sort(key=lambda f: ((f[0] + f[1]) / 2, f[2]))
    rows: list[list[tuple[float, float, float, str]]] = []
    for fragment in fragments:
        mid = (fragment[0] + fragment[1]) / 2
        if rows and rows[-1][0][0] <= mid <= rows[-1][0][1]:
            rows[-1].append(fragment)
        else:
            rows.append([fragment])
    return [" ".join(f[3] for f in sorted(row, key=lambda f: f[2])) for row in rows]


def _dehyphenate(text: str) -> str:
    """Rejoin words TeX split at line ends ("exam-\\nple" -> "example")."""
    return re.sub(r"(?<=[a-z])-\n(?=[a-z])", "", text)


_TYPOGRAPHIC = {"'": "['’‘]", '"': '["“”]', "-": "[-‐–]"}


def _loose(word: str) -> str:
    """Regex for an outline word as typeset: TeX prints straight quotes and dashes as curly ones."""
    return "".join(_TYPOGRAPHIC.get(char, re.escape(char)) for char in word)


def _outline_numbers(toc: list[list]) -> list[tuple[str, str, int]]:
    """(number, title, 1-based page) per outline entry; texinfo outlines number only the chapters."""
    entries: list[tuple[str, str, int]] = []
    counters: list[int] = []
    for level, title, page, *_ in toc:
        if level == 1:
            match = re.match(r"^(\d+)\s+(.+)$", title)
            if not match:  # appendices / unnumbered chapters would need their own scheme
                raise ValueError(f"unnumbered chapter in outline: {title!r}")
            counters = [int(match.group(1))]
            title = match.group(2)
        else:
            counters = (counters + [0] * level)[:level]
            counters[level - 1] += 1
        entries.append((".".join(map(str, counters)), title, page))
    return entries


def pdf_outline_sections(pdf: Path) -> list[Section]:
    """Sections of a texinfo-made PDF: outline entries located in the text, answers = text between them.

    The outline gives titles and pages but not positions, so each printed heading ("7.36 Why are
    there ...", possibly wrapped over rows) is found by searching from its page onward.
    """
    with pymupdf.open(pdf) as doc:
        entries = _outline_numbers(doc.get_toc(simple=False))
        full = ""
        page_start: list[int] = []
        for page in doc:
            page_start.append(len(full))
            full += "".join(row + "\n" for row in _pdf_rows(page))
    spans: list[tuple[int, int]] = []
    cursor = 0
    for number, title, page in entries:
        words = r"\s+".join(_loose(word) for word in title.split())
        pattern = re.compile(rf"^{re.escape(number)}\s+{words}\s*$", re.MULTILINE)
        match = pattern.search(full, max(cursor, page_start[page - 1]))
        if not match:
            raise ValueError(f"heading {number} {title!r} not found in {pdf.name} from page {page}")
        spans.append((match.start(), match.end()))
        cursor = match.end()
    sections = []
    for i, (number, title, _) in enumerate(entries):
        end = spans[i + 1][0] if i + 1 < len(spans) else len(full)
        text = drop_quoted_titles(_dehyphenate(full[spans[i][1] : end])).replace("c\u20dd", "\u00a9")
        sections.append(Section(number, title, text, corpus_only="." not in number))
    return sections


def build_r_faq(dest: Path, cache: Path) -> Path:
    """R FAQ PDF -> DEST/r-faq (question sections are queries; the other sections stay as distractors)."""
    root = fetch_package("r-doc-pdf", cache)
    found = sorted((root / "usr" / "share").rglob("R-FAQ.pdf"))
    if not found:
        raise RuntimeError(f"R-FAQ.pdf not found under {root}/usr/share")
    return write_beir(dest, R_FAQ, pdf_outline_sections(found[0]))


# --------------------------------------------------------------------------- CLI


def _count_lines(path: Path) -> int:
    with open(path, encoding="utf-8") as handle:
        return sum(1 for _ in handle)


BUILDERS = {DEBIAN_FAQ: build_debian_faq, R_FAQ: build_r_faq, PYTHON_FAQ: build_python_faq,
            SHELL_FAQ: build_shell_faq, PYTHON_HOWTO: build_python_howto, TOOL_MANUALS: build_tool_manuals,
            DEBIAN_REFERENCE: build_debian_reference}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="destination of the BEIR folders")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help="where the .deb files are kept")
    parser.add_argument("--sets", nargs="+", choices=sorted(BUILDERS), help="build only these (default: all)")
    args = parser.parse_args(argv)
    for build in (BUILDERS[name] for name in (args.sets or BUILDERS)):
        folder = build(args.out, args.cache)
        docs = _count_lines(folder / "corpus.jsonl")
        queries = _count_lines(folder / "queries.jsonl")
        print(f"{folder.name}: {docs} docs, {queries} queries -> {folder}")


if __name__ == "__main__":
    main()
