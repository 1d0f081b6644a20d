"""Saved web pages to segments: the page's main text, cut into sections at its headings, each deep-linked by
the section's anchor.

Only the main text is read. The page's `<main>` (or `role="main"`), else its one `<article>`, else its body
is the root; inside it, scripts, styles, forms, navigation, banners, footers and side bars are dropped
(`<nav>`, `<header>`/`<footer>` outside an article, `<aside>`, ARIA landmark roles, hidden elements, and
elements whose class or id names them: "nav", "menu", "breadcrumb", "sidebar", "footer", ...).

Headings h1-h6 start sections; each segment records its section's title (`section`) and, when the page has
one, the section's anchor (`anchor`): the heading's own `id`, an id or name inside it or on the empty
element just before it (as Texinfo and many generators place them), else the nearest enclosing element's
`id`. `path#anchor` opens the page at the section. The page's `<title>` (else its first h1) is the file's.

Bytes are decoded by the page's own declaration (BOM, `<meta charset>`), else UTF-8, else a guess
(ingest/text.py's decode_text); binary bytes under an .html name fail with a reason. Budgets: the file-size
limit (OMNIDEX_MAX_FILE_MB) before a byte is read; the text budget per file (OMNIDEX_MAX_TEXT_CHARS_PER_FILE)
keeps what fits and records the file as partial; a long section is read in blocks of at most
OMNIDEX_MAX_TEXT_CHARS_PER_PAGE characters.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.schema import Modality, Segment
from ingest.errors import ExtractionError
from ingest.extraction import ExtractContext, Extraction
from ingest.limits import Losses, setting_name
from ingest.text import BYTES_PER_CHAR, decode_text, read_head, refuse_binary

HEADINGS = {f"h{n}": n for n in range(1, 7)}
DROPPED_TAGS = frozenset({"script", "style", "noscript", "template", "svg", "iframe", "object", "embed",
                          "canvas", "form", "button", "select", "input", "textarea", "nav", "aside", "menu",
                          "dialog", "head"})
BOILERPLATE_ROLES = frozenset({"navigation", "banner", "contentinfo", "complementary", "search", "menu",
                               "menubar", "toolbar", "dialog", "alert"})
# A class or id token that names a page's furniture, not its text.
BOILERPLATE_NAME = re.compile(
    r"^(nav|navbar|navigation|nav-?panel|menu|menubar|breadcrumbs?|sidebar|side-?bar|sphinxsidebar|toc-?sidebar|"
    r"footer|site-?footer|page-?footer|site-?header|masthead|header|topbar|cookie[-\w]*|consent|banner|"
    r"skip-?link|share|social|related|advert\w*|ads?)$", re.IGNORECASE)
BLOCK_TAGS = frozenset({"p", "div", "section", "article", "main", "li", "ul", "ol", "dl", "dt", "dd", "pre",
                        "blockquote", "table", "tr", "thead", "tbody", "caption", "figure", "figcaption", "br",
                        "hr", "address", "details", "summary", "body", "center"})
CELL_TAGS = frozenset({"td", "th"})
_SPACES = re.compile(r"[ \t\u00a0\r\f\v]+")


@dataclass
class Section:
    """A stretch of a document under one heading; Word and OpenDocument texts (ingest/word.py, opendocument.py) cut theirs at pages too."""

    title: str | None
    level: int  # 1..6; 0 for the untitled text before the first heading
    anchor: str | None
    parts: list[str] = field(default_factory=list)
    page: int | None = None  # the page it lies on, where the document's layout says

    def text(self) -> str:
        lines = (_SPACES.sub(" ", line).strip() for line in "".join(self.parts).split("\n"))
        return "\n".join(line for line in lines if line)

    def titled_text(self) -> str:
        """Its text with its heading at its head (once)."""
        text = self.text()
        if self.title and not text.startswith(self.title):
            return f"{self.title}\n{text}" if text else self.title
        return text


def extract_html(path: Path, ctx: ExtractContext) -> Extraction:
    s = ctx.settings
    losses = Losses()
    limit_bytes = s.max_text_chars_per_file * BYTES_PER_CHAR * 4  # markup: a page holds more tags than text
    data, cut = read_head(path, limit_bytes)
    if cut:
        losses.add(f"text budget of {s.max_text_chars_per_file:,} characters for the file used up: only the "
                   f"first {limit_bytes:,} bytes of the page were read ({setting_name('max_text_chars_per_file')})")
    root, title = parse_page(data, final=not cut)
    sections = page_sections(root)
    info: dict[str, Any] = {"section_count": sum(1 for sec in sections if sec.title)}
    title = title or next((sec.title for sec in sections if sec.level == 1), None)
    if title:
        info["title"] = title
    return Extraction(info=info, segments=section_segments(sections, ctx, losses), losses=losses)


def main_text(data: bytes) -> str:
    """The main text of HTML that is no file of its own (an e-mail's HTML body), its sections' headings kept."""
    root, _ = parse_page(data)
    return "\n\n".join(section.titled_text() for section in page_sections(root))


def parse_page(data: bytes, final: bool = True) -> tuple[Any, str | None]:
    """The page's main-text root element and its `<title>`; ExtractionError for bytes that are no page.

    `final` False: the bytes are the start of a longer page, so a character cut at their end is dropped."""
    import lxml.html
    from lxml import etree

    refuse_binary(data)
    declared = re.search(rb"""<meta[^>]+charset\s*=\s*["']?([\w-]+)""", data[:4096], re.IGNORECASE)
    encoding = declared.group(1).decode("ascii", "replace") if declared else None
    try:
        text = codecs.getincrementaldecoder(encoding)().decode(data, final) if encoding else None
    except (LookupError, UnicodeDecodeError):
        text = None
    if text is None:
        text = decode_text(data, final)[0]
    text = re.sub(r"^\s*<\?xml[^>]*\?>", "", text)  # XHTML: lxml refuses a str with an encoding declaration
    try:
        doc = lxml.html.document_fromstring(text)
    except (etree.ParserError, ValueError) as e:
        raise ExtractionError(f"not an HTML page: {e}") from e
    title_el = doc.find(".//title")
    title = " ".join(title_el.text_content().split()) if title_el is not None else None
    for comment in doc.xpath("//comment() | //processing-instruction()"):
        _drop(comment)
    root = _main(doc)
    for el in list(root.iter()):
        if el is not root and _boilerplate(el) and el.getparent() is not None:
            _drop(el)
    return root, title or None


def _main(doc: Any) -> Any:
    mains = doc.xpath("//main | //*[@role='main']")
    if mains:
        return mains[0]
    articles = doc.xpath("//article")
    if len(articles) == 1:
        return articles[0]
    body = doc.find(".//body")
    return body if body is not None else doc


def _boilerplate(el: Any) -> bool:
    tag = el.tag if isinstance(el.tag, str) else ""
    if tag in DROPPED_TAGS:
        return True
    if tag in ("header", "footer") and not any(a.tag in ("article", "section") for a in el.iterancestors()):
        return True
    if (el.get("role") or "").lower() in BOILERPLATE_ROLES:
        return True
    if el.get("hidden") is not None or el.get("aria-hidden") == "true" or \
            re.search(r"display\s*:\s*none", el.get("style") or ""):
        return True
    names = (el.get("class") or "").split() + [el.get("id") or ""]
    return tag not in HEADINGS and any(BOILERPLATE_NAME.match(n) for n in names if n)


def _drop(el: Any) -> None:
    """Remove an element and its content, keeping the text that follows it."""
    parent = el.getparent()
    if parent is None:
        return
    tail = el.tail
    previous = el.getprevious()
    if tail:
        if previous is not None:
            previous.tail = (previous.tail or "") + tail
        else:
            parent.text = (parent.text or "") + tail
    parent.remove(el)


def page_sections(root: Any) -> list[Section]:
    sections = [Section(None, 0, None)]

    def walk(el: Any) -> None:
        tag = el.tag if isinstance(el.tag, str) else ""
        if tag in HEADINGS:
            title = " ".join(el.text_content().split())
            if title:
                sections.append(Section(title, HEADINGS[tag], anchor_of(el)))
                return
        block = tag in BLOCK_TAGS
        if block:
            sections[-1].parts.append("\n")
        if el.text:
            sections[-1].parts.append(el.text)
        for child in el:
            walk(child)
            if tag == "tr" and child.tag in CELL_TAGS:
                sections[-1].parts.append(" | ")
            if child.tail:
                sections[-1].parts.append(child.tail)
        if block or tag in CELL_TAGS:
            sections[-1].parts.append("\n" if block else " ")

    walk(root)
    return [sec for sec in sections if sec.title or sec.text()]


def anchor_of(heading: Any) -> str | None:
    """The id a link to this heading's section uses: the heading's own, one inside it, one on the empty element
    just before it, else the nearest enclosing element's."""
    if heading.get("id"):
        return heading.get("id")
    for inner in heading.iterdescendants():
        if inner.get("id") or (inner.tag == "a" and inner.get("name")):
            return inner.get("id") or inner.get("name")
    previous = heading.getprevious()
    while previous is not None and not (previous.text_content() or "").strip() and not previous.tail:
        if previous.get("id") or (previous.tag == "a" and previous.get("name")):
            return previous.get("id") or previous.get("name")
        previous = previous.getprevious()
    for ancestor in heading.iterancestors():
        if ancestor.get("id"):
            return ancestor.get("id")
    return None


def section_segments(sections: list[Section], ctx: ExtractContext, losses: Losses,
                     after: Callable[[int, Section], Iterable[Segment]] | None = None) -> Iterator[Segment]:
    """Headed sections as text segments, each with its section's title, anchor and page, within the file's text
    budget; a long section is chunked in blocks of at most OMNIDEX_MAX_TEXT_CHARS_PER_PAGE characters. `after`
    gives the segments that follow a section's text (the pictures in it)."""
    s = ctx.settings
    left = s.max_text_chars_per_file
    n = 0
    for number, section in enumerate(sections):
        text = section.titled_text()
        if len(text) > left:
            losses.add(f"text budget of {s.max_text_chars_per_file:,} characters for the file used up in section "
                       f"{number + 1:,} of {len(sections):,}: the rest was not read "
                       f"({setting_name('max_text_chars_per_file')})")
            text = text[:left]
        left -= len(text)
        for block in text_blocks(text, s.max_text_chars_per_page):
            for chunk in ctx.chunker.chunks(block):
                extra = {"anchor": section.anchor} if section.anchor else {}
                yield Segment(locator=f"S{number}:c{n}", modality=Modality.TEXT, text=chunk.text,
                              section=section.title, page=section.page, context=chunk.window,
                              context_span=chunk.span, extra=extra)
                n += 1
        if after is not None:
            yield from after(number, section)
        if left <= 0:
            return


def text_blocks(text: str, max_chars: int) -> Iterator[str]:
    """The text in blocks of at most max_chars, cut at line ends."""
    block: list[str] = []
    size = 0
    for line in text.split("\n"):
        if block and size + len(line) + 1 > max_chars:
            yield "\n".join(block)
            block, size = [], 0
        block.append(line)
        size += len(line) + 1
    if block:
        yield "\n".join(block)
