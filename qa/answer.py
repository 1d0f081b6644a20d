"""Answering a question from the indexed files, with citations that open the page, slide or moment.

Offline by default: the extractive answer. With `llm_base_url` configured, a
chat model writes the answer from the same retrieved passages; when that
endpoint cannot be reached the extractive answer is given instead.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Protocol

from langchain_core.language_models import BaseChatModel

from core.config import Settings
from qa.extractive import ExtractiveConfig, Extractor
from qa.generative import Generator, chat_model
from qa.types import Answer
from rerank.cross_encoder import CrossEncoder, load_cross_encoder
from retrieval.filters import SearchFilters
from retrieval.query import parse_query
from retrieval.search import SearchHit, SearchMode

log = logging.getLogger(__name__)

FALLBACK_CROSS_ENCODER = "ms-marco-minilm-l12"  # sentences still need a judge when reranking is switched off


class PassageSearch(Protocol):
    """The search an answer reads its passages from: the facade's `search`."""

    def __call__(self, query: str, filters: SearchFilters, *, limit: int, mode: SearchMode, group: bool,
                 cutoff: bool) -> list[SearchHit]: ...


class Answerer:
    def __init__(self, search: PassageSearch, settings: Settings,
                 cross_encoder: Callable[[], CrossEncoder | None] = lambda: None,
                 model: BaseChatModel | None = None, config: ExtractiveConfig = ExtractiveConfig()) -> None:
        """Given what it needs rather than the facade, so the facade builds it and qa stays below it.

        `cross_encoder` is the search's reranker (None when reranking is off: a small one judges sentences);
        `model` overrides the chat model made from settings (llm_base_url, llm_model, llm_api_key).
        """
        self._search = search
        self.settings = settings
        self._search_cross_encoder = cross_encoder
        self.extractor = Extractor(self._cross_encoder, config)
        if model is None and settings.llm_base_url:
            model = chat_model(settings)
        self.generator = Generator(model) if model is not None else None

    def answer(self, question: str, filters: SearchFilters = SearchFilters()) -> Answer:
        return next(piece for piece in self.stream(question, filters) if isinstance(piece, Answer))

    def stream(self, question: str, filters: SearchFilters = SearchFilters()) -> Iterator[str | Answer]:
        """Text deltas as they are ready, then exactly one Answer, last."""
        parsed = parse_query(question, filters)  # inline filters (type:, in:, ...) narrow the search
        hits = self.retrieve(parsed.text, parsed.filters)
        if not hits:
            yield Answer.not_found(question, generated=False)
            return
        if self.generator is not None:
            started = False
            try:
                for piece in self.generator.stream(parsed.text, hits):
                    started = True
                    yield replace(piece, question=question) if isinstance(piece, Answer) else piece
                return
            except Exception as error:
                if started or not _is_endpoint_error(error):  # half an answer cannot be taken back
                    raise
                log.warning("answer endpoint %s failed (%s); answering extractively", self.settings.llm_base_url,
                            error)
        answer = replace(self.extractor.answer(parsed.text, hits), question=question)
        yield answer.text
        yield answer

    def retrieve(self, text: str, filters: SearchFilters) -> list[SearchHit]:
        """The passages an answer may use: several per file (not grouped), only relevant ones."""
        if not text.strip():
            return []
        return self._search(text, filters, limit=self.settings.answer_passages, mode=SearchMode.RERANK,
                            group=False, cutoff=True)

    def _cross_encoder(self) -> CrossEncoder:
        # load_cross_encoder caches per model, so this is the instance search already uses.
        s = self.settings
        return self._search_cross_encoder() or load_cross_encoder(FALLBACK_CROSS_ENCODER, s.device, s.threads)


def _is_endpoint_error(error: Exception) -> bool:
    import httpx
    import openai

    return isinstance(error, (openai.APIConnectionError, openai.APIStatusError, openai.APITimeoutError,
                              httpx.HTTPError))
