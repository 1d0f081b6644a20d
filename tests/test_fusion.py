"""Fusion modes, weight validation and deliberate tie-breaking."""

from __future__ import annotations

import pytest

from retrieval.fusion import Fuser, FusionMode, Ranked


def lists() -> dict[str, list[Ranked]]:
    return {
        "dense": [Ranked("a", 0.9), Ranked("b", 0.8), Ranked("c", 0.2)],
        "bm25": [Ranked("c", 1.0), Ranked("d", 0.6), Ranked("a", 0.5)],
    }


def test_rrf_sums_reciprocal_ranks() -> None:
    fused = Fuser(FusionMode.RRF, rrf_k=60).fuse(lists())
    scores = {f.id: f.score for f in fused}
    assert scores["a"] == pytest.approx((1 / 61 + 1 / 63) / 2)
    assert scores["d"] == pytest.approx((1 / 62) / 2)
    assert [f.id for f in fused][:2] == ["a", "c"]


def test_rrf_ties_go_to_the_heavier_list() -> None:
    tie = {"dense": [Ranked("x", 0.9), Ranked("y", 0.5)], "bm25": [Ranked("y", 3.0), Ranked("x", 1.0)]}
    assert [f.id for f in Fuser(FusionMode.RRF, {"dense": 0.6, "bm25": 0.4}).fuse(tie)][0] == "x"
    assert [f.id for f in Fuser(FusionMode.RRF, {"dense": 0.4, "bm25": 0.6}).fuse(tie)][0] == "y"
    # equal weights: still a deterministic order, never an arbitrary one
    order = [f.id for f in Fuser(FusionMode.RRF, {"dense": 1, "bm25": 1}).fuse(tie)]
    assert order == [f.id for f in Fuser(FusionMode.RRF, {"dense": 1, "bm25": 1}).fuse(tie)]


def test_dbsf_normalises_each_list() -> None:
    skewed = {
        "dense": [Ranked("a", 0.31), Ranked("b", 0.30), Ranked("c", 0.10), Ranked("d", 0.05)],
        "bm25": [Ranked("b", 40.0), Ranked("a", 2.0), Ranked("c", 1.0), Ranked("d", 0.5)],
    }
    fused = Fuser(FusionMode.DBSF).fuse(skewed)
    assert all(0.0 <= f.score <= 1.0 for f in fused)
    assert fused[0].id == "b"  # b wins clearly in bm25 and is nearly tied in dense


def spread(prefix: str, n: int, top: float, rest: float, noise: float) -> list[Ranked]:
    """A list whose best score is `top` and whose tail is noise around `rest`, best first."""
    import random

    rng = random.Random(prefix)
    tail = sorted((rest + rng.gauss(0, noise) for _ in range(n - 1)), reverse=True)
    return [Ranked(f"{prefix}0", top)] + [Ranked(f"{prefix}{i}", v) for i, v in enumerate(tail, 1)]


def test_weighted_standardises_against_each_lists_tail() -> None:
    dense = spread("d", 30, 0.62, 0.45, 0.02)  # cosines: the best is far above chance
    bm25 = spread("b", 30, 12.0, 10.0, 1.5)  # raw BM25: the best barely leads
    fused = Fuser(FusionMode.WEIGHTED, {"dense": 0.5, "bm25": 0.5}).fuse({"dense": dense, "bm25": bm25})
    assert fused[0].id == "d0"  # a clear semantic winner beats a marginal lexical one, whatever the raw scales
    assert fused[0].parts == {"dense": 0.62}


def test_weighted_uses_the_list_floor_for_missing_candidates() -> None:
    lists_ = {"dense": spread("d", 20, 0.9, 0.5, 0.05), "bm25": spread("b", 20, 5.0, 2.0, 0.5)}
    fused = {f.id: f for f in Fuser(FusionMode.WEIGHTED, {"dense": 0.5, "bm25": 0.5}).fuse(lists_)}
    worst_dense = min(f.score for f in fused.values() if f.id.startswith("d"))
    assert fused["b0"].score > worst_dense  # missing from dense is a floor, not a veto


