"""From a request to ranked, grouped results.

    candidates (BM25, dense, clip; all under the same filters)
      -> per-segment calibration -> fusion -> cross-encoder rerank of the top
      -> relevance cutoff -> grouping by asset

Each stage is optional through the request's mode, so `omnidex eval` can
measure what every stage adds.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import numpy as np

from encoders.base import TextEncoder
from encoders.bm25 import Bm25Encoder, all_words, tokenize, word_pairs
from rerank.cross_encoder import CrossEncoder
from retrieval.calibration import SegmentCalibration
from retrieval.filters import SearchFilters
from retrieval.fusion import Fused, Fuser, Ranked
from retrieval.snippets import snippet
from retrieval.stages import OFF, StageClock, NoClock
from store.base import Filter, ScoredPoint, Store

RERANK_WINDOW_CHARS = 280  # about 64 tokens: the cost of a pair grows faster than its length
PROXIMITY_WEIGHT = 4.0  # in standard deviations: a verbatim match is strong evidence
PROXIMITY_MIN_SHARE = 0.5
PROXIMITY_MIN_PAIRS = 4
# Candidates checked for the phrase: a segment holding a pasted sentence is near the top of the fused
# list already (BM25 may decide such a lookup); tokenizing all ~150 candidates was a sixth of a query's time.
PROXIMITY_POOL = 50
DIVERSIFY_POOL = 50
# A lookup (looks_up): at most this many words, not a question, whose best BM25 segment holds at least
# half of the content terms (a transcript misheard the other half). Spoken four-word phrases R@10
# 0.658 -> 0.775 on the dev set (BM25 alone 0.717), sounds 0.491 -> 0.500 (dense alone 0.500), pictures
# and FAQ questions unchanged (bench/bench_quality.py).
LOOKUP_MAX_WORDS = 6
LOOKUP_MIN_SHARE = 0.5
# On a lookup BM25 takes this share of the BM25 and dense weights together, dense the rest: BM25 leads, and dense
# keeps a full say instead of only re-ordering BM25's shortlist (fusion.MINOR_SHARE). A section's subject typed
# as a few words ("Bash: Shell Functions") reads as a lookup, and BM25's best chunk of a long manual is often
# another section's mention of them: with the full swap (BM25 0.95) the Git and Bash manuals' nDCG@10 was 0.536
# against dense alone 0.599; at 0.55 0.605, the Debian Reference 0.761 (BM25 alone 0.738), the Python HOWTOs
# 0.713 (dense alone 0.684); the FAQs' questions are no lookups (bench/bench_quality.py). Words heard in a
# recording are another matter: dense similarity of four words to a misheard transcript is a weak clue, and
# BM25 keeps its old lead there (spoken four-word phrases R@10 0.750 at 0.95, 0.658 at 0.55; BM25 alone 0.733).
LOOKUP_BM25_SHARE = 0.55
LOOKUP_BM25_SHARE_HEARD = {"transcript": 0.95}
PHRASE_MIN_SHARE = 0.66  # spoken four-word phrases R@10 0.642 -> 0.658 on the dev set; FAQ questions unaffected
# Only these open a question without a question mark: "is based on the", "can be used even" are four
# words heard in a recording, and an auxiliary leads such runs as often as it leads a question.
QUESTION_WORDS = frozenset("how what why when where which who whom whose".split())
# The relevance cutoff's bars, in standard deviations above chance (retrieval/calibration.py), by modality.
# Set on the dev sets (bench/bench_quality.py): page text and transcripts that answer stand 3-6 above
# chance, a picture's or sound's label mixture that answers 0.5-3; these bars cost at most 0.009 of R@10
# on any dev set (FAQ text 2.5 cost 0.017; pictures 0.8 cost 0.009 and left 43 of 329 queries empty).
# Sounds at 0.15: at 0.3 the everyday effects of other packages (bench/domains.py) lost 1 of 31 queries.
DENSE_Z_RELEVANT = {"image": 0.3, "frame": 0.3, "sound": 0.15}
DENSE_Z_RELEVANT_TEXT = 2.0
LABELLED_MODALITIES = frozenset(DENSE_Z_RELEVANT)  # their text is the labels a classifier gave them
# A segment holding this share of the query's content terms is shown whatever its other scores.
LEXICAL_COVERAGE_RELEVANT = 0.66
# A transcript mishears words: half of a short query's terms in it are as telling as two thirds in print
# (spoken four-word phrases: the cutoff cost 0.050 of R@10 at 0.66, nothing at 0.5).
LEXICAL_COVERAGE_RELEVANT_HEARD = {"transcript": 0.5}
RELEVANCE_MIDPOINT = 4.0
RELEVANCE_SLOPE = 0.75


class SearchMode(str, Enum):
    BM25 = "bm25"  # content terms alone
    PHRASE = "phrase"  # word pairs alone
    DENSE = "dense"
    HYBRID = "hybrid"
    RERANK = "rerank"


LEXICAL_LISTS = {SearchMode.BM25: ("bm25",), SearchMode.PHRASE: ("phrase",), SearchMode.DENSE: ()}


@dataclass
class SearchHit:
    id: str
    score: float
    path: str
    file_type: str
    modality: str
    text: str
    snippet: str
    page: int | None = None
    slide: int | None = None
    t0: float | None = None
    t1: float | None = None
    payload: dict[str, Any] = field(default_factory=dict, repr=False)
    scores: dict[str, float] = field(default_factory=dict)  # each stage's score, for explanations
    more: list[SearchHit] = field(default_factory=list)  # other hits in the same asset

    @property
    def asset_id(self) -> str:
        return self.payload.get("asset_id", self.id)

    @classmethod
    def from_point(cls, point: ScoredPoint, query: str) -> SearchHit:
        p = point.payload
        return cls(
            id=point.id,
            score=point.score,
            path=p.get("path", ""),
            file_type=p.get("file_type", ""),
            modality=p.get("modality", ""),
            text=p.get("text", ""),
            snippet="",  # made for the hits that are returned, not for every candidate
            page=p.get("page"),
            slide=p.get("slide"),
            t0=spoken_moment(p.get("words"), query, p.get("t0")),
            t1=p.get("t1"),
            payload=p,
        )


@dataclass
class QueryVectors:
    """What a request searches with; any part may be missing (an image query has no BM25 side)."""

    text: str = ""
    dense: np.ndarray | None = None
    clip: np.ndarray | None = None


@dataclass
class SearchRequest:
    text: str = ""
    filters: SearchFilters = field(default_factory=SearchFilters)
    limit: int = 10
    mode: SearchMode = SearchMode.HYBRID
    group: bool = True
    cutoff: bool = True
    exclude_ids: tuple[str, ...] = ()
    diversity: float = 0.0  # MMR: 0 ranks by relevance alone, 1 by novelty alone


@dataclass(frozen=True)
class RetrievalConfig:
    prefetch_limit: int = 100
    rerank_top_k: int = 30
    rerank_weight: float = 0.25
    context_weight: float = 1.0  # share of a chunk's context window in its dense score


class Searcher:
    def __init__(
        self,
        store: Store,
        text_encoder: TextEncoder,
        bm25: Bm25Encoder,
        fuser: Fuser,
        config: RetrievalConfig,
        calibration: SegmentCalibration | None = None,
        cross_encoder: Callable[[], CrossEncoder | None] = lambda: None,
    ) -> None:
        self.store = store
        self.text_encoder = text_encoder
        self.bm25 = bm25
        self.fuser = fuser
        self.config = config
        self.calibration = calibration or SegmentCalibration(text_encoder)
        self._cross_encoder = cross_encoder
        self.clock: StageClock | NoClock = OFF  # a StageClock here adds up where queries spend their time

    def timed(self, clock: StageClock | None) -> None:
        """Add up each stage's CPU into `clock` from now on; None stops."""
        self.clock = clock or OFF

    def search(self, request: SearchRequest, vectors: QueryVectors | None = None) -> list[SearchHit]:
        """Ranked hits for a text request, or for prepared query vectors (image, segment, mixed)."""
        if vectors is None:
            text = request.text.strip()
            if not text:
                return []
            dense = None
            if request.mode not in (SearchMode.BM25, SearchMode.PHRASE):
                with self.clock.stage("encode"):
                    dense = self.text_encoder.encode_query([text])[0]
            vectors = QueryVectors(text=text, dense=dense)
        clock = self.clock
        clock.query()
        flt = request.filters.to_store_filter()
        depth = max(self.config.prefetch_limit, request.limit * 3)
        lists, points = self._candidates(vectors, request.mode, flt, depth)
        with clock.stage("fusion"):
            fused = self.rank(vectors.text, lists, points)
        with clock.stage("hits"):
            hits = [self._hit(points[f.id], f, vectors.text) for f in fused if f.id not in request.exclude_ids]
        if request.mode is SearchMode.RERANK and vectors.text:
            with clock.stage("rerank"):
                hits = self._rerank(vectors.text, hits)
        # The cutoff reads parts that stand above chance (standardised lists, dense z), as only such fusion keeps.
        if request.cutoff and self.fuser.scores_estimate_relevance:
            with clock.stage("cutoff"):
                terms, pairs = set(tokenize(vectors.text)), set(word_pairs(all_words(vectors.text)))
                hits = [h for h in hits if self._relevant(h, terms, pairs)]
        with clock.stage("grouping"):
            if request.diversity > 0:
                hits = diversify(hits, self._dense_vectors(hits), request.diversity)
            if request.group:
                hits = group_by_asset(hits)
            hits = hits[: request.limit]
        with clock.stage("snippets"):
            for hit in hits:
                for shown in (hit, *hit.more):
                    shown.snippet = snippet(shown.text, vectors.text)
        return hits

    def rank(self, text: str, lists: dict[str, list[Ranked]], points: dict[str, ScoredPoint]) -> list[Fused]:
        """The candidate lists fused into one order, best first."""
        deciders = may_decide(lists, points, text)
        # Word pairs are evidence only for a lookup: on a question, pairs like "how do" match noise.
        lists = {name: items for name, items in lists.items() if name != "phrase" or name in deciders}
        weights = None
        if self.fuser.weights and looks_up(text, lists, points) and not labels_lead(lists, points):
            # Lexical evidence leads and dense similarity keeps its say.
            both = self.fuser.weight("dense") + self.fuser.weight("bm25")
            heard = points[lists["bm25"][0].id].payload.get("modality", "")
            share = LOOKUP_BM25_SHARE_HEARD.get(heard, LOOKUP_BM25_SHARE)
            weights = {**self.fuser.weights, "bm25": share * both, "dense": (1 - share) * both}
            deciders.add("bm25")
        fused = self.fuser.fuse(lists, deciders, weights)
        if text and self.fuser.scores_estimate_relevance:  # a bonus in deviations means nothing to an order
            add_proximity(fused, points, text)
        return fused

    def _dense_vectors(self, hits: list[SearchHit]) -> dict[str, np.ndarray]:
        points = self.store.retrieve([h.id for h in hits[:DIVERSIFY_POOL]], with_vectors=True)
        # A segment found by its words whose meaning is still being embedded has none: diversity leaves it in place.
        return {p.id: np.asarray(p.vectors["text"], dtype=np.float32) for p in points if "text" in (p.vectors or {})}

    def _candidates(self, vectors: QueryVectors, mode: SearchMode, flt: Filter | None, depth: int
                    ) -> tuple[dict[str, list[Ranked]], dict[str, ScoredPoint]]:
        """Each retriever's list, dense scores calibrated per segment so fusion can weigh them."""
        lists: dict[str, list[Ranked]] = {}
        points: dict[str, ScoredPoint] = {}
        lexical = LEXICAL_LISTS.get(mode, ("bm25", "phrase")) if vectors.text else ()
        clock = self.clock
        for name in lexical:
            with clock.stage(f"{name} list"):
                sparse = (self.bm25.encode_query if name == "bm25" else self.bm25.encode_phrase_query)(vectors.text)
                found = self.store.search("bm25", sparse, depth, flt) if sparse.indices else []
                lists[name] = [Ranked(p.id, p.score, p.payload.get("asset_id")) for p in found]
                points.update((p.id, p) for p in found)
        if vectors.dense is not None and mode not in (SearchMode.BM25, SearchMode.PHRASE):
            with clock.stage("dense list"):
                found = self.store.search("text", vectors.dense.tolist(), depth, flt,
                                          with_vectors=("text", "context"))
            if found:
                with clock.stage("calibration"):
                    scores, seen = self._with_context(vectors.dense, found)
                    # Cosines become standard deviations above chance (retrieval/calibration.py), so a photo's
                    # ConSE vector and a page chunk compete on one scale and a picture near everything wins
                    # nothing.
                    z = self.calibration.z(scores, seen, [p.payload.get("modality", "") for p in found])
                    lists["dense"] = _sorted([Ranked(p.id, float(s), p.payload.get("asset_id"))
                                              for p, s in zip(found, z)])
                points.update((p.id, p) for p in found)
        if vectors.clip is not None and mode not in (SearchMode.BM25, SearchMode.PHRASE):
            with clock.stage("clip list"):
                found = self.store.search("clip", vectors.clip.tolist(), depth, flt)
            lists["clip"] = [Ranked(p.id, p.score, p.payload.get("asset_id")) for p in found]
            points.update((p.id, p) for p in found)
        return {name: items for name, items in lists.items() if items}, points

    def _with_context(self, query: np.ndarray, found: list[ScoredPoint]) -> tuple[np.ndarray, np.ndarray]:
        """Each chunk's cosine plus a share of its context window's, and the vector that scores so.

        A chunk without a window (a short page, a picture, a sound) counts its own cosine for both, so
        its calibrated score is what it was alone; the sum is linear, so calibration's chance level
        for the summed vector is that of the summed score.
        """
        share = self.config.context_weight
        own = np.array([p.vectors["text"] for p in found], dtype=np.float32)
        if share <= 0:
            return np.array([p.score for p in found]), own
        window = np.array([p.vectors.get("context", p.vectors["text"]) for p in found], dtype=np.float32)
        window /= np.maximum(np.linalg.norm(window, axis=1, keepdims=True), 1e-12)
        own_unit = own / np.maximum(np.linalg.norm(own, axis=1, keepdims=True), 1e-12)
        seen = own_unit + share * window
        return seen @ np.asarray(query, dtype=np.float32) / np.linalg.norm(query), seen

    def _hit(self, point: ScoredPoint, fused: Fused, query: str) -> SearchHit:
        hit = SearchHit.from_point(point, query)
        hit.score = relevance(fused.score) if self.fuser.scores_estimate_relevance else fused.score
        hit.scores = {**fused.parts, "fused": fused.score}
        return hit

    def _relevant(self, hit: SearchHit, query_terms: set[str], query_pairs: set[str]) -> bool:
        """Shown unless every absolute signal is weak: a relevance cutoff instead of always filling the page.

        Only absolute evidence counts: the fused score is relative to this query's candidates, and the
        best of an aimless list stands as far above its tail as a real answer does. Dense similarity
        above its modality's bar, most of the query's words in the segment, a phrase match or the
        cross-encoder's judgement each keep a hit, however few segments the collection holds.
        """
        s = hit.scores
        bar = DENSE_Z_RELEVANT.get(hit.modality, DENSE_Z_RELEVANT_TEXT)
        if s.get("dense", float("-inf")) >= bar or s.get("proximity", 0.0) >= PROXIMITY_MIN_SHARE:
            return True
        if s.get("rerank", 0.0) >= 0.5:
            return True
        if query_pairs and "phrase" in s and len(query_pairs & set(word_pairs(all_words(hit.text)))) >= (
                PROXIMITY_MIN_SHARE * len(query_pairs)):
            return True
        coverage_bar = LEXICAL_COVERAGE_RELEVANT_HEARD.get(hit.modality, LEXICAL_COVERAGE_RELEVANT)
        return bool(query_terms) and len(query_terms & set(tokenize(hit.text))) / len(query_terms) >= coverage_bar

    def _rerank(self, query: str, hits: list[SearchHit]) -> list[SearchHit]:
        """Blend the cross-encoder's judgement into the top hits; the rest keep their order below."""
        model = self._cross_encoder()
        k = self.config.rerank_top_k
        head = [h for h in hits[:k] if h.text.strip()]
        if model is None or not head:
            return hits
        # The cross-encoder reads the query-focused window of each segment, not all
        # of it: cost grows faster than linearly with length, and the window is
        # where the evidence is.
        logits = model.score(query, [snippet(h.text, query, RERANK_WINDOW_CHARS, marks=False) for h in head])
        w = self.config.rerank_weight
        for hit, logit in zip(head, logits):
            hit.scores["rerank"] = sigmoid(float(logit))
            hit.score = blend_log_odds(hit.score, float(logit), w)
        reranked = sorted(hits[:k], key=lambda h: -h.score)
        floor = reranked[-1].score if reranked else 0.0
        tail = hits[k:]
        for hit in tail:  # never let an unreranked hit jump above the reranked head
            hit.score = min(hit.score, floor)
        return reranked + tail


