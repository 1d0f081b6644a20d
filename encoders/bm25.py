"""BM25 as sparse vectors: we compute the term-frequency half, Qdrant's IDF modifier the other.

Document vectors hold saturated, length-normalised term frequencies
tf*(k1+1) / (tf + k1*(1-b+b*len/avg_len)); query vectors hold 1 per distinct
term. The dot product Qdrant computes, with IDF applied per term, is then
the Okapi BM25 score.

Two kinds of term share one sparse vector. Content terms (stemmed words less
stop words) answer topical queries. Word pairs (adjacent words, stop words
kept) answer phrase lookups: "for trying out the" is one content term ("tri")
but three pairs, and the segment that says exactly that holds all three, the
rarer the pair the more it counts (IDF). A query asks for one kind or the
other (`encode_query`, `encode_phrase_query`), so topical ranking is the
plain BM25 of content terms.
"""

from __future__ import annotations

import re
import zlib
from collections import Counter
from functools import lru_cache

import Stemmer

from core.schema import SparseVector

# English function words; they carry no lexical signal and inflate postings.
STOPWORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before being
    below between both but by can could did do does doing down during each few for from further had
    has have having he her here hers herself him himself his how i if in into is it its itself just
    me more most my myself no nor not now of off on once only or other our ours ourselves out over
    own same she should so some such than that the their theirs them themselves then there these
    they this those through to too under until up very was we were what when where which while who
    whom why will with would you your yours yourself yourselves""".split()
)

_WORD = re.compile(r"\w+", re.UNICODE)


@lru_cache(maxsize=1)
def _stemmer() -> Stemmer.Stemmer:
    return Stemmer.Stemmer("english")


def tokenize(text: str) -> list[str]:
    """Lowercased Unicode words without stopwords, Snowball-stemmed."""
    words = [w for w in _WORD.findall(text.lower()) if w not in STOPWORDS and len(w) < 64]
    return _stemmer().stemWords(words)


def all_words(text: str) -> list[str]:
    """Lowercased Unicode words, stop words kept, Snowball-stemmed: the sequence phrases are made of."""
    return _stemmer().stemWords([w for w in _WORD.findall(text.lower()) if len(w) < 64])


def word_pairs(words: list[str]) -> list[str]:
    """Adjacent word pairs as terms; the space keeps them apart from single-word terms."""
    return [f"{a} {b}" for a, b in zip(words, words[1:])]


def term_index(term: str) -> int:
    """A stable 31-bit id per term, the same in every process (Python's hash() is salted)."""
    return zlib.crc32(term.encode("utf-8")) & 0x7FFFFFFF


class Bm25Encoder:
    def __init__(self, k1: float = 1.2, b: float = 0.75, avg_len: float = 90.0) -> None:
        self.k1 = k1
        self.b = b
        self.avg_len = avg_len

    def encode_document(self, text: str) -> SparseVector:
        terms = tokenize(text)
        # One length norm for both kinds: a text's word pairs grow in proportion to its content terms.
        norm = self.k1 * (1 - self.b + self.b * len(terms) / self.avg_len)
        weights: dict[int, float] = {}
        for term, tf in (Counter(terms) + Counter(word_pairs(all_words(text)))).items():
            index = term_index(term)
            weights[index] = weights.get(index, 0.0) + tf * (self.k1 + 1) / (tf + norm)
        return _sparse(weights)

    def encode_query(self, text: str) -> SparseVector:
        """Content terms: a topical query."""
        return _sparse({term_index(t): 1.0 for t in set(tokenize(text))})

    def encode_phrase_query(self, text: str) -> SparseVector:
        """Word pairs: a phrase lookup (empty for a one-word query)."""
        return _sparse({term_index(t): 1.0 for t in set(word_pairs(all_words(text)))})


def _sparse(weights: dict[int, float]) -> SparseVector:
    indices = sorted(weights)
    return SparseVector(indices=indices, values=[float(weights[i]) for i in indices])
