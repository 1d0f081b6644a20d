"""Errors shown in the browser as one sentence and what to do about it; never a traceback or a server path.

Whoever holds the browser may not run the server: the details (and paths) go to the server's log only.
"""

from __future__ import annotations

import logging
import re

from core.errors import BadQuery, CatalogDamaged, IndexBusy, IndexDamaged, ModelMismatch, OmnidexError, Refused
from ui.safety import escape_markdown

log = logging.getLogger(__name__)

_ABSOLUTE_PATH = re.compile(r"(?<![\w:/])/(?:[^\s/'\"()]+/)*[^\s/'\"()]+")
# What the server's state needs before this page works again (the CLI says the same in its own words).
_ON_THE_SERVER = {
    IndexBusy: ("The index is in use by another Omnidex program on the server (an `omnidex ingest`, `watch` or "
                "`reindex` run, or a second UI). Wait for it to finish, or stop it, then reload this page."),
    ModelMismatch: ("The index was built with other models than the configured ones, and searching it with these "
                    "would give wrong results. Run `omnidex reindex` on the server, or configure the models the "
                    "index was built with again, then reload this page."),
    CatalogDamaged: ("The index's catalog on the server is damaged. Run `omnidex check --repair` on the server: "
                     "it rebuilds the catalog from the index. Then reload this page."),
    IndexDamaged: ("The index's store on the server is damaged. Run `omnidex ingest` (or `omnidex check --repair`) on "
                   "the server: it sets the damaged store aside and indexes every file again. Then reload this page."),
}


def explanation(error: Exception) -> str:
    """Markdown for an error: what happened and the remedy, in words the person at the browser can act on.
    Any OmnidexError is said in its own sentences (without server paths); anything else is a bug, logged."""
    for kind, words in _ON_THE_SERVER.items():
        if isinstance(error, kind):
            return words
    if isinstance(error, (BadQuery, Refused)):  # the person's own input, said back to them
        return escape_markdown(error.explain())
    if isinstance(error, OmnidexError):
        return escape_markdown(without_paths(error.explain()))
    if isinstance(error, ValueError):
        return escape_markdown(f"That input was not accepted: {without_paths(str(error))}. Change it and try again.")
    log.error("the page failed", exc_info=error)
    return escape_markdown(f"Something went wrong ({type(error).__name__}). Try again; if it keeps happening, the "
                           "server's log has the details.")


def without_paths(message: str) -> str:
    """The message with absolute file paths replaced by "…": they describe the server, not the input."""
    return _ABSOLUTE_PATH.sub("…", message)
