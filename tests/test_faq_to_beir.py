"""The FAQ -> BEIR converter on the real Debian and R FAQs: ids line up and answers never leak their query."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest

from tests.conftest import load_bench_script

# Measured on debian-faq 11.1 (119 queries, 148 docs), r-doc-pdf 4.2.2 (77 queries, 94 docs) and
# python3.11-doc 3.11.2 (168 queries, 170 docs), zsh-common 5.9 with git-doc 2.39 (72 queries, 80 docs);
# the floors leave room for later FAQ editions without letting a broken splitter pass.
MINIMUMS = {"debian-faq": (100, 120), "r-faq": (60, 80), "python-faq": (150, 160),
            "shell-faq": (65, 75)}  # (queries, docs)
# The long-answer sets, measured on python3.11-doc 3.11.2 (92 queries, 215 docs), git-doc 2.39 with
# bash-doc 5.2.15 (54 queries, 163 docs) and debian-reference-en 2.100 (78 queries, 245 docs).
LONG_MINIMUMS = {"python-howto": (80, 190), "tool-manuals": (45, 140), "debian-reference": (65, 220)}


def _read_jsonl(path: Path) -> dict[str, dict[str, str]]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    by_id = {row["_id"]: row for row in rows}
    assert len(by_id) == len(rows), f"duplicate ids in {path}"
    return by_id


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    if shutil.which("apt-get") is None or shutil.which("dpkg-deb") is None:
        pytest.skip("apt-get/dpkg-deb not available: the FAQs are fetched as Debian packages")
    converter = load_bench_script("faq_to_beir")
    root = tmp_path_factory.mktemp("faq")
    out, cache = root / "beir", root / "cache"
    return {
        "debian-faq": converter.build_debian_faq(out, cache),
        "r-faq": converter.build_r_faq(out, cache),
        "python-faq": converter.build_python_faq(out, cache),
        "shell-faq": converter.build_shell_faq(out, cache),
        "python-howto": converter.build_python_howto(out, cache),
        "tool-manuals": converter.build_tool_manuals(out, cache),
        "debian-reference": converter.build_debian_reference(out, cache),
    }


@pytest.mark.parametrize("name", ["debian-faq", "r-faq", "python-faq", "shell-faq", *LONG_MINIMUMS])
def test_faq_benchmark_is_consistent(built: dict[str, Path], name: str) -> None:
    folder = built[name]
    assert folder.name == name
    corpus = _read_jsonl(folder / "corpus.jsonl")
    queries = _read_jsonl(folder / "queries.jsonl")
    with open(folder / "qrels" / "test.tsv", encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle, delimiter="\t")
        assert next(reader) == ["query-id", "corpus-id", "score"]
        qrels = list(reader)

    min_queries, min_docs = {**MINIMUMS, **LONG_MINIMUMS}[name]
    assert len(queries) >= min_queries and len(corpus) >= min_docs, (len(queries), len(corpus))
    assert len(corpus) > len(queries), "non-question sections should remain as distractors"

    assert {q for q, _, _ in qrels} == set(queries), "every query has exactly the judged answers"
    for query_id, doc_id, score in qrels:
        assert doc_id in corpus and score == "1"
        question = queries[query_id]["text"]
        answer = corpus[doc_id]["text"]
        assert question.strip() and question not in answer, f"{doc_id} still contains its question"

    for doc in corpus.values():
        assert doc["title"] == "", "titles would leak the question"
        assert len(doc["text"].split()) >= 20, doc["_id"]
    # Cross-references are reduced to "Section N", so no answer quotes any question verbatim.
    leaked = [q["_id"] for q in queries.values() if any(q["text"] in d["text"] for d in corpus.values())]
    assert not leaked, leaked


@pytest.mark.parametrize("name", list(LONG_MINIMUMS))
def test_long_answer_sets_hold_long_answers_with_code(built: dict[str, Path], name: str) -> None:
    """Every judged answer is a whole section of 300 to 1,500 words, none repeats its heading, and code stays."""
    converter = load_bench_script("faq_to_beir")
    folder = built[name]
    corpus = _read_jsonl(folder / "corpus.jsonl")
    queries = _read_jsonl(folder / "queries.jsonl")
    with open(folder / "qrels" / "test.tsv", encoding="utf-8", newline="") as handle:
        judged = {q: d for q, d, _ in list(csv.reader(handle, delimiter="\t"))[1:]}
    lengths = [len(corpus[doc]["text"].split()) for doc in judged.values()]
    assert min(lengths) >= converter.LONG_MIN_WORDS and max(lengths) <= converter.LONG_MAX_WORDS
    for query_id, doc_id in judged.items():
        heading = queries[query_id]["text"].split(": ", 1)[-1]
        # The section's own heading is never its first line (headings are not indexed text).
        assert not corpus[doc_id]["text"].startswith(heading), doc_id
    # Queries name a subject, not a generic heading, and no two ask the same.
    texts = [q["text"].lower() for q in queries.values()]
    assert len(set(texts)) == len(texts)
    assert not any(t.split(": ", 1)[-1] in ("introduction", "summary", "examples") for t in texts)
    code = {"python-howto": "import ", "tool-manuals": "$ git ", "debian-reference": "$ "}[name]
    assert sum(code in corpus[d]["text"] for d in judged.values()) >= 5, "code examples were lost"
