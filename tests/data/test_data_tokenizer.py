"""Tokenizers: Qwen3 and stories260K tokenizer.json files, the byte tokenizer, BOS/EOS settings."""

import json

import pytest
import tokenizers

from rlpjax.data import load_tokenizer
from rlpjax.data.tokenizer import BYTE_SPECIAL_TOKENS


def test_qwen3_ids_and_round_trip_on_c4(shared_data):
    tok = load_tokenizer(str(shared_data / "tokenizers" / "qwen3"))
    assert tok.encode("Hello world") == [9707, 1879]
    assert tok.token_to_id("<think>") == 151667 and tok.token_to_id("</think>") == 151668
    assert tok.vocab_size == 151669
    assert tok.bos_id is None and not tok.add_bos and tok.eos_id == tok.token_to_id("<|im_end|>")
    assert tok.pad_id == tok.token_to_id("<|endoftext|>")
    lines = (shared_data / "web" / "c4_en_sample_1000.jsonl").read_text().splitlines()[:200]
    texts = [json.loads(line)["text"] for line in lines]
    for text, ids in zip(texts, tok.encode_batch(texts)):
        assert tok.decode(ids) == text
        assert ids == tok.encode(text)


def test_stories260k_tokenizer_loads_with_bos_from_its_config(shared_data):
    path = shared_data / "models" / "stories260K"
    tok = load_tokenizer(str(path))
    reference = tokenizers.Tokenizer.from_file(str(path / "tokenizer.json"))
    assert tok.vocab_size == 512 and tok.bos_id == 1 and tok.eos_id == 2
    assert tok.add_bos and not tok.add_eos
    text = "Once upon a time, there was a little girl."
    assert [tok.bos_id] + tok.encode(text) == reference.encode(text).ids  # its post-processor adds BOS itself


def test_byte_tokenizer_round_trips_arbitrary_unicode():
    tok = load_tokenizer("byte")
    text = "ascii, é, 中文, emoji 🧪🚀, combining e\u0301, RTL שלום, zero\u200bwidth, \x00 nul"
    ids = tok.encode(text)
    assert ids == list(text.encode("utf-8")) and max(ids) < 256
    assert tok.decode(ids) == text
    assert tok.encode_batch([text, ""]) == [ids, []]
    assert [tok.token_to_id(t) for t in BYTE_SPECIAL_TOKENS] == [256, 257, 258, 259, 260]
    assert (tok.pad_id, tok.bos_id, tok.eos_id, tok.vocab_size) == (256, 257, 258, 261)
    assert tok.decode([tok.bos_id, 104, 105, tok.token_to_id("<think>")]) == "<bos>hi<think>"
    assert tok.token_to_id("a") == 97 and tok.token_to_id("ab") is None


def test_unknown_tokenizer_is_a_config_error(tmp_path):
    from rlpjax.config_io import ConfigError

    with pytest.raises(ConfigError):
        load_tokenizer(str(tmp_path))
