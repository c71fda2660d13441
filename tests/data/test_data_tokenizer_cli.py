"""`rlpjax tokenizer train` writes a loadable byte-level BPE with the requested special tokens."""

import json

from rlpjax.cli import main
from rlpjax.data import load_tokenizer


def test_tokenizer_train_produces_a_loadable_tokenizer_with_specials(tmp_path):
    corpus = tmp_path / "corpus.jsonl"
    docs = [f"Tom has {i} apples and {i * 7} pears. The answer is {i + 12345}." for i in range(200)]
    corpus.write_text("".join(json.dumps({"text": d}) + "\n" for d in docs) + "{broken\n")
    out = tmp_path / "tok" / "tokenizer.json"
    code = main(["tokenizer", "train", "--input", str(corpus), "--vocab-size", "400", "--out", str(out),
                 "--special-tokens", "<node>,</node>", "--split-digits"])
    assert code == 0
    tok = load_tokenizer(str(out.parent))
    assert 256 + 7 < tok.vocab_size <= 400  # bytes + specials + some merges (a small corpus runs out of pairs)
    for special in ("<node>", "</node>", "<think>", "</think>"):
        assert tok.token_to_id(special) is not None
        assert tok.encode(special) == [tok.token_to_id(special)]
    assert tok.add_bos and tok.bos_id == tok.token_to_id("<|bos|>")
    ids = tok.encode("The answer is 12345.")
    assert tok.decode(ids) == "The answer is 12345."
    assert [tok.decode([i]) for i in tok.encode("12345")] == list("12345")  # digits split
    assert len(tok.encode("Tom has 5 apples")) < len("Tom has 5 apples")  # merges learned


def test_tokenizer_train_without_vocab_size_is_a_user_error(tmp_path, capsys):
    corpus = tmp_path / "c.jsonl"
    corpus.write_text('{"text": "hello"}\n')
    assert main(["tokenizer", "train", "--input", str(corpus), "--out", str(tmp_path / "t.json")]) == 2
    assert "--vocab-size" in capsys.readouterr().err
