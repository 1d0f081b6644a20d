"""Moved to sample_corpus/media.py, so benchmarks share it without importing the tests; this name stays only for
tests written against it on branches not merged yet (import from sample_corpus.media)."""

from sample_corpus.media import *  # noqa: F403
from sample_corpus.media import _run  # noqa: F401
