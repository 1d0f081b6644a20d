"""Question answering: cited extractive answers, "not found" instead of guesses, and generated answers
streamed from a real OpenAI-compatible HTTP endpoint (a local stand-in for Ollama or vLLM)."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from conftest import make_settings, write_pdf

from omnidex.service import Omnidex
from qa import Answer, Answerer, Citation
from qa.extractive import ScoredSentence, compose
from qa.sentences import MAX_CHARS, split_sentences
from retrieval.filters import SearchFilters

GREENHOUSE = [
    ("The community greenhouse opened in 2019 on the roof of the library. Volunteers keep a rota on the notice "
     "board by the door, and every bed has a label with the name of the person who looks after it."),
    ("Tomato seedlings are watered every morning before nine o'clock, never in the evening, because damp leaves "
     "overnight invite mildew. Once the first flowers open, each plant gets one litre of water a day. "
     "Feed them with seaweed fertiliser every second Friday."),
    ("Aphids are the most common pest. We release ladybird larvae in May instead of spraying, and we check the "
     "undersides of the pepper leaves every week."),
]
BIKE = [
    ("Tyre pressure for the city bikes is 4.5 bar in summer and 4 bar in winter. Check it with the floor pump "
     "in the shed; the gauge on the small hand pump reads about half a bar too high."),
    ("The chain is cleaned and oiled once a month with the dry lubricant from the blue bottle. Wipe off the "
     "excess oil afterwards, otherwise it collects grit and wears the cassette."),
]
TRAVEL = [
    ("Train tickets for work trips are reimbursed in second class. Keep the ticket and submit it with the "
     "expense form within thirty days of the journey."),
    ("Hotels are booked through the travel desk. A night costs at most 140 euros in most cities and 190 euros "
     "in London, Paris and Zurich."),
]

ANSWERABLE = "When should tomato seedlings be watered?"
UNANSWERABLE = "Who won the football world cup in 2018?"
MARKER = re.compile(r"\[(\d+)\]")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("qa-corpus")
    write_pdf(folder / "greenhouse.pdf", GREENHOUSE)
    write_pdf(folder / "workshop" / "bike_care.pdf", BIKE)
    write_pdf(folder / "travel_policy.pdf", TRAVEL)
    return folder


@pytest.fixture(scope="module")
def qa_app(corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Omnidex]:
    app = Omnidex(make_settings(tmp_path_factory.mktemp("qa-data")))
    report = app.ingest([corpus])
    assert not report.failures and report.points_written >= 7
    yield app
    app.close()


@pytest.fixture(scope="module")
def answerer(qa_app: Omnidex) -> Answerer:
    return Answerer(qa_app.search, qa_app.settings, lambda: qa_app.models.cross_encoder)


def page_text(citation: Citation) -> str:
    """The cited page's text, re-read from the PDF itself."""
    import pymupdf

    with pymupdf.open(citation.hit.path) as doc:
        return " ".join(doc[citation.hit.page - 1].get_text().split())


# --------------------------------------------------------------------------- extractive


def test_an_answerable_question_cites_the_page_that_answers_it(answerer: Answerer) -> None:
    answer = answerer.answer(ANSWERABLE)
    assert answer.found and not answer.generated
    first = answer.citations[0]
    assert Path(first.hit.path).name == "greenhouse.pdf" and first.hit.page == 2
    assert "every morning" in first.quote
    # every quoted sentence is on the page it cites, not made up or taken from elsewhere
    for citation in answer.citations:
        page = page_text(citation)
        assert citation.quote and all(sentence in page for sentence in split_sentences(citation.quote)), citation.quote
    assert first.quote in answer.text


def test_citation_numbers_match_the_markers_and_quotes_keep_reading_order(answerer: Answerer) -> None:
    hits = [*answerer.retrieve("What pressure do bike tyres need?", SearchFilters())[:1],
            *answerer.retrieve(ANSWERABLE, SearchFilters())[:1]]
    assert [(Path(h.path).name, h.page) for h in hits] == [("bike_care.pdf", 1), ("greenhouse.pdf", 2)]
    tyres, tomatoes = split_sentences(hits[0].text), split_sentences(hits[1].text)
    # best first: a tyre sentence, then two tomato sentences picked out of their order on the page
    picked = [ScoredSentence(0, 0, tyres[0], 0.9), ScoredSentence(1, 2, tomatoes[2], 0.8),
              ScoredSentence(1, 0, tomatoes[0], 0.7)]
    answer = compose("q", hits, picked)
    assert answer.text == f"{tyres[0]} [1] {tomatoes[0]} {tomatoes[2]} [2]"
    assert [(c.number, c.hit.page, c.quote) for c in answer.citations] == [
        (1, 1, tyres[0]), (2, 2, f"{tomatoes[0]} {tomatoes[2]}")]


