"""What every page shares: the server process's one Omnidex, result cards and the preview pane."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import streamlit as st

from core.errors import OmnidexError
from omnidex import FileType, Modality, Omnidex, SearchHit, Settings, clock, mail_line, place, shown_path_bytes
from ui.errors import explanation
from ui.places import Line, Passage, passage, read_lines, table, unchanged
from ui.previews import photo_facts, render_pdf_page, transcript_around
from ui.safety import escape_markdown, file_inside, highlight, html_block, literal, printable, text_html


def index_changed() -> None:
    """After an indexing run: counts and folder lists are read again (results are keyed by app.generation)."""
    st.cache_data.clear()

BADGES: dict[str, tuple[str, str]] = {
    Modality.TEXT.value: ("Text", "blue"),
    Modality.OCR.value: ("Scanned text", "violet"),
    Modality.IMAGE.value: ("Picture", "green"),
    Modality.FRAME.value: ("Video frame", "orange"),
    Modality.TRANSCRIPT.value: ("Speech", "red"),
    Modality.SOUND.value: ("Sound", "gray"),
}
ICONS: dict[str, str] = {FileType.AUDIO.value: ":material/headphones:", FileType.VIDEO.value: ":material/movie:",
                         FileType.SLIDES.value: ":material/slideshow:", FileType.IMAGE.value: ":material/image:",
                         FileType.PDF.value: ":material/description:",
                         FileType.PLAINTEXT.value: ":material/article:", FileType.HTML.value: ":material/language:",
                         FileType.EBOOK.value: ":material/menu_book:",
                         FileType.SHEET.value: ":material/table:",
                         FileType.DOCUMENT.value: ":material/edit_document:", FileType.MAIL.value: ":material/mail:"}


# Settings only the UI reads (ui/access.py, the library page): a change to one must not open a second Omnidex
# on the same index, and the password is never part of a cache key.
UI_SETTINGS = {"ui_password", "ui_hosts", "library_roots", "max_upload_mb", "upload_quota_mb"}


def settings_key() -> str:
    """The settings an Omnidex is built from, as the key of the one kept per server process."""
    return Settings().model_dump_json(exclude=UI_SETTINGS)


def get_app() -> Omnidex:
    """The server's Omnidex; an index that cannot be opened (another process holds it, other models made it,
    it is damaged) stops the page with what to do about it."""
    try:
        return _load_app(settings_key())
    except OmnidexError as e:
        st.error(explanation(e))
        st.stop()


@st.cache_resource(show_spinner="Loading models and index…")
def _load_app(settings_json: str) -> Omnidex:
    """One Omnidex per server process and configuration: models and store load once, not per rerun.

    A reranked search at start-up loads the encoder, the cross-encoder (Ask uses it even when
    search does not) and the calibration, so the first search or question costs no more than later ones.
    """
    app = Omnidex(Settings.model_validate_json(settings_json))
    app.warm_up()
    return app


def title_markdown(hit: SearchHit) -> str:
    """File name, place and a modality badge; the name is shown literally (a file may be called anything)."""
    label, color = BADGES.get(hit.modality, (hit.modality or "?", "gray"))
    where = place(hit)
    return (f"**{literal(Path(hit.path).name)}**" + (f" · {where}" if where else "")
            + f" :{color}-badge[{escape_markdown(label)}]")


def thumbnail(app: Omnidex, hit: SearchHit) -> Path | None:
    """The hit's picture: its own thumbnail, else its page's or slide's (only a page's first chunk has one)."""
    relative = hit.payload.get("thumbnail") or _sibling_thumbnail(
        app, hit.asset_id, hit.page, hit.slide, (hit.payload.get("message"), hit.payload.get("attachment")))
    return file_inside(app.thumbnails_dir, relative) if relative else None


@st.cache_data(ttl=600, show_spinner=False)
def _sibling_thumbnail(_app: Omnidex, asset_id: str, page: int | None, slide: int | None,
                       attachment: tuple[int | None, str | None] = (None, None)) -> str | None:
    """`attachment`: an e-mail's (message, attachment name): a page of the same attachment, not another's."""
    if page is None and slide is None:
        return None
    for segment in _app.segments_of(asset_id, page=page):
        same = (segment.payload.get("message"), segment.payload.get("attachment")) == attachment
        if same and segment.slide == slide and segment.payload.get("thumbnail"):
            return segment.payload["thumbnail"]
    return None


def result_card(app: Omnidex, hit: SearchHit, query: str, selected_key: str, similar_key: str) -> None:
    """One result: thumbnail, title with badge, highlighted snippet, and buttons to preview or find similar.

    The buttons write the hit's id into session state under `selected_key` / `similar_key`.
    """
    with st.container(border=True, key=f"card-{selected_key}-{hit.id}"):  # the key is a CSS hook for browser tests
        picture, body = st.columns([1, 4])
        with picture:
            image = thumbnail(app, hit)
            if image is not None:
                st.image(str(image), width="stretch")
            else:
                st.markdown(f"## {ICONS.get(hit.file_type, ICONS[FileType.PDF.value])}")
        with body:
            st.markdown(title_markdown(hit))
            if message := mail_line(hit):  # an e-mail: its subject, sender and date
                st.caption(html_block(text_html(message)), unsafe_allow_html=True)
            st.markdown(html_block(highlight(hit.snippet or hit.text[:240], query)), unsafe_allow_html=True)
            others = other_places(hit)
            if others:
                st.caption(f"Also: {', '.join(others)}")
            open_col, similar_col = st.columns(2)
            open_col.button("Preview", key=f"{selected_key}-{hit.id}", on_click=_remember, args=(selected_key, hit.id))
            similar_col.button("Find similar", key=f"{similar_key}-{hit.id}", on_click=_remember,
                               args=(similar_key, hit.id))


def other_places(hit: SearchHit, limit: int = 6) -> list[str]:
    """The file's other matching places, each once and in document order (page or slide, then time): several
    chunks of one page, or spans around one moment, are one place to a reader."""
    def position(other: SearchHit) -> tuple[int, float]:
        number = other.page if other.page is not None else other.slide
        return (number if number is not None else 0, other.t0 if other.t0 is not None else 0.0)

    places = dict.fromkeys(place(other) for other in sorted(hit.more, key=position))
    return [where for where in places if where and where != place(hit)][:limit]


def _remember(key: str, value: str) -> None:
    st.session_state[key] = value


def show_preview(app: Omnidex, hit: SearchHit, query: str = "") -> None:
    """The page with the hit marked, the slide, the photo with its tags and facts, a player at the moment, or
    the text around the hit at its place: its lines, its section, its rows, its message."""
    st.markdown(title_markdown(hit))
    if message := mail_line(hit):
        st.caption(html_block(text_html(message)), unsafe_allow_html=True)
    path = app.indexed_file(os.fsdecode(shown_path_bytes(hit.payload)))  # a name that is not UTF-8 too
    if path is None:
        st.warning("This file is not in the index any more, or has moved. Re-index it from the Library page.")
    elif hit.page is not None and hit.file_type == FileType.PDF.value:
        with st.container(border=True):  # a white page needs an edge on a white screen
            st.image(render_pdf_page(path, hit.page, hit.text), width="stretch")
    elif hit.file_type == FileType.IMAGE.value:
        st.image(str(path), width="stretch")
    elif hit.file_type in (FileType.AUDIO.value, FileType.VIDEO.value):
        player = st.audio if hit.file_type == FileType.AUDIO.value else st.video
        player(str(path), start_time=int(hit.t0 or 0))
    elif hit.slide is not None:
        image = thumbnail(app, hit)
        if image is not None:
            st.image(str(image), width="stretch")
    _describe(app, hit, query, path)


def _describe(app: Omnidex, hit: SearchHit, query: str, path: Path | None = None) -> None:
    """The words beside the picture: the transcript around the moment, a picture's tags and facts, or the text
    at its place (`path`: the indexed file, None when it is not in the index any more)."""
    if hit.t0 is not None and hit.file_type in (FileType.AUDIO.value, FileType.VIDEO.value):
        spans = [s for s in app.segments_of(hit.asset_id) if s.modality == Modality.TRANSCRIPT.value]
        lines = transcript_around(spans, hit.t0)
        if lines:
            st.markdown("\n\n".join(html_block(f"<code>{clock(t)}</code> {highlight(text, query)}")
                                    for t, text in lines), unsafe_allow_html=True)
            return
    tags = hit.payload.get("tags") or []
    if hit.modality in (Modality.IMAGE.value, Modality.FRAME.value):
        if tags:
            st.markdown(html_block("<strong>Tags:</strong> " + text_html(", ".join(str(t) for t in tags))),
                        unsafe_allow_html=True)
        facts = photo_facts(hit.payload) if hit.file_type == FileType.IMAGE.value else {}
        for label, value in facts.items():
            st.caption(html_block(f"{label}: {text_html(value)}"), unsafe_allow_html=True)
        return
    if path is None or hit.modality not in (Modality.TEXT.value, Modality.OCR.value):
        st.text(hit.text)  # st.text never interprets document text as markup
        return
    mail = hit.payload.get("message") is not None
    if mail:
        _show_message_head(hit)
    if hit.payload.get("row_start") is not None:
        _show_rows(app, hit)
    elif hit.payload.get("line_start") is not None and hit.file_type == FileType.PLAINTEXT.value:
        _show_lines(app, path, hit, query)
    elif mail or hit.file_type in SECTIONED:
        _show_passage(app, hit, query)
    else:  # a PDF's or a slide's text, beside its picture
        st.text(hit.text)


SECTIONED = (FileType.HTML.value, FileType.DOCUMENT.value, FileType.EBOOK.value)


@st.cache_data(ttl=600, show_spinner=False)
def _segments(_app: Omnidex, asset_id: str, generation: int) -> list[SearchHit]:
    """A file's segments, read once per file and indexing run (`generation`) while someone pages its hits."""
    return _app.segments_of(asset_id)


