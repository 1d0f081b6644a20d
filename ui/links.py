"""A search as a URL: the words and the sidebar's filters in the query string, so a search can be bookmarked,
shared, and gone back to with the browser's Back button.

Streamlit pushes a history entry each time a script changes `st.query_params` (outside a Back/Forward
navigation, where it replaces), and on Back or Forward it reruns the page with that entry's query string.
The page therefore reads the URL before its widgets are made, and writes it after a search changed on screen.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import date
from typing import Any

import streamlit as st

Params = dict[str, list[str]]

# widget key (ui/search_page.py) -> query parameter; the dates widget is written as after= and before=
LIST_PARAMS = {"types": "type", "tags": "tag"}
URL_KEYS = ("q", "type", "in", "after", "before", "tag")
_SEEN = "url_seen"  # the query string the widgets were last set from or written to
_SHOWN = "url_shown"  # the search (as parameters) the widgets then held


def search_params(state: Mapping[str, Any]) -> Params:
    """The search on screen as query parameters; empty ones are left out, so an empty search is a bare URL."""
    params: Params = {}
    query = str(state.get("query") or "").strip()
    if query:
        params["q"] = [query]
    for key, name in LIST_PARAMS.items():
        if values := [str(v) for v in state.get(key) or ()]:
            params[name] = values
    if folder := state.get("folder"):
        params["in"] = [str(folder)]
    days = chosen_days(state.get("dates"))
    if days:
        params["after"] = [days[0].isoformat()]
    if len(days) > 1:
        params["before"] = [days[-1].isoformat()]
    return {name: params[name] for name in URL_KEYS if name in params}


def widget_values(params: Mapping[str, list[str]], types: Collection[str], folders: Collection[str]
                  ) -> dict[str, Any]:
    """The widgets' values a URL asks for. The URL can be edited by anyone: a type or folder the page does not
    offer, or a date that is not one, is left out rather than shown as an error."""
    values: dict[str, Any] = {"query": (params.get("q") or [""])[0]}
    values["types"] = [t for t in dict.fromkeys(_commas(params.get("type"))) if t in types]
    values["tags"] = list(dict.fromkeys(t for t in params.get("tag") or () if t.strip()))
    folder = (params.get("in") or [""])[0]
    values["folder"] = folder if folder in folders else ""
    after, before = (_day((params.get(name) or [""])[0]) for name in ("after", "before"))
    values["dates"] = (after, before) if after and before and after <= before else (after,) if after else ()
    return values


def follow_url(types: Collection[str], folders: Collection[str]) -> bool:
    """Before the search widgets are made: a URL the page did not write itself (a link opened, a bookmark,
    Back or Forward) sets them. Returns whether it did."""
    seen = {name: st.query_params.get_all(name) for name in URL_KEYS if st.query_params.get_all(name)}
    state = st.session_state
    if state.get(_SEEN) == seen:
        return False
    state.update(widget_values(seen, types, folders))
    state[_SEEN] = seen
    state[_SHOWN] = search_params(state)  # a URL spelled another way is kept as it was, not pushed again
    return True


def record_in_url() -> None:
    """After the search widgets are made: a search changed on screen becomes the URL, as a new history entry."""
    state = st.session_state
    shown = search_params(state)
    if state.get(_SHOWN) == shown:
        return
    state[_SEEN] = state[_SHOWN] = shown
    st.query_params.from_dict(shown)


def _commas(values: list[str] | None) -> list[str]:
    """Repeated parameters (type=pdf&type=image) and a comma list (type=pdf,image) alike; a tag may hold a
    comma, so tags are only ever repeated."""
    return [part.strip() for value in values or () for part in value.split(",") if part.strip()]


def chosen_days(value: object) -> list[date]:
    """The dates a range date_input holds: none, the start of a half-chosen range, or start and end."""
    return [d for d in (value if isinstance(value, tuple) else (value,)) if isinstance(d, date)]


def _day(text: str) -> date | None:
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None
