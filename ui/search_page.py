"""The search page: one box with the inline filter syntax, sidebar filters with counts, result cards with
previews, "find similar", search by picture, paging."""

from __future__ import annotations

import hashlib
import time
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timezone
from datetime import time as clock_time
from pathlib import Path

import streamlit as st
from PIL import Image, UnidentifiedImageError

from omnidex import (
    EXTENSIONS,
    FileType,
    Omnidex,
    SearchFilters,
    SearchResults,
    Settings,
    label,
    over_size_limit,
    parse_query,
)
from ui.components import get_app, result_card, show_preview
from ui.errors import explanation
from ui.links import chosen_days, follow_url, record_in_url
from ui.safety import escape_markdown, literal, readable

MAX_RESULTS = 100  # fetched once per search, then paged without searching again
PICTURE_TYPES = sorted(ext.lstrip(".") for ext, kind in EXTENSIONS.items() if kind is FileType.IMAGE)
SHOWN_TYPES = [t.value for t in FileType if t is not FileType.TEXT]


@st.cache_data(ttl=30, show_spinner=False)
def _counts(_app: Omnidex, data_dir: str, key: str, filters: SearchFilters) -> dict[str, int]:
    """Segments per value of a payload field; data_dir keys the cache (the app itself is not hashed)."""
    return {str(k): v for k, v in _app.counts(key, filters).items()}


@st.cache_data(ttl=30, show_spinner=False)
def _folders(_app: Omnidex, data_dir: str) -> dict[str, int]:
    """Folders that directly hold indexed files, with how many."""
    return dict(sorted(Counter(readable(str(Path(r.path).parent)) for r in _app.indexed_files()).items()))


def _with_count(counts: dict[str, int]) -> Callable[[str], str]:
    return lambda value: f"{value} ({counts.get(value, 0)})"


def sidebar_filters(app: Omnidex) -> tuple[SearchFilters, int]:
    """The filters chosen in the sidebar; each list counts segments under the other filters chosen."""
    data_dir = str(app.settings.data_dir)
    state = st.session_state
    with st.sidebar:
        st.header("Filters")
        folders = _folders(app, data_dir)
        if follow_url(SHOWN_TYPES, folders):
            _reset_selection()
        folder = st.selectbox("Folder", ["", *folders], key="folder",
                              format_func=lambda f: "All folders" if not f else f"{f} ({folders.get(f, 0)})")
        dates = st.date_input("Date", value=(), key="dates", format="YYYY-MM-DD",
                              help="When a photo was taken or a document made, else when the file last changed.")
        after, before = _date_range(dates)
        base = SearchFilters(path_prefix=folder or None, after=after, before=before)
        type_counts = _counts(app, data_dir, "file_type", SearchFilters(
            path_prefix=base.path_prefix, after=after, before=before, tags=tuple(state.get("tags", ()))))
        types = st.multiselect("File type", SHOWN_TYPES, key="types", format_func=_with_count(type_counts))
        tag_counts = _counts(app, data_dir, "tags", SearchFilters(
            tuple(types), base.path_prefix, after, before))
        tag_options = sorted(set(tag_counts) | set(state.get("tags", ())), key=lambda t: (-tag_counts.get(t, 0), t))
        tags = st.multiselect("Tags", tag_options, key="tags", format_func=_with_count(tag_counts))
        page_size = st.slider("Results per page", 5, 50, 10, step=5, key="limit")
    return SearchFilters(tuple(types), base.path_prefix, after, before, tuple(tags)), page_size


def _date_range(value: object) -> tuple[datetime | None, datetime | None]:
    """The sidebar's (start, end) dates as an inclusive UTC range; a half-chosen range is open-ended."""
    days = chosen_days(value)
    after = datetime.combine(days[0], clock_time.min, tzinfo=timezone.utc) if days else None
    before = datetime.combine(days[-1], clock_time.max, tzinfo=timezone.utc) if len(days) > 1 else None
    return after, before


def filter_words(filters: SearchFilters) -> list[str]:
    """The filters in the query syntax, for messages that say which one to remove."""
    words = [f"type:{','.join(filters.file_types)}"] if filters.file_types else []
    if filters.path_prefix:
        words.append(f"in:{filters.path_prefix}")
    if filters.after:
        words.append(f"after:{filters.after.date().isoformat()}")
    if filters.before:
        words.append(f"before:{filters.before.date().isoformat()}")
    words += [f"tag:{t}" for t in filters.tags] + [f"lang:{lang}" for lang in filters.languages]
    words += [f'from:"{s}"' if " " in s else f"from:{s}" for s in filters.senders]
    words += [f"subject:{w}" for w in filters.subject_words]
    return words


def _reset_selection() -> None:
    for key in ("selected", "similar", "similar_to"):
        st.session_state.pop(key, None)


