"""The prompt of the generated answer: only the numbered passages, cite them, or say the answer is not there."""

from __future__ import annotations

from langchain_core.prompts import ChatPromptTemplate

from retrieval.present import label
from retrieval.search import SearchHit

SYSTEM = (
    "You answer questions about the user's own files, using only the numbered passages the user gives you. "
    "Back every statement with the number of the passage it comes from in square brackets, like [1] or [2][3]. "
    "Use nothing you know from elsewhere. If the passages do not answer the question, say that you could not "
    "find the answer in the files, and cite nothing. Answer briefly, in plain text."
)

HUMAN = "Passages:\n\n{passages}\n\nQuestion: {question}"

ANSWER_PROMPT = ChatPromptTemplate.from_messages([("system", SYSTEM), ("human", HUMAN)])


def numbered_passages(hits: list[SearchHit]) -> str:
    """The passages as the model sees them: "[n] (where)" then the text, numbered from 1."""
    return "\n\n".join(f"[{n}] ({label(hit, ', ')})\n{hit.text.strip()}" for n, hit in enumerate(hits, start=1))
