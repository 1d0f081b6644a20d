"""Pieces of the search pipeline that shape what a person sees: moments, grouping, proximity."""

from __future__ import annotations

import math

import pytest

from retrieval.fusion import Fused
from retrieval.search import SearchHit, add_proximity, group_by_asset, spoken_moment
from store.base import ScoredPoint

WORDS = [[10.0, "So,"], [10.4, "about"], [10.8, "the"], [11.0, "garden."], [14.2, "The"], [14.5, "purple"],
         [14.9, "submarine"], [15.4, "surfaced"], [16.0, "today."]]


def test_a_transcript_hit_jumps_to_when_the_words_are_said() -> None:
    assert spoken_moment(WORDS, "purple submarine", 10.0) == 14.5
    assert spoken_moment(WORDS, "garden", 10.0) == 11.0
    assert spoken_moment(WORDS, "unrelated zebra", 10.0) == 10.0  # not heard: the span's start
    assert spoken_moment(None, "purple", 3.0) == 3.0


def hit(id_: str, asset: str, score: float) -> SearchHit:
    return SearchHit(id=id_, score=score, path=f"/{asset}", file_type="pdf", modality="text", text="", snippet="",
                     payload={"asset_id": asset})


def test_results_are_grouped_by_file_at_their_best_rank() -> None:
    grouped = group_by_asset([hit("a1", "A", 0.9), hit("b1", "B", 0.8), hit("a2", "A", 0.7), hit("c1", "C", 0.6)])
    assert [h.id for h in grouped] == ["a1", "b1", "c1"]
    assert [m.id for m in grouped[0].more] == ["a2"]


def test_a_verbatim_sentence_outranks_topical_neighbours() -> None:
    sentence = "the archive records nine hundred pewter lanterns shipped to Lamu in June"
    texts = {"near": "Pewter lanterns and archives of shipping to Lamu, records from June.",
             "exact": f"Some preamble. {sentence.capitalize()}. And more after it."}
    points = {k: ScoredPoint(k, 0.0, {"text": t}) for k, t in texts.items()}
    fused = [Fused("near", 2.0), Fused("exact", 1.0)]
    add_proximity(fused, points, sentence)
    assert [f.id for f in fused] == ["exact", "near"]
    assert fused[0].parts["proximity"] == 1.0


def test_short_queries_get_no_phrase_bonus() -> None:
    points = {"x": ScoredPoint("x", 0.0, {"text": "install the package manager"})}
    fused = [Fused("x", 1.0)]
    add_proximity(fused, points, "install package")
    assert fused[0].score == 1.0 and "proximity" not in fused[0].parts


def test_mmr_lifts_a_distinct_result_above_near_duplicates() -> None:
    import numpy as np

    from retrieval.search import diversify

    hits = [hit("dup1", "A", 0.90), hit("dup2", "B", 0.89), hit("dup3", "C", 0.88), hit("other", "D", 0.80)]
    same, other = np.array([1.0, 0.0]), np.array([0.0, 1.0])
    vectors = {"dup1": same, "dup2": same, "dup3": same, "other": other}
    assert [h.id for h in diversify(hits, vectors, 0.0)] == ["dup1", "dup2", "dup3", "other"]
    assert [h.id for h in diversify(hits, vectors, 0.3)][:2] == ["dup1", "other"]


def test_the_rerank_blend_weighs_both_stages_in_log_odds() -> None:
    from retrieval.search import blend_log_odds

    # The first stage is confident about both, a little more about the first; the cross-encoder mildly
    # prefers the second: mild doubt does not overrule confident evidence...
    assert blend_log_odds(0.99, -1.0, 0.25) > blend_log_odds(0.97, 1.0, 0.25)
    # ...a confident cross-encoder does.
    assert blend_log_odds(0.99, -6.0, 0.25) < blend_log_odds(0.97, 6.0, 0.25)
    # The weights' extremes are each stage alone.
    assert blend_log_odds(0.8, 3.0, 0.0) == pytest.approx(0.8)
    assert blend_log_odds(0.8, 3.0, 1.0) == pytest.approx(1 / (1 + math.exp(-3.0)))


def test_bm25_may_decide_only_a_lookup() -> None:
    from retrieval.fusion import Ranked
    from retrieval.search import may_decide

    points = {"a": ScoredPoint("a", 9.0, {"text": "Greta Tanaka shipped 729 bronze barometers to Bergen."}),
              "b": ScoredPoint("b", 0.8, {"text": "Barometers measure air pressure."})}
    lists = {"bm25": [Ranked("a", 9.0), Ranked("b", 3.0)], "dense": [Ranked("b", 0.8), Ranked("a", 0.5)]}
    assert may_decide(lists, points, "729 bronze barometers Bergen") == {"bm25", "dense"}  # every word: a lookup
    assert may_decide(lists, points, "how do barometers measure pressure") == {"dense"}  # a question it half-matches


def test_a_list_that_may_not_decide_keeps_its_base_weight() -> None:
    from retrieval.fusion import Fuser, FusionMode, Ranked

    dense = [Ranked("x", 0.70), Ranked("needle", 0.62)] + [Ranked(f"d{i}", 0.5 - 0.003 * i) for i in range(20)]
    bm25 = [Ranked("needle", 30.0), Ranked("x", 9.8)] + [Ranked(f"b{i}", 6.0 - 0.1 * i) for i in range(20)]
    fuser = Fuser(FusionMode.WEIGHTED, {"dense": 0.9, "bm25": 0.1})
    assert fuser.fuse({"dense": dense, "bm25": bm25})[0].id == "needle"  # decisive by default
    assert fuser.fuse({"dense": dense, "bm25": bm25}, may_decide={"dense"})[0].id == "x"