def blend_log_odds(first_stage: float, rerank_logit: float, weight: float) -> float:
    """The first stage's relevance and the cross-encoder's judgement as weighted evidence in log-odds.

    A linear mix of probabilities let the cross-encoder decide alone: the first
    stage's estimates crowd near 1 at the top of a list while the cross-encoder's
    spread over (0, 1). Adding log-odds keeps both on one scale, so a confident
    first stage is overruled only by a confident cross-encoder.
    """
    p = min(max(first_stage, 1e-6), 1 - 1e-6)
    return sigmoid((1 - weight) * math.log(p / (1 - p)) + weight * rerank_logit)


def sigmoid(x: float) -> float:
    """A logit as a probability, for any finite or infinite logit (exp never overflows)."""
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


def diversify(hits: list[SearchHit], vectors: dict[str, np.ndarray], diversity: float) -> list[SearchHit]:
    """Maximal marginal relevance over the top of the list: each pick trades its relevance against its
    similarity to what is already picked, so ten near-identical pages do not fill the first screen."""
    pool = [h for h in hits[:DIVERSIFY_POOL] if h.id in vectors]
    rest = [h for h in hits if h not in pool]
    picked: list[SearchHit] = []
    while pool:
        def mmr(h: SearchHit) -> float:
            redundancy = max((float(vectors[h.id] @ vectors[p.id]) for p in picked), default=0.0)
            return (1 - diversity) * h.score - diversity * redundancy

        best = max(pool, key=mmr)
        picked.append(best)
        pool.remove(best)
    return picked + rest


