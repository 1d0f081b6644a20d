"""Errors that describe what is wrong with one file; they are recorded, never raised past a batch."""

from core.errors import BadFile


class ExtractionError(BadFile):
    """The file cannot be indexed; the message is shown to the user as the reason."""
