"""The whole-document reference run: one vector per document, scored as the searches are, kept beside the index."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from omnidex.evaluation import WHOLE_DOCUMENT_VECTORS, evaluate, index_key, load_beir
from tests.conftest import make_settings

DOCS = {
    "tea": "Brewing green tea: heat the water to about eighty degrees, not boiling, and steep the leaves for two "
           "minutes. " * 3,
    "bike": "To fix a flat bicycle tyre, lever the tyre off the rim, find the puncture in the inner tube, patch it "
            "and pump it up again. " * 3,
    "tax": "A tax return lists the income of the year and the deductions claimed; it is filed with the revenue "
           "office before the deadline. " * 3,
}
QUERIES = {"q1": ("how do I repair a punctured bike wheel", "bike"), "q2": ("steeping green tea", "tea")}


def _text_set(root: Path) -> Path:
    (root / "qrels").mkdir(parents=True)
    (root / "corpus.jsonl").write_text("".join(json.dumps({"_id": d, "title": "", "text": t}) + "\n"
                                               for d, t in DOCS.items()))
    (root / "queries.jsonl").write_text("".join(json.dumps({"_id": q, "text": t}) + "\n"
                                                for q, (t, _) in QUERIES.items()))
    (root / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\n"
                                             + "".join(f"{q}\t{d}\t1\n" for q, (_, d) in QUERIES.items()))
    return root


def test_whole_document_is_scored_and_kept_beside_the_index(tmp_path: Path) -> None:
    folder = _text_set(tmp_path / "tiny")
    settings = make_settings(tmp_path / "unused")
    index_dir = tmp_path / "indexes"
    results = evaluate(folder, ["dense", "whole-document"], settings, index_dir=index_dir)
    assert results["whole-document"]["recall@1"] == 1.0 and results["whole-document"]["ndcg@10"] == 1.0
    assert set(results["whole-document"]) == set(results["dense"])  # the same metrics as a search run
    kept = index_dir / f"tiny-{index_key(load_beir(folder), settings)}" / WHOLE_DOCUMENT_VECTORS
    with np.load(kept) as vectors:
        assert sorted(vectors["ids"]) == sorted(DOCS) and vectors["vectors"].shape[0] == len(DOCS)
    assert evaluate(folder, ["whole-document"], settings, index_dir=index_dir) == {
        "whole-document": results["whole-document"]}  # read back, not encoded again, the same ranks


def test_whole_document_is_for_text_sets_only(tmp_path: Path) -> None:
    folder = _text_set(tmp_path / "media")
    (folder / "files").mkdir()
    for name in DOCS:
        (folder / "files" / name).write_text("")
    with pytest.raises(ValueError, match="text sets"):
        evaluate(folder, ["whole-document"], make_settings(tmp_path / "d"))
