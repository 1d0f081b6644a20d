"""The fusion's per-query choice on a real corpus: lexical evidence leads a lookup, dense leads a question.

Each retriever alone is measured beside the combination, as the dev-set benchmark does: the default
search must not fall below the better of its parts.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest

from omnidex.service import Omnidex
from retrieval.search import SearchMode, is_question, looks_up, may_decide
from sample_corpus import real_text_paragraphs
from tests.conftest import make_settings

PARAGRAPHS = 300


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Omnidex, list[str]]]:
    paragraphs = real_text_paragraphs()[:PARAGRAPHS]
    app = Omnidex(make_settings(tmp_path_factory.mktemp("fusion") / "data"))
    app.indexer.index_texts((f"doc{i}", text) for i, text in enumerate(paragraphs))
    yield app, paragraphs
    app.close()


def phrases(paragraphs: list[str], n: int, seed: int = 11) -> list[tuple[str, str]]:
    """Four consecutive words of a paragraph, stop words and all, as a person recalls a phrase."""
    rng = random.Random(seed)
    out = []
    for i in rng.sample(range(len(paragraphs)), n):
        words = paragraphs[i].replace("?", "").split()
        start = rng.randrange(len(words) - 4)
        out.append((" ".join(words[start : start + 4]), f"doc{i}"))
    return out


def first_hits(app: Omnidex, queries: list[tuple[str, str]], mode: SearchMode) -> int:
    return sum(bool(hits := app.search(q, limit=5, mode=mode, cutoff=False)) and hits[0].asset_id == doc
               for q, doc in queries)


def test_a_phrase_lookup_is_led_by_lexical_evidence(corpus) -> None:
    app, paragraphs = corpus
    queries = phrases(paragraphs, 40)
    bm25, dense, hybrid = (first_hits(app, queries, mode) for mode in (SearchMode.BM25, SearchMode.DENSE,
                                                                        SearchMode.HYBRID))
    assert dense < bm25, (bm25, dense)  # embeddings of four words are a weak clue to where they were said...
    assert hybrid >= bm25, (bm25, dense, hybrid)  # ...and the combination keeps what the lexical side knows


def test_a_question_keeps_the_dense_lead(corpus) -> None:
    app, _ = corpus
    question = "How do I read a file line by line?"
    assert is_question(question)
    searcher = app.searcher
    lists, points = searcher._candidates(*_vectors(app, question), SearchMode.HYBRID, None, 100)
    assert not looks_up(question, lists, points)
    # No lookup: the base weights (dense leads, BM25 re-orders its shortlist) decide, unchanged.
    deciders = may_decide(lists, points, question)
    plain = searcher.fuser.fuse({k: v for k, v in lists.items() if k != "phrase" or k in deciders}, deciders)
    assert [f.id for f in searcher.rank(question, lists, points)] == [f.id for f in plain]


def test_the_shape_of_a_lookup(corpus) -> None:
    app, paragraphs = corpus
    query, doc = phrases(paragraphs, 1, seed=3)[0]
    lists, points = app.searcher._candidates(*_vectors(app, query), SearchMode.HYBRID, None, 100)
    assert looks_up(query, lists, points) == (len(query.split()) <= 6)
    long_query = " ".join(paragraphs[0].split()[:12])
    lists, points = app.searcher._candidates(*_vectors(app, long_query), SearchMode.HYBRID, None, 100)
    assert not looks_up(long_query, lists, points)  # a pasted sentence is the phrase-proximity signal's case


def _vectors(app: Omnidex, text: str):
    from retrieval.search import QueryVectors

    return (QueryVectors(text=text, dense=app.text_encoder.encode_query([text])[0]),)


def test_questions_are_told_from_statements() -> None:
    assert not is_question("harbour crane will be inspected")
    assert is_question("what is a harbour crane")
    assert is_question("is a harbour crane tall?")
    assert not is_question("is based on the")  # four words heard in a recording, not a question


def test_a_lookup_keeps_the_dense_say(corpus) -> None:
    """On a lookup BM25 leads, but dense is no minor list: a section's subject typed as a few words is found by
    what the section says, not only among BM25's best chunks (often another section's mention of the words)."""
    from retrieval.fusion import MINOR_SHARE
    from retrieval.search import LOOKUP_BM25_SHARE

    app, paragraphs = corpus
    query, _ = phrases(paragraphs, 1, seed=3)[0]
    searcher = app.searcher
    lists, points = searcher._candidates(*_vectors(app, query), SearchMode.HYBRID, None, 100)
    assert looks_up(query, lists, points)
    fuser = searcher.fuser
    both = fuser.weight("bm25") + fuser.weight("dense")
    weights = {**fuser.weights, "bm25": LOOKUP_BM25_SHARE * both, "dense": (1 - LOOKUP_BM25_SHARE) * both}
    assert weights["dense"] < weights["bm25"] and weights["dense"] > MINOR_SHARE * weights["bm25"]
    deciders = may_decide(lists, points, query) | {"bm25"}
    kept = {k: v for k, v in lists.items() if k != "phrase" or k in deciders}
    expected = fuser.fuse(kept, deciders, weights)
    ranked = searcher.rank(query, lists, points)
    assert [f.id for f in ranked][:10] == [f.id for f in sorted(expected, key=lambda f: -f.score)][:10]
