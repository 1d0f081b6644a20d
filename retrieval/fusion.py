"""Fusion of several first-stage candidate lists into one ranking: its own small, swappable component.

Modes:
- RRF: reciprocal rank fusion, sum of w / (k + rank). Scale-free, but lets a
  weak list pull down a strong one; ties are broken by the heaviest list.
- DBSF: distribution-based score fusion (each list's scores mapped to [0, 1]
  through mean +/- 3 standard deviations, then a weighted sum).
- WEIGHTED: each list's scores are standardised against the list's own tail
  (ranks TAIL_START to TAIL_END, the query's chance level), then summed with
  weights. A list that singles out one candidate (its best score clearly
  above the second: an exact phrase, a rare name) gains weight for that
  query, so lexical evidence decides lookups while semantic evidence
  decides questions; the caller says which lists may be decisive (BM25
  only when its best candidate holds every query term). Otherwise a minor list (at
  most MINOR_SHARE of the heaviest list's weight, as BM25 is beside dense)
  only re-orders the heaviest list's shortlist: it breaks ties between
  candidates the strong retriever finds plausible, and cannot lift one it
  finds implausible. A candidate missing from a list gets that list's floor,
  not zero, so one retriever's silence is not a veto.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum

import numpy as np

TAIL_START = 10  # ranks from here...
TAIL_END = 100  # ...to here estimate a query's chance-level scores, however deep the lists were fetched
DECISIVE_GAP = 0.3  # relative lead of the best over the second-best candidate that makes a list decisive
DECISIVE_BOOST = 1.5  # a decisive list weighs this much more than the heaviest list
MINOR_SHARE = 0.5  # a list weighing at most this share of the heaviest only re-orders the heaviest's shortlist
SHORTLIST = 10  # the heaviest list's top candidates that a minor list may re-order


class FusionMode(str, Enum):
    RRF = "rrf"
    DBSF = "dbsf"
    WEIGHTED = "weighted"


@dataclass(frozen=True)
class Ranked:
    """One candidate in one list: its id and that list's score for it (higher is better)."""

    id: str
    score: float
    group: str | None = None  # e.g. the asset: a lead over another segment of the same file is no lead


@dataclass
class Fused:
    id: str
    score: float
    parts: dict[str, float] = field(default_factory=dict)  # list name -> that list's (input) score