def group_by_asset(hits: list[SearchHit]) -> list[SearchHit]:
    """One entry per asset, at its best segment's rank; its other segments go into `more`."""
    groups: dict[str, SearchHit] = {}
    for hit in hits:
        best = groups.get(hit.asset_id)
        if best is None:
            groups[hit.asset_id] = hit
        else:
            best.more.append(hit)
    return list(groups.values())


def spoken_moment(words: list[list] | None, query: str, default: float | None) -> float | None:
    """When, inside a transcript span, the query's words are spoken: the start of the densest stretch.

    Falls back to the span's start when no query word is heard in it.
    """
    terms = set(tokenize(query))
    if not words or not terms:
        return default
    stems = [set(tokenize(text)) for _, text in words]
    width = max(3, len(terms) + 2)
    best_index, best_count = None, 0
    for i in range(len(words)):
        if not stems[i] & terms:
            continue
        count = len(terms & set().union(*stems[i : i + width]))
        if count > best_count:
            best_index, best_count = i, count
    return default if best_index is None else float(words[best_index][0])


def may_decide(lists: dict[str, list[Ranked]], points: dict[str, ScoredPoint], query: str) -> set[str]:
    """The lists that may decide this query alone: BM25 only when its best segment holds every query term,
    the phrase list only when its best segment says the query (nearly) word for word.

    A clear BM25 lead on a lookup (a name, a number, a pasted sentence) is strong
    evidence; on a question, whose words an answer only partly repeats, a lead
    built on some of its words is not, and dense similarity should keep the say.
    """
    names = set(lists) - {"bm25", "phrase"}
    if lists.get("bm25"):
        best = points[lists["bm25"][0].id].payload.get("text", "")
        if set(tokenize(query)) <= set(tokenize(best)):
            names.add("bm25")
    wanted = set(word_pairs(all_words(query)))
    if lists.get("phrase") and wanted:
        said = len(wanted & set(word_pairs(all_words(points[lists["phrase"][0].id].payload.get("text", "")))))
        # Word for word; or, for a statement, two pairs in three (a recording's transcript misheard a word).
        if said == len(wanted) or (not is_question(query) and said >= 2 and said >= PHRASE_MIN_SHARE * len(wanted)):
            names.add("phrase")
    return names


