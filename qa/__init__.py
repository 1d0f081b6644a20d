"""Question answering over the indexed files: extractive offline, generated with a configured chat endpoint."""

from qa.answer import Answerer
from qa.types import Answer, Citation

__all__ = ["Answer", "Answerer", "Citation"]