def test_an_answer_has_one_number_per_cited_place(answerer: Answerer) -> None:
    answer = answerer.answer("How are tomato plants in the greenhouse watered and fed?")
    assert answer.found
    numbers = [c.number for c in answer.citations]
    assert numbers == list(range(1, len(numbers) + 1))
    assert [int(n) for n in MARKER.findall(answer.text)] == numbers
    assert len({(c.hit.path, c.hit.page) for c in answer.citations}) == len(numbers)
    assert answer.citations[0].hit.page == 2 and "watered" in answer.citations[0].quote


def test_a_question_the_files_cannot_answer_is_not_guessed(answerer: Answerer) -> None:
    answer = answerer.answer(UNANSWERABLE)
    assert not answer.found
    assert answer.citations == [] and not MARKER.search(answer.text)
    assert "couldn't find" in answer.text


@pytest.mark.parametrize("question", ["Can I fly business class on work trips?",
                                      "What is the wifi password of the greenhouse?"])
def test_passages_on_the_topic_that_do_not_answer_give_no_answer(answerer: Answerer, question: str) -> None:
    assert answerer.retrieve(question, SearchFilters()), "retrieval finds the topic; the answer step must refuse"
    answer = answerer.answer(question)
    assert not answer.found and answer.citations == [] and "couldn't find an answer" in answer.text


def test_filters_narrow_what_an_answer_may_cite(answerer: Answerer, corpus: Path) -> None:
    inside = answerer.answer(f"in:{corpus / 'workshop'} What pressure do bike tyres need?")
    assert inside.found and {Path(c.hit.path).name for c in inside.citations} == {"bike_care.pdf"}
    outside = answerer.answer(f"in:{corpus / 'workshop'} {ANSWERABLE}", SearchFilters(file_types=("pdf",)))
    assert not outside.found and outside.citations == []  # the greenhouse page is out of bounds, bikes say nothing


def test_the_extractive_stream_gives_text_then_one_final_answer(answerer: Answerer) -> None:
    pieces = list(answerer.stream(ANSWERABLE))
    assert isinstance(pieces[-1], Answer) and not any(isinstance(p, Answer) for p in pieces[:-1])
    assert "".join(p for p in pieces[:-1]) == pieces[-1].text


# --------------------------------------------------------------------------- generative