def looks_up(query: str, lists: dict[str, list[Ranked]], points: dict[str, ScoredPoint]) -> bool:
    """A short run of words, not a question, half of whose terms or more the best BM25 segment holds: a lookup.

    "harbour crane will be inspected", "alarm clock ringing", four words heard in a recording: what was
    said or written, which lexical evidence decides better than embeddings of a few words do (dev sets:
    spoken four-word phrases R@10 0.58 -> 0.78, above BM25 alone; pictures, sounds and questions no lower).
    """
    words = all_words(query)
    terms = set(tokenize(query))
    if not lists.get("bm25") or not terms or len(words) > LOOKUP_MAX_WORDS or is_question(query):
        return False
    held = len(terms & set(tokenize(points[lists["bm25"][0].id].payload.get("text", ""))))
    return held / len(terms) >= LOOKUP_MIN_SHARE


def labels_lead(lists: dict[str, list[Ranked]], points: dict[str, ScoredPoint]) -> bool:
    """Whether BM25's best segment is a picture's, frame's or sound's labels: words a classifier guessed, not
    words written or said, so matching them is no lookup (everyday effects from other packages: default R@10
    0.187 with the lookup, 0.219 without, dense alone 0.219; the old sounds set 0.552 -> 0.569 = dense;
    recordings 0.760 -> 0.735 = dense; pictures unchanged: bench/bench_quality.py)."""
    return points[lists["bm25"][0].id].payload.get("modality", "") in LABELLED_MODALITIES


