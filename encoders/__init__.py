"""Encoders turn segments and queries into vectors: dense text embeddings and BM25 sparse vectors."""

from encoders.base import TextEncoder
from encoders.bm25 import Bm25Encoder
from encoders.text import load_text_encoder

__all__ = ["Bm25Encoder", "TextEncoder", "load_text_encoder"]