def _title_of_kept(point_id: str) -> str:
    """The name and place of a hit among the results on screen, for the "find similar" heading."""
    kept = st.session_state.get("results")
    for hit in (h for top in (kept[1] if kept else []) for h in (top, *top.more)):
        if hit.id == point_id:
            return label(hit)
    return "the result you chose"


def _cached_search(app: Omnidex, key: tuple, run: Callable[[], SearchResults]
                   ) -> tuple[SearchResults, float, bool]:
    """Hits for a search, kept in the session so paging, previews and reruns do not search again (until an
    indexing run changes the index)."""
    key = (*key, app.generation)
    kept = st.session_state.get("results")
    if kept is not None and kept[0] == key:
        return kept[1], kept[2], False
    started = time.perf_counter()
    hits = run()
    elapsed = time.perf_counter() - started
    st.session_state["results"] = (key, hits, elapsed)
    return hits, elapsed, True


def _empty_state(app: Omnidex) -> None:
    status = app.status()
    files = status["searchable"]["by_words"]
    if not files:
        st.info("Nothing is indexed yet. Add a folder or upload files on the Library page.")
        st.page_link("ui/library_page.py", label="Go to the Library", icon=":material/library_books:")
        return
    st.caption(f"{status['points']} segments from {files} files indexed. Try a few words, a phrase in quotes, "
               "or filters such as type:pdf, after:2024-01-01, in:folder, tag:dog.")


def main() -> None:
    st.title("Search")
    app = get_app()
    filters, page_size = sidebar_filters(app)

    query = st.text_input("Search", placeholder="Ask for a page, a slide, a photo or a moment…",
                          label_visibility="collapsed", key="query", on_change=_reset_selection)
    record_in_url()
    with st.expander("Search with a picture"):
        picture = st.file_uploader("A picture: find ones like it (words in the box above steer the search)",
                                   type=PICTURE_TYPES, key="picture", on_change=_reset_selection)
    similar = st.session_state.get("similar")
    limit = MAX_RESULTS

    try:
        if similar:
            st.button("← Back to results", on_click=_reset_selection)
            source = st.session_state.get("similar_to")
            if source is None or source[0] != similar:  # named while the results it was chosen from are kept
                source = st.session_state["similar_to"] = (similar, _title_of_kept(similar))
            heading = f"Like {literal(source[1])}"
            hits, elapsed, fresh = _cached_search(app, ("similar", similar, filters),
                                                  lambda: app.find_similar(similar, filters, limit))
        elif picture is not None and over_size_limit(picture.size, Settings().max_upload_mb):
            st.error(f"That picture is larger than {Settings().max_upload_mb} MB. Try a smaller copy of it.")
            return
        elif picture is not None:
            digest = hashlib.sha256(picture.getvalue()).hexdigest()
            heading = f"Like {literal(picture.name)}"
            hits, elapsed, fresh = _cached_search(app, ("picture", digest, query, filters), lambda: app.search_by_image(
                Image.open(picture), text=query, filters=filters, limit=limit))
        elif query.strip():
            parse_query(query, filters)  # a syntax error is reported before any work is done
            heading = ""
            hits, elapsed, fresh = _cached_search(app, ("text", query, filters),
                                                  lambda: app.search(query, filters, limit))
        else:
            _empty_state(app)
            return
    except Exception as e:  # the page stays usable; a traceback goes to the server log, never to the browser
        unreadable = picture is not None and not similar and isinstance(e, (UnidentifiedImageError, OSError))
        st.error("That picture cannot be read. Try a JPEG or PNG file." if unreadable else explanation(e))
        return

    if not hits:
        active = filter_words(parse_query(query, filters).filters if query.strip() else filters)
        advice = "Try fewer or other words" + (f", or remove the filter {' '.join(active)}" if active else "")
        st.info(escape_markdown(f"No results. {advice}."))
        return

    pages = (len(hits) + page_size - 1) // page_size
    if fresh or st.session_state.get("results_page", 1) > pages:
        st.session_state["results_page"] = 1
    results, preview = st.columns([3, 2])
    with results:
        st.caption(f"{heading + ': ' if heading else ''}{len(hits)} results in {elapsed:.2f} s")
        if hits.notice:  # files read whose meaning is still being embedded
            st.info(escape_markdown(f"{hits.notice}."), icon=":material/hourglass_top:")
        page_number = st.session_state.get("results_page", 1)
        shown = hits[(page_number - 1) * page_size: page_number * page_size]
        for hit in shown:
            result_card(app, hit, query, "selected", "similar")
        if pages > 1:
            st.pagination(pages, key="results_page")
    selected = next((h for h in hits if h.id == st.session_state.get("selected")), shown[0])
    with preview, st.container(key="preview"):
        show_preview(app, selected, query)


main()
