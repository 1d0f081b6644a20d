"""Errors that describe what is wrong with one file; they are recorded, never raised past a batch."""


class ExtractionError(Exception):
    """The file cannot be indexed; the message is shown to the user as the reason."""
