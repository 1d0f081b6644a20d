"""Text encoders: the packaged models, and the hub/local loading path on a tiny model built from a config."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from encoders.text import OnnxTextEncoder, SentenceTransformerEncoder, load_text_encoder


@pytest.fixture(scope="module")
def bge():
    return load_text_encoder("bge-small-en")


def test_bge_is_loaded_once_per_process(bge) -> None:
    assert load_text_encoder("bge-small-en") is bge
    assert isinstance(bge, OnnxTextEncoder)
    assert bge.dim == 384


def test_vectors_are_normalised_and_semantic(bge) -> None:
    docs = bge.encode_document(
        ["The dog chased the ball across the park.", "Quarterly revenue grew by eight percent.", "A cat sleeps."]
    )
    assert docs.shape == (3, 384) and docs.dtype == np.float32
    assert np.allclose(np.linalg.norm(docs, axis=1), 1.0, atol=1e-5)
    query = bge.encode_query(["how did sales develop this quarter"])[0]
    assert int(np.argmax(docs @ query)) == 1


def test_query_and_document_prompts_differ(bge) -> None:
    text = "solar panels on the roof"
    assert not np.allclose(bge.encode_query([text]), bge.encode_document([text]))


def test_long_input_is_truncated_not_fatal(bge) -> None:
    vec = bge.encode_document(["word " * 5000])
    assert vec.shape == (1, 384) and np.isfinite(vec).all()
    assert bge.count_tokens("word " * 600) == 600  # counting is not truncated


def test_packaged_minilm_through_sentence_transformers() -> None:
    enc = load_text_encoder("all-minilm-l6-v2")
    assert isinstance(enc, SentenceTransformerEncoder)
    vecs = enc.encode_document(["A man is eating food.", "A man is riding a horse."])
    q = enc.encode_query(["someone having a meal"])[0]
    assert vecs.shape == (2, 384)
    assert float(vecs[0] @ q) > float(vecs[1] @ q)


def test_local_directory_model_loads_like_a_hub_model(tmp_path: Path) -> None:
    """The path users with internet take (a hub id resolves to a directory like this one)."""
    from sentence_transformers import SentenceTransformer, models
    from transformers import BertConfig, BertModel, BertTokenizerFast

    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + "the a cat dog sat on mat ran".split()
    (tmp_path / "vocab.txt").write_text("\n".join(vocab))
    tokenizer = BertTokenizerFast(vocab_file=str(tmp_path / "vocab.txt"))
    config = BertConfig(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=64)
    hf_dir = tmp_path / "hf"
    BertModel(config).save_pretrained(hf_dir)
    tokenizer.save_pretrained(hf_dir)
    word = models.Transformer(str(hf_dir), max_seq_length=32)
    st_dir = tmp_path / "tiny-st"
    SentenceTransformer(modules=[word, models.Pooling(word.get_embedding_dimension())]).save(str(st_dir))

    enc = load_text_encoder(str(st_dir), device="cpu")
    assert isinstance(enc, SentenceTransformerEncoder)
    assert (enc.dim, enc.max_tokens) == (32, 32)
    vecs = enc.encode_document(["the cat sat on the mat", "a dog ran"])
    assert vecs.shape == (2, 32)
    assert np.allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
    assert enc.count_tokens("the cat sat") == 3
