"""The offline answer: the sentences of the retrieved passages that answer the question, each cited.

The cross-encoder reads each sentence with its neighbours (a bare "Yes." or
"It is in /etc." says nothing alone) against the question; its probability is
blended with the passage's retrieval relevance, which on the FAQ benchmark
ranks places better than the sentence judgement does, while the cross-encoder
picks the sentence within a place. The best sentence must clear a bar, else
the answer says nothing was found instead of guessing; a few more places that
clear a lower bar are quoted too, each with its own citation number.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from qa.sentences import split_sentences
from qa.types import NO_ANSWER, Answer, Citation
from rerank.cross_encoder import CrossEncoder
from retrieval.search import SearchHit, sigmoid

_CHUNK_NUMBER = re.compile(r"c(\d+)$")


@dataclass(frozen=True)
class ExtractiveConfig:
    # Measured on the Debian FAQ benchmark (bench/bench_ask.py) with ten off-topic questions that must be refused.
    sentence_weight: float = 0.3  # share of the cross-encoder's probability; the rest is the passage's relevance
    min_score: float = 0.3  # the best sentence needs this, else the answer is "not found"
    include_score: float = 0.15  # another place is quoted from this score on
    max_places: int = 4  # citation numbers at most
    sentences_per_place: int = 2  # a place's second sentence needs min_score too


@dataclass(frozen=True)
class ScoredSentence:
    hit_rank: int  # position of its passage in the retrieval list
    order: int  # position in the passage
    text: str
    score: float  # blended relevance in [0, 1]


class Extractor:
    def __init__(self, cross_encoder: Callable[[], CrossEncoder], config: ExtractiveConfig = ExtractiveConfig()):
        self._cross_encoder = cross_encoder
        self.config = config

    def answer(self, question: str, hits: list[SearchHit]) -> Answer:
        picked = self.pick(hits, self.score_sentences(question, hits))
        if not picked:
            return Answer.not_found(question, NO_ANSWER)
        return compose(question, hits, picked)

    def score_sentences(self, question: str, hits: list[SearchHit]) -> list[ScoredSentence]:
        """Every distinct sentence of the passages, scored against the question."""
        candidates: list[tuple[int, int, str]] = []
        windows: list[str] = []
        seen: set[str] = set()
        for rank, hit in enumerate(hits):
            sentences = split_sentences(hit.text)
            for order, sentence in enumerate(sentences):
                key = " ".join(sentence.lower().split())
                if key not in seen:  # overlapping chunks repeat sentences; the better-ranked passage keeps them
                    seen.add(key)
                    candidates.append((rank, order, sentence))
                    windows.append(" ".join(sentences[max(0, order - 1) : order + 2]))
        if not candidates:
            return []
        logits = self._cross_encoder().score(question, windows)  # batched by length inside
        w = self.config.sentence_weight
        return [ScoredSentence(rank, order, text, w * sigmoid(float(logit)) + (1 - w) * _clamp(hits[rank].score))
                for (rank, order, text), logit in zip(candidates, logits)]

    def pick(self, hits: list[SearchHit], scored: list[ScoredSentence]) -> list[ScoredSentence]:
        """The sentences to quote, best first: none unless the best clears min_score."""
        c = self.config
        ranked = sorted(scored, key=lambda s: -s.score)
        if not ranked or ranked[0].score < c.min_score:
            return []
        picked: list[ScoredSentence] = []
        per_place: dict[tuple, int] = {}
        for sentence in ranked:
            if sentence.score < c.include_score:
                break
            place = location_key(hits[sentence.hit_rank])
            count = per_place.get(place, 0)
            new_place_allowed = count == 0 and len(per_place) < c.max_places
            more_allowed = 0 < count < c.sentences_per_place and sentence.score >= c.min_score
            if new_place_allowed or more_allowed:
                per_place[place] = count + 1
                picked.append(sentence)
        return picked


def compose(question: str, hits: list[SearchHit], picked: list[ScoredSentence]) -> Answer:
    """Quotes grouped by the place they come from (one citation number each, best place first), in reading order."""
    groups: dict[tuple, list[ScoredSentence]] = {}
    for sentence in picked:  # best first, so the groups are ordered by their best sentence
        groups.setdefault(location_key(hits[sentence.hit_rank]), []).append(sentence)
    parts: list[str] = []
    citations: list[Citation] = []
    for number, sentences in enumerate(groups.values(), start=1):
        sentences.sort(key=lambda s: (_chunk_number(hits[s.hit_rank]), s.hit_rank, s.order))
        quote = " ".join(s.text for s in sentences)
        parts.append(f"{quote} [{number}]")
        citations.append(Citation(number, hits[sentences[0].hit_rank], quote))
    return Answer(question, " ".join(parts), citations, found=True, generated=False)


def location_key(hit: SearchHit) -> tuple:
    """What a citation opens: the file, and the page, slide or moment in it."""
    return hit.asset_id, hit.page, hit.slide, hit.t0


def _chunk_number(hit: SearchHit) -> int:
    match = _CHUNK_NUMBER.search(hit.payload.get("locator", ""))
    return int(match.group(1)) if match else 0


def _clamp(score: float) -> float:
    return min(1.0, max(0.0, float(score)))
