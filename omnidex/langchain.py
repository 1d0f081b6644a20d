"""Omnidex as a LangChain retriever, so LCEL chains and agents can search the archive."""

from __future__ import annotations

from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict

from retrieval.filters import SearchFilters
from retrieval.present import hit_json
from retrieval.search import SearchHit


class OmnidexRetriever(BaseRetriever):
    """Documents carry what a citation needs: path, modality, page or slide, t0/t1 and score."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    app: Any  # omnidex.service.Omnidex (Any: pydantic cannot validate it, and it need not)
    k: int = 5
    filters: SearchFilters = SearchFilters()

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun) -> list[Document]:
        return [to_document(hit) for hit in self.app.search(query, self.filters, self.k)]


def to_document(hit: SearchHit) -> Document:
    metadata = {key: value for key, value in hit_json(hit).items() if value is not None and key != "more"}
    return Document(page_content=hit.text, metadata=metadata, id=hit.id)