class ChatCompletionsServer:
    """An OpenAI-compatible /v1/chat/completions endpoint that streams server-sent events, as Ollama does.

    Its answer is grounded in the request: asked about watering, it quotes the passage that mentions it and
    cites that passage's number (plus one number out of range, which the client must drop); asked anything
    else, it says it does not know.
    """

    def __init__(self) -> None:
        self.requests: list[dict] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.requests.append({"path": self.path, "body": body})
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()
                for piece in outer.reply(body["messages"][-1]["content"]):
                    self.wfile.write(f"data: {json.dumps(outer.chunk(body['model'], piece))}\n\n".encode())
                    self.wfile.flush()
                    time.sleep(0.01)
                self.wfile.write(f"data: {json.dumps(outer.chunk(body['model'], None))}\n\n".encode())
                self.wfile.write(b"data: [DONE]\n\n")

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    @staticmethod
    def reply(prompt: str) -> list[str]:
        passages = dict(re.findall(r"^\[(\d+)\] \([^)]*\)\n(.+?)(?=\n\n\[\d+\] |\n\nQuestion: )", prompt, re.DOTALL | re.MULTILINE))
        question = prompt.rsplit("Question: ", 1)[-1]
        number = next((n for n, text in passages.items() if "watered" in text and "watered" in question), None)
        if number is None:
            return ["I could not ", "find the answer ", "in the files."]
        sentence = next(s for s in split_sentences(passages[number]) if "watered" in s)
        words = sentence.rstrip(".").split(" ")
        return [*(w + " " for w in words[:-1]), words[-1], f" [{number}]", "[99]."]

    @staticmethod
    def chunk(model: str, content: str | None) -> dict:
        delta = {"role": "assistant", "content": content} if content is not None else {}
        return {"id": "chatcmpl-test", "object": "chat.completion.chunk", "created": 0, "model": model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": None if content is not None else "stop"}]}

    def __enter__(self) -> ChatCompletionsServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def endpoint() -> Iterator[ChatCompletionsServer]:
    with ChatCompletionsServer() as server:
        yield server


def generative(qa_app: Omnidex, base_url: str, monkeypatch: pytest.MonkeyPatch) -> Answerer:
    """An Answerer on the shared index, configured the way a user would: by settings alone."""
    monkeypatch.setattr(qa_app.settings, "llm_base_url", base_url)
    return Answerer(qa_app.search, qa_app.settings, lambda: qa_app.models.cross_encoder)


def test_a_generated_answer_streams_from_the_endpoint_and_cites_what_it_used(
        qa_app: Omnidex, endpoint: ChatCompletionsServer, monkeypatch: pytest.MonkeyPatch) -> None:
    answerer = generative(qa_app, endpoint.base_url, monkeypatch)
    pieces = list(answerer.stream(ANSWERABLE))
    deltas, final = pieces[:-1], pieces[-1]
    assert len(deltas) >= 5 and all(isinstance(d, str) for d in deltas)
    assert isinstance(final, Answer) and final.generated and final.found

    request = endpoint.requests[-1]
    assert request["path"] == "/v1/chat/completions"
    assert request["body"]["stream"] is True and request["body"]["model"] == "llama3.1"
    prompt = request["body"]["messages"][-1]["content"]
    assert ANSWERABLE in prompt
    retrieved = answerer.retrieve(ANSWERABLE, SearchFilters())
    for n, hit in enumerate(retrieved, start=1):  # every retrieved passage, numbered, and nothing else
        assert f"[{n}] (" in prompt and " ".join(hit.text.split())[:80] in " ".join(prompt.split())
    assert f"[{len(retrieved) + 1}] (" not in prompt

    cited = final.citations
    assert len(cited) == 1
    assert Path(cited[0].hit.path).name == "greenhouse.pdf" and cited[0].hit.page == 2
    assert "[99]" in "".join(deltas) and "[99]" not in final.text  # out-of-range numbers are dropped
    assert MARKER.findall(final.text) == [str(cited[0].number)]
    assert "watered every morning" in final.text


def test_a_generated_answer_without_grounding_is_not_found(qa_app: Omnidex, endpoint: ChatCompletionsServer,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    answer = generative(qa_app, endpoint.base_url, monkeypatch).answer("How often is the bike chain oiled?")
    assert endpoint.requests, "the endpoint was asked"
    assert answer.generated and not answer.found and answer.citations == []
    assert "could not find" in answer.text


def test_an_unreachable_endpoint_falls_back_to_the_extractive_answer(qa_app: Omnidex,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    with ChatCompletionsServer() as closed:
        url = closed.base_url  # nothing listens there any more
    answer = generative(qa_app, url, monkeypatch).answer(ANSWERABLE)
    assert answer.found and not answer.generated
    assert answer.citations[0].hit.page == 2


# --------------------------------------------------------------------------- sentences


def test_wrapped_lines_are_joined_and_sentences_split() -> None:
    text = ("The result was a long line of a paragraph that wraps at the\nend of the page and goes on here. "
            "Then a second sentence follows it.\n- first item of a list\n- second item of a list\n"
            "Dr. J. Smith wrote it, e.g. in 2020. It was fine!")
    assert split_sentences(text) == [
        "The result was a long line of a paragraph that wraps at the end of the page and goes on here.",
        "Then a second sentence follows it.",
        "- first item of a list",
        "- second item of a list",
        "Dr. J. Smith wrote it, e.g. in 2020.",
        "It was fine!",
    ]


def test_a_heading_joins_the_sentence_after_it_and_long_runs_are_cut() -> None:
    assert split_sentences("Watering\nSeedlings are watered every morning.") == [
        "Watering Seedlings are watered every morning."]
    long_run = " ".join(["token"] * 200)
    pieces = split_sentences(long_run)
    # about MAX_CHARS each (a tail of a word or two joins the piece before it), nothing lost
    assert len(pieces) > 1 and all(len(p) <= MAX_CHARS + 20 for p in pieces) and " ".join(pieces) == long_run
