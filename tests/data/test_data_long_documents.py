"""A huge document is tokenized in pieces (bounded memory) with the same ids as whole where the cut is at a space."""

import json


from rlpjax.data import load_tokenizer
from rlpjax.data.packing import _pieces, encode_documents


def test_pieces_cover_the_text_and_cut_before_whitespace():
    text = ("word " * 5000) + "x" * 3000 + (" tail" * 100)
    pieces = _pieces(text, 1000)
    assert "".join(pieces) == text and all(len(p) <= 1000 for p in pieces)
    assert all(p.startswith(" ") for p in pieces[1:] if not p.startswith("x"))


def test_long_documents_encode_like_whole_ones_with_the_byte_tokenizer():
    tok = load_tokenizer("byte")
    texts = ["short", "é" * 10 + " long line " * 3000, ""]
    assert encode_documents(tok, texts, piece_chars=500) == tok.encode_batch(texts)


def test_long_documents_encode_like_whole_ones_with_the_qwen3_tokenizer(shared_data):
    """Byte-level BPE whose pre-tokenizer splits before spaces: cutting before a space changes no token on C4 text."""
    path = shared_data / "tokenizers" / "qwen3" / "tokenizer.json"
    tok = load_tokenizer(str(path))
    lines = (shared_data / "web" / "c4_en_sample_1000.jsonl").read_text().splitlines()[:60]
    text = " ".join(json.loads(line)["text"].replace("\n", " ") for line in lines)
    assert len(text) > 20_000
    assert encode_documents(tok, [text], piece_chars=4096) == tok.encode_batch([text])
