"""The search page: one box, a type filter, result cards and a page preview."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from omnidex.config import Settings
from omnidex.schema import FileType
from omnidex.service import Omnidex
from retrieval.filters import SearchFilters
from retrieval.query import QuerySyntaxError
from retrieval.search import SearchHit
from ui.previews import render_pdf_page


def get_app() -> Omnidex:
    settings = Settings()
    return _load_app(settings.model_dump_json())


@st.cache_resource(show_spinner="Loading models and index…")
def _load_app(settings_json: str) -> Omnidex:
    """One Omnidex per server process and configuration: models and store load once, not per rerun."""
    app = Omnidex(Settings.model_validate_json(settings_json))
    app.searcher  # noqa: B018 - warm up: open the store and load the encoder before the first query
    app.text_encoder.encode_query(["warm up"])
    return app


def _where(hit: SearchHit) -> str:
    if hit.page:
        return f"page {hit.page}"
    if hit.slide:
        return f"slide {hit.slide}"
    if hit.t0 is not None:
        return f"{hit.t0:.0f}s"
    return ""


def _show_preview(hit: SearchHit) -> None:
    path = Path(hit.path)
    st.subheader(f"{path.name} · {_where(hit)}")
    if not path.exists():
        st.warning("This file is no longer where it was indexed. Re-run ingestion to refresh the index.")
    elif hit.file_type == FileType.PDF.value and hit.page:
        st.image(render_pdf_page(path, hit.page, hit.text), width="stretch")
    st.text(hit.text)


def main() -> None:
    st.set_page_config(page_title="Omnidex", page_icon="🔎", layout="wide")
    st.title("Omnidex")
    app = get_app()

    with st.sidebar:
        st.header("Filters")
        types = st.multiselect("File type", [t.value for t in FileType], key="types")
        folder = st.text_input("Folder", placeholder="/path/to/folder", key="folder")
        limit = st.slider("Results", 5, 50, 10, key="limit")

    query = st.text_input("Search", placeholder="Ask for a page, a slide, a photo or a moment…",
                          label_visibility="collapsed", key="query")
    if not query.strip():
        status = app.status()
        st.caption(f"{status['points']} segments from {status['files'].get('indexed', 0)} files indexed.")
        return

    try:
        hits = app.search(query, SearchFilters(tuple(types), folder or None), limit)
    except QuerySyntaxError as e:
        st.error(f"{e}. Filters look like type:pdf, after:2024-01-01, in:folder, tag:cat, lang:en.")
        return
    if not hits:
        st.info("No results. Try other words, or remove filters.")
        return

    results, preview = st.columns([3, 2])
    with results:
        for hit in hits:
            with st.container(border=True):
                st.markdown(f"**{Path(hit.path).name}** · {_where(hit)} · `{hit.modality}`")
                st.text(hit.snippet)  # st.text never interprets document text as markup
                if st.button("Open", key=f"open-{hit.id}"):
                    st.session_state["selected"] = hit.id
    selected = next((h for h in hits if h.id == st.session_state.get("selected")), hits[0])
    with preview:
        _show_preview(selected)