class Fuser:
    def __init__(self, mode: FusionMode = FusionMode.WEIGHTED, weights: Mapping[str, float] | None = None,
                 rrf_k: int = 60) -> None:
        if rrf_k < 1:
            raise ValueError("rrf_k must be at least 1")
        if weights is not None and (not weights or any(w < 0 for w in weights.values())
                                    or sum(weights.values()) <= 0):
            raise ValueError(f"fusion weights must be non-negative and not all zero: {dict(weights)}")
        self.mode = FusionMode(mode)
        self.weights = dict(weights) if weights else None
        self.rrf_k = rrf_k

    @property
    def scores_estimate_relevance(self) -> bool:
        """Whether a fused score says how far above chance a candidate stands (WEIGHTED: standard deviations
        over each list's tail), so it can be added to, cut at and mapped to a relevance; RRF and DBSF
        scores only give an order within one query."""
        return self.mode is FusionMode.WEIGHTED

    def weight(self, name: str) -> float:
        return 1.0 if self.weights is None else self.weights.get(name, 0.0)

    def fuse(self, lists: Mapping[str, Sequence[Ranked]], may_decide: Collection[str] | None = None,
             weights: Mapping[str, float] | None = None) -> list[Fused]:
        """One list, best first; every id that appears in any input list appears once.

        `may_decide` names the lists allowed to gain weight by singling out a candidate (default: all);
        `weights` replaces the base weights for this query (the caller's reading of the query's shape).
        """
        if weights is not None:
            return Fuser(self.mode, weights, self.rrf_k).fuse(lists, may_decide)
        lists = {name: items for name, items in lists.items() if items and self.weight(name) > 0}
        if self.mode is FusionMode.RRF:
            contributions = {name: self._rrf(items) for name, items in lists.items()}
            floors = {name: 0.0 for name in lists}
        elif self.mode is FusionMode.DBSF:
            contributions = {name: _dbsf(items) for name, items in lists.items()}
            floors = {name: 0.0 for name in lists}
        else:
            contributions = {name: _tail_standardised(items) for name, items in lists.items()}
            # Missing from a list, a candidate is at most as good as that list's last rank in the band.
            floors = {name: min(list(c.values())[:TAIL_END]) for name, c in contributions.items()}
        weights = self._query_weights(lists, lists.keys() if may_decide is None else may_decide)
        if self.mode is FusionMode.WEIGHTED and lists:
            contributions = _restrict_minor_lists(lists, weights, contributions)
        fused: dict[str, Fused] = {}
        for name, items in lists.items():
            for r in items:
                fused.setdefault(r.id, Fused(r.id, 0.0)).parts[name] = r.score
        total_weight = sum(weights.values()) or 1.0
        for hit in fused.values():
            hit.score = sum(weights[name] * contributions[name].get(hit.id, floors[name])
                            for name in lists) / total_weight
        # Ties (frequent with RRF) go to the candidate the heaviest list ranked higher.
        order = sorted(lists, key=self.weight, reverse=True)
        ranks = {name: {r.id: i for i, r in enumerate(lists[name])} for name in order}
        return sorted(fused.values(), key=lambda h: (-h.score, *[ranks[n].get(h.id, 1 << 30) for n in order]))

    def _query_weights(self, lists: Mapping[str, Sequence[Ranked]], may_decide: Collection[str]
                       ) -> dict[str, float]:
        """Base weights, raised for lists that are decisive for this query (WEIGHTED mode only)."""
        weights = {name: self.weight(name) for name in lists}
        if self.mode is not FusionMode.WEIGHTED or len(lists) < 2:
            return weights
        heaviest = max(weights.values())
        for name, items in lists.items():
            if name not in may_decide:
                continue
            decisive = 1.0 / (1.0 + math.exp(-20.0 * (_relative_gap(items) - DECISIVE_GAP)))
            weights[name] += decisive * max(0.0, DECISIVE_BOOST * heaviest - weights[name])
        return weights

    def _rrf(self, items: Sequence[Ranked]) -> dict[str, float]:
        return {r.id: 1.0 / (self.rrf_k + rank) for rank, r in enumerate(items, 1)}


def _restrict_minor_lists(lists: Mapping[str, Sequence[Ranked]], weights: Mapping[str, float],
                          contributions: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
    """A minor list's evidence counts only inside the heaviest list's shortlist; elsewhere it is its floor."""
    heaviest = max(weights, key=weights.get)
    shortlist = {r.id for r in lists[heaviest][:SHORTLIST]}
    return {name: c if weights[name] > MINOR_SHARE * weights[heaviest]
            else {i: v for i, v in c.items() if i in shortlist}
            for name, c in contributions.items()}


def _tail_standardised(items: Sequence[Ranked]) -> dict[str, float]:
    """Scores as standard deviations above the list's tail (its chance level for this query)."""
    scores = np.array([r.score for r in items], dtype=np.float64)
    tail = scores[TAIL_START:TAIL_END] if len(scores) >= TAIL_START + 5 else scores
    std = tail.std()
    if std == 0:
        return {r.id: 0.0 for r in items}
    return {r.id: float((r.score - tail.mean()) / std) for r in items}


def _relative_gap(items: Sequence[Ranked]) -> float:
    """How far the best candidate leads the second, relative to the best (0 for a tie or a single hit)."""
    best = items[0] if items else None
    if best is None or best.score <= 0:
        return 0.0
    runner_up = next((r for r in items[1:] if r.group is None or r.group != best.group), None)
    if runner_up is None:
        return 0.0
    return max(0.0, (best.score - runner_up.score) / best.score)


def _dbsf(items: Sequence[Ranked]) -> dict[str, float]:
    scores = np.array([r.score for r in items], dtype=np.float64)
    mean, std = scores.mean(), scores.std()
    if std == 0:
        return {r.id: 1.0 for r in items}
    low, high = mean - 3 * std, mean + 3 * std
    return {r.id: float(np.clip((r.score - low) / (high - low), 0.0, 1.0)) for r in items}
