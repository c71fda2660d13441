"""Malformed records are skipped and counted; the good documents all arrive, in order."""

import json

from rlpjax.data import build_train_iterator, load_tokenizer
from data_corpus import drain, file_config

BAD_LINES = {
    "malformed_json": [b'{"text": "unterminated', b"not json at all", b"[1, 2, 3]"],
    "invalid_utf8": [b'{"text": "caf\xe9 latin-1"}', b'{"text": "lone \\ud800 surrogate"}'],
    "missing_field": [b'{"body": "no text field"}', b'{"text": null}'],
    "non_string_field": [b'{"text": 42}', b'{"text": ["a", "b"]}'],
    "empty_document": [b'{"text": ""}', b'{"text": "  \\n\\t "}', b"", b"   "],  # empty lines are empty documents
}


def test_bad_lines_are_counted_and_good_documents_arrive_in_order(tmp_path):
    good = [f"good document number {i} \u00e9\u4e2d" for i in range(12)]
    bad = [line for lines in BAD_LINES.values() for line in lines]
    lines = []
    for i, text in enumerate(good):  # interleave: one good line, then bad lines while they last
        lines.append(json.dumps({"text": text}).encode())
        lines.extend(bad[i * 2: i * 2 + 2])
    (tmp_path / "a.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    (tmp_path / "b.jsonl").write_bytes(b"")  # an empty shard
    cfg = file_config(str(tmp_path / "*.jsonl"), mode="documents", seq_len=256, global_batch_size=1,
                      shuffle=False, num_epochs=1)
    iterator = build_train_iterator(cfg, process_index=0, process_count=1)
    batches = drain(iterator)
    tok = load_tokenizer("byte")
    texts = [tok.decode(b["tokens"][0, 1: b["lengths"][0] - 1]) for b in batches]
    assert texts == good
    stats = iterator.stats()
    for kind, kind_lines in BAD_LINES.items():
        assert stats[kind] == len(kind_lines), kind
    assert stats["empty_file"] == 1
    assert stats["documents"] == len(good)
