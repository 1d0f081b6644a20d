"""A generated answer from an OpenAI-compatible chat endpoint (Ollama, vLLM, llama.cpp server, OpenAI).

The model sees only the numbered retrieved passages (qa/prompts.py); its text
streams as it is written, and the [n] markers it wrote become the citations.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from langchain_core.language_models import BaseChatModel

from core.config import Settings
from qa.prompts import ANSWER_PROMPT, numbered_passages
from qa.types import Answer, Citation
from retrieval.search import SearchHit

_MARKER = re.compile(r"([ \t]*)\[(\d+(?:\s*,\s*\d+)*)\]")  # with the space before it


def chat_model(settings: Settings) -> BaseChatModel:
    """The configured endpoint as a LangChain chat model; local servers need no key, so a placeholder is sent."""
    from langchain_openai import ChatOpenAI

    return ChatOpenAI(base_url=settings.llm_base_url, model=settings.llm_model,
                      api_key=settings.llm_api_key or "not-needed", temperature=0.0, streaming=True,
                      stream_usage=False, max_retries=1, timeout=120)


class Generator:
    def __init__(self, model: BaseChatModel) -> None:
        self.chain = ANSWER_PROMPT | model

    def stream(self, question: str, hits: list[SearchHit]) -> Iterator[str | Answer]:
        """Text deltas as the model writes them, then the Answer with the citations it made."""
        pieces: list[str] = []
        for chunk in self.chain.stream({"passages": numbered_passages(hits), "question": question}):
            delta = str(chunk.text)  # text blocks only, whatever shape the provider's content has
            if delta:
                pieces.append(delta)
                yield delta
        yield cited_answer(question, "".join(pieces), hits)


def cited_answer(question: str, text: str, hits: list[SearchHit]) -> Answer:
    """Markers become citations; numbers outside the passages are removed, "[1, 2]" becomes "[1][2]".

    An answer that cites nothing is not grounded in the files, so it does not count as found.
    """
    cited: list[int] = []

    def rewrite(match: re.Match) -> str:
        numbers = [int(n) for n in match.group(2).split(",")]
        valid = [n for n in numbers if 1 <= n <= len(hits)]
        cited.extend(n for n in valid if n not in cited)
        return match.group(1) + "".join(f"[{n}]" for n in valid) if valid else ""

    clean = _MARKER.sub(rewrite, text).strip()
    citations = [Citation(n, hits[n - 1], " ".join(hits[n - 1].text.split())) for n in sorted(cited)]
    return Answer(question, clean, citations, found=bool(citations), generated=True)
