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
from collections.abc import Iterable
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
    return section.text.replace(section.heading, " ")


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
        queryable = not section.corpus_only and is_question(section.heading)
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
            queries.append({"_id": query_id, "text": section.heading})
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


def sphinx_faq_sections(faq_dir: Path) -> list[Section]:
    """Every headed section of the FAQ pages (the index page excluded), page by page."""
    sections: list[Section] = []
    pages = [p for p in sorted(faq_dir.glob("*.html")) if p.stem != "index"]
    for number, page in enumerate(pages, 1):
        body = _SPHINX_BODY.search(page.read_text(encoding="utf-8"))
        if not body:
            raise ValueError(f"no Sphinx body in {page}")
        parser = _SphinxSections(number)
        parser.feed(_SPHINX_SECTION_REF.sub("another answer", _SPHINX_NOISE.sub("", body.group(1))))
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


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="destination of the BEIR folders")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help="where the .deb files are kept")
    args = parser.parse_args(argv)
    for build in (build_debian_faq, build_r_faq, build_python_faq, build_shell_faq):
        folder = build(args.out, args.cache)
        docs = _count_lines(folder / "corpus.jsonl")
        queries = _count_lines(folder / "queries.jsonl")
        print(f"{folder.name}: {docs} docs, {queries} queries -> {folder}")


if __name__ == "__main__":
    main()
