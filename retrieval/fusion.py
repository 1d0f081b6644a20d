"""Fusion of several first-stage candidate lists into one ranking: its own small, swappable component.

Modes:
- RRF: reciprocal rank fusion, sum of w / (k + rank). Scale-free, but lets a
  weak list pull down a strong one; ties are broken by the heaviest list.
- DBSF: distribution-based score fusion (each list's scores mapped to [0, 1]
  through mean +/- 3 standard deviations, then a weighted sum).
- WEIGHTED: each list's scores are standardised against the list's own tail
  (ranks below TAIL_START, the query's chance level), then summed with
  weights. A list that singles out one candidate (its best score clearly
  above the second: an exact phrase, a rare name) gains weight for that
  query, so lexical evidence decides lookups while semantic evidence decides
  questions. A candidate missing from a list gets that list's floor, not
  zero, so one retriever's silence is not a veto.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
import math
from enum import Enum

import numpy as np

TAIL_START = 10  # ranks from here on estimate a query's chance-level scores
DECISIVE_GAP = 0.3  # relative lead of the best over the second-best candidate that makes a list decisive
DECISIVE_BOOST = 1.5  # a decisive list weighs this much more than the heaviest list


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

    def weight(self, name: str) -> float:
        return 1.0 if self.weights is None else self.weights.get(name, 0.0)

    def fuse(self, lists: Mapping[str, Sequence[Ranked]]) -> list[Fused]:
        """One list, best first; every id that appears in any input list appears once."""
        lists = {name: items for name, items in lists.items() if items and self.weight(name) > 0}
        if self.mode is FusionMode.RRF:
            contributions = {name: self._rrf(items) for name, items in lists.items()}
            floors = {name: 0.0 for name in lists}
        elif self.mode is FusionMode.DBSF:
            contributions = {name: _dbsf(items) for name, items in lists.items()}
            floors = {name: 0.0 for name in lists}
        else:
            contributions = {name: _tail_standardised(items) for name, items in lists.items()}
            floors = {name: min(c.values()) for name, c in contributions.items()}
        weights = self._query_weights(lists)
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

    def _query_weights(self, lists: Mapping[str, Sequence[Ranked]]) -> dict[str, float]:
        """Base weights, raised for lists that are decisive for this query (WEIGHTED mode only)."""
        weights = {name: self.weight(name) for name in lists}
        if self.mode is not FusionMode.WEIGHTED or len(lists) < 2:
            return weights
        heaviest = max(weights.values())
        for name, items in lists.items():
            decisive = 1.0 / (1.0 + math.exp(-20.0 * (_relative_gap(items) - DECISIVE_GAP)))
            weights[name] += decisive * max(0.0, DECISIVE_BOOST * heaviest - weights[name])
        return weights

    def _rrf(self, items: Sequence[Ranked]) -> dict[str, float]:
        return {r.id: 1.0 / (self.rrf_k + rank) for rank, r in enumerate(items, 1)}


def _tail_standardised(items: Sequence[Ranked]) -> dict[str, float]:
    """Scores as standard deviations above the list's tail (its chance level for this query)."""
    scores = np.array([r.score for r in items], dtype=np.float64)
    tail = scores[TAIL_START:] if len(scores) >= TAIL_START + 5 else scores
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