@st.cache_data(ttl=600, show_spinner=False)
def _lines(path: str, first: int, last: int, encoding: str | None, max_chars: int, modified: str) -> list[Line]:
    """`modified`: the file's recorded modification time, so a file indexed again is read again."""
    return read_lines(Path(path), first, last, encoding, max_chars)


def _heading(where: str) -> None:
    if where:
        st.markdown(html_block(f"<strong>{text_html(where)}</strong>"), unsafe_allow_html=True)


def _show_lines(app: Omnidex, path: Path, hit: SearchHit, query: str) -> None:
    """A text file's lines around the hit, numbered, the hit's marked, under the hit's section heading."""
    first = int(hit.payload["line_start"])
    last = int(hit.payload.get("line_end") or first)
    _heading(place(hit))
    if not unchanged(path, hit):
        st.caption("The file has changed since it was indexed, so its line numbers may have moved: this is the "
                   "text as indexed. Re-index it from the Library page.")
        st.text(hit.text)
        return
    lines = _lines(str(path), first, last, hit.payload.get("encoding"), app.settings.max_text_chars_per_file,
                   str(hit.payload.get("modified")))
    if not lines:
        st.text(hit.text)
        return
    width = len(str(lines[-1].number))
    rows = []
    for line in lines:
        text = line.text.expandtabs(4)
        indent = "&nbsp;" * min(len(text) - len(text.lstrip()), 40)  # code keeps its shape
        marked = indent + highlight(text, query) + (" …" if line.cut else "")
        if line.hit:
            marked = f"<mark>{marked}</mark>"
        number = "&nbsp;" * (width - len(str(line.number))) + str(line.number)
        rows.append(f"<div><code>{number}</code> {marked}</div>")
    st.markdown(html_block("".join(rows)), unsafe_allow_html=True)


