"""The ask page: a question gets an answer streamed as it is written, with numbered citations that each open the
cited page, slide or moment."""

from __future__ import annotations

import re

import streamlit as st

from core.errors import BadQuery
from omnidex import Answer, label
from ui.components import get_app, show_preview
from ui.errors import explanation
from ui.safety import escape_markdown, html_block, literal, text_html

_MARKER = re.compile(r"\[(\d+)\]")


def answer_html(text: str) -> str:
    """The answer's plain text as escaped HTML (quoted document text makes no links), paragraph breaks kept,
    citation markers in bold."""
    paragraphs = "".join(f"<p>{text_html(p)}</p>" for p in re.split(r"\n\s*\n", text) if p.strip())
    return html_block(_MARKER.sub(r"<strong>[\1]</strong>", paragraphs))


def stream_answer(question: str) -> Answer:
    """Show the text as it arrives (escaped as it grows), and return the final Answer."""
    shown = st.empty()
    text = ""
    for piece in get_app().answerer.stream(question):
        if isinstance(piece, Answer):
            shown.empty()
            return piece
        text += piece
        shown.markdown(answer_html(text + " ▌"), unsafe_allow_html=True)
    raise RuntimeError("the answerer ended without an answer")


def show_answer(answer: Answer) -> None:
    """The answer, then one row per citation: its place, the quoted passage, a button that opens it."""
    if not answer.found:
        st.info(escape_markdown(f"{answer.text} Try other words, or add the files that hold the answer on the "
                                "Library page."))
        return
    st.markdown(answer_html(answer.text), unsafe_allow_html=True)
    st.caption("Written by the configured language model from the passages below." if answer.generated
               else "Quoted from your files: the sentences that answer the question best.")
    for citation in answer.citations:
        with st.container(border=True, key=f"citation-{citation.number}"):
            st.button(f"[{citation.number}] {literal(label(citation.hit))}", key=f"cite-{citation.number}",
                      on_click=_open, args=(citation.number,))
            st.markdown(html_block(f"<blockquote>{text_html(citation.quote)}</blockquote>"), unsafe_allow_html=True)


def _open(number: int) -> None:
    st.session_state["citation"] = number


def _new_question() -> None:
    st.session_state.pop("answer", None)
    st.session_state.pop("citation", None)


def main() -> None:
    st.title("Ask")
    app = get_app()
    question = st.text_input("Question", placeholder="What did the quarterly review say about churn?",
                             key="question", on_change=_new_question)
    if not question.strip():
        st.caption("Ask a question about your files; the answer cites the pages, slides and moments it comes from. "
                   "Filters such as type:pdf or in:folder narrow the files it reads.")
        return
    answer_col, preview_col = st.columns([3, 2])
    with answer_col:
        answer = st.session_state.get("answer")
        if answer is None or answer.question != question:
            try:
                answer = stream_answer(question)
            except BadQuery as e:
                st.error(explanation(e))
                return
            except Exception as e:  # a chat endpoint that failed half-way through its answer
                if not app.settings.llm_base_url:
                    raise
                st.error(escape_markdown(f"The language model at {app.settings.llm_base_url} stopped answering ({e}). "
                                         "Ask again, or unset OMNIDEX_LLM_BASE_URL to answer with quotes."))
                return
            st.session_state["answer"] = answer
        show_answer(answer)
    cited = {c.number: c for c in answer.citations}
    chosen = cited.get(st.session_state.get("citation", 1))
    if chosen is not None:
        with preview_col, st.container(key="preview"):
            show_preview(app, chosen.hit, question)


main()