def test_a_decisive_list_gains_weight_for_that_query() -> None:
    dense = [Ranked("x", 0.70), Ranked("needle", 0.62)] + spread("d", 20, 0.6, 0.5, 0.03)[1:]
    bm25_flat = [Ranked("needle", 10.0), Ranked("x", 9.8)] + spread("b", 20, 9.0, 5.0, 1.0)[1:]
    bm25_decisive = [Ranked("needle", 30.0), Ranked("x", 9.8)] + spread("b", 20, 9.0, 5.0, 1.0)[1:]
    fuser = Fuser(FusionMode.WEIGHTED, {"dense": 0.9, "bm25": 0.1})
    assert fuser.fuse({"dense": dense, "bm25": bm25_flat})[0].id == "x"
    assert fuser.fuse({"dense": dense, "bm25": bm25_decisive})[0].id == "needle"


def test_a_lead_over_the_same_file_is_no_lead() -> None:
    from retrieval.fusion import _relative_gap

    same_file = [Ranked("a1", 10.0, "A"), Ranked("a2", 4.0, "A"), Ranked("b1", 9.5, "B")]
    assert _relative_gap(same_file) == pytest.approx(0.05)


def test_a_weak_list_cannot_outvote_a_strong_one() -> None:
    strong = [Ranked(f"d{i}", 1.0 - i * 0.01) for i in range(30)]
    weak = [Ranked(f"d{29 - i}", 1.0 - i * 0.01) for i in range(30)]  # the reverse order, as flat
    fused = Fuser(FusionMode.WEIGHTED, {"dense": 0.8, "bm25": 0.2}).fuse({"dense": strong, "bm25": weak})
    assert [f.id for f in fused][:5] == [r.id for r in strong][:5]


def test_a_minor_list_only_reorders_the_strong_lists_shortlist() -> None:
    # dense: a close race at the top, the candidate BM25 likes best only at rank 15
    dense = [Ranked(f"d{i}", 0.80 - 0.002 * i) for i in range(30)]
    # bm25: likes d15 best and d1 nearly as much (no decisive lead), the rest is noise
    bm25 = [Ranked("d15", 10.0), Ranked("d1", 9.5)] + [Ranked(f"b{i}", 3.0 - 0.05 * i) for i in range(28)]
    fused = [f.id for f in Fuser(FusionMode.WEIGHTED, {"dense": 0.9, "bm25": 0.1}).fuse({"dense": dense, "bm25": bm25})]
    assert fused[0] == "d1"  # lexical evidence breaks the tie among the dense front-runners
    assert fused.index("d15") > 10  # but cannot lift a candidate dense ranks outside its shortlist


def test_fetching_deeper_does_not_change_the_top() -> None:
    """Chance level comes from a fixed band of ranks, so `limit=100` and `limit=10` rank the top alike."""
    def fused_top(depth: int) -> list[tuple[str, float]]:
        dense = [Ranked(f"d{i}", 1.0 / (1 + 0.05 * i)) for i in range(depth)]
        shuffled = [(7 * i) % 100 for i in range(100)] + list(range(100, depth))  # BM25 orders the first 100 its way
        bm25 = [Ranked(f"d{j}", 20.0 / (1 + 0.1 * rank)) for rank, j in enumerate(shuffled)]
        fused = Fuser(FusionMode.WEIGHTED, {"dense": 0.9, "bm25": 0.1}).fuse({"dense": dense, "bm25": bm25})
        return [(f.id, round(f.score, 9)) for f in fused[:10]]

    assert fused_top(100) == fused_top(300)


@pytest.mark.parametrize("mode", list(FusionMode))
def test_no_candidates_fuse_to_nothing(mode: FusionMode) -> None:
    assert Fuser(mode, {"dense": 0.9, "bm25": 0.1}).fuse({"dense": [], "bm25": []}) == []


def test_zero_weight_lists_are_ignored() -> None:
    fused = Fuser(FusionMode.WEIGHTED, {"dense": 1.0, "bm25": 0.0}).fuse(lists())
    assert {f.id for f in fused} == {"a", "b", "c"}


@pytest.mark.parametrize("weights", [{"dense": -1.0}, {"dense": 0.0, "bm25": 0.0}, {}])
def test_bad_weights_are_refused(weights) -> None:
    with pytest.raises(ValueError):
        Fuser(FusionMode.WEIGHTED, weights)


def test_bad_rrf_k_is_refused() -> None:
    with pytest.raises(ValueError):
        Fuser(FusionMode.RRF, rrf_k=0)