def _show_passage(app: Omnidex, hit: SearchHit, query: str) -> None:
    """The hit's whole section (a web page's, a document's, an e-book's; a message's body or attachment), in
    order, the hit's part marked, headed by its place; a web page's deep link as text to copy."""
    found = passage(hit, _segments(app, hit.asset_id, app.generation))
    _heading(place(hit))
    if anchor := hit.payload.get("anchor"):
        st.caption("This section in a browser on the machine that holds the file:")
        st.code(f"{printable(hit.path)}#{printable(str(anchor))}", language=None)  # text, not a file:// link
    st.markdown(passage_html(found, query), unsafe_allow_html=True)


def passage_html(found: Passage, query: str) -> str:
    """One HTML block of the passage's paragraphs, the hit's part in <mark>, the query's words in <strong>."""
    paragraphs: list[list[str]] = [[]]
    for piece in found.pieces:
        for n, line in enumerate(piece.text.split("\n")):
            if (n > 0 or not piece.continues) and paragraphs[-1]:
                paragraphs.append([])
            if line.strip():
                marked = _spaced(line, highlight(line, query))
                paragraphs[-1].append(f"<mark>{marked}</mark>" if piece.hit else marked)
    before = f"<p><em>… {found.before} earlier passages</em></p>" if found.before else ""
    after = f"<p><em>{found.after} later passages …</em></p>" if found.after else ""
    body = "".join(f"<p>{''.join(p)}</p>" for p in paragraphs if p)
    return html_block(before + body + after)


def _spaced(text: str, marked: str) -> str:
    """`marked` (escaped, trimmed) with a space where `text` began or ended with one: pieces of a line meet."""
    return (" " if text[:1].isspace() else "") + marked + (" " if text[-1:].isspace() else "")


def _show_rows(app: Omnidex, hit: SearchHit) -> None:
    """A table hit's rows as a table under its header row's names, titled by its sheet and rows."""
    import pandas as pd  # Streamlit's own dependency; loaded when a table is shown

    found = table(hit, _segments(app, hit.asset_id, app.generation))
    where = place(hit)
    _heading(where[:1].upper() + where[1:])
    cells = [[printable(cell) for cell in row] for row in found.rows]
    index = pd.Index(found.numbers, name="row") if found.numbers else None
    st.dataframe(pd.DataFrame(cells, columns=[printable(c) for c in found.columns], index=index),
                 hide_index=index is None)


def _show_message_head(hit: SearchHit) -> None:
    """An e-mail hit's message header (subject, from, to, date), and for an attachment its name and message."""
    p = hit.payload
    recipients: Sequence[str] = p.get("recipients") or []
    fields = [("Subject", p.get("subject") or "(no subject)"), ("From", p.get("sender")),
              ("To", ", ".join(str(r) for r in recipients)), ("Date", str(p.get("sent") or "")[:16].replace("T", " "))]
    if p.get("attachment"):
        fields.append(("Attachment", f"{p['attachment']}, attachment of {p.get('attachment_of') or 'the message'}"))
    st.markdown(html_block("".join(f"<div><strong>{label}:</strong> {text_html(str(value))}</div>"
                                   for label, value in fields if value)), unsafe_allow_html=True)