def is_question(query: str) -> bool:
    words = query.lower().split()
    return query.rstrip().endswith("?") or (bool(words) and words[0] in QUESTION_WORDS)


def add_proximity(fused: list[Fused], points: dict[str, ScoredPoint], query: str) -> None:
    """Reward candidates that contain the query's words in its order, then re-sort.

    BM25 and dense vectors both ignore word order within a segment; a pasted
    sentence or a quoted phrase should land on the segment that has it.
    The measure is the share of the query's adjacent term pairs found
    adjacent in the segment (1.0 for a verbatim match).
    """
    pairs = _pairs(tokenize(query))
    if len(pairs) < PROXIMITY_MIN_PAIRS:  # short queries: adjacency says little
        return
    for f in fused[:PROXIMITY_POOL]:
        text_pairs = _pairs(tokenize(points[f.id].payload.get("text", "")))
        share = len(pairs & text_pairs) / len(pairs)
        if share >= PROXIMITY_MIN_SHARE:  # below this, shared pairs are topical overlap, not the phrase
            f.parts["proximity"] = share
            f.score += PROXIMITY_WEIGHT * share
    fused.sort(key=lambda f: -f.score)


def _pairs(terms: list[str]) -> set[tuple[str, str]]:
    return set(zip(terms, terms[1:]))


def relevance(standardised: float) -> float:
    """A fused score in standard deviations above chance, as a [0, 1] relevance estimate.

    The best hit of a flat, aimless candidate list sits 2-3 deviations above its
    tail; a clear answer 6-12 (measured on the FAQ benchmarks and generated pages).
    """
    return sigmoid(RELEVANCE_SLOPE * (standardised - RELEVANCE_MIDPOINT))


def _sorted(items: list[Ranked]) -> list[Ranked]:
    return sorted(items, key=lambda r: -r.score)
