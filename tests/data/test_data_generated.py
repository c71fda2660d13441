"""Sources without files: the built-in corpus, the controlled corpus (when importable), the eval split, the bench."""

import pytest

from rlpjax.bench.data import bench_data
from rlpjax.config import DataConfig, SourceConfig
from rlpjax.data import build_train_iterator, load_tokenizer
from rlpjax.data.generated import builtin_document
from data_corpus import drain, file_config, write_shards


def test_builtin_corpus_is_deterministic_varied_and_small_vocabulary():
    docs = [builtin_document(0, i) for i in range(200)]
    assert docs == [builtin_document(0, i) for i in range(200)]
    assert len(set(docs)) == 200 and builtin_document(1, 0) != docs[0]
    words = {w.strip(".,") for d in docs for w in d.split()}
    assert len(words) < 120  # a small vocabulary a tiny model learns quickly


def test_controlled_source_streams_and_resumes():
    corpora = pytest.importorskip("rlpjax.reasoning.corpora")
    cfg = DataConfig(sources=(SourceConfig(name="ctl", path="pretrain", format="controlled"),), seq_len=64,
                     global_batch_size=2, prefetch_batches=0)
    iterator = build_train_iterator(cfg, process_index=0, process_count=1)
    first = [next(iterator) for _ in range(3)]
    tok = load_tokenizer("byte")
    expected_text = next(corpora.iter_documents("pretrain", 0))
    assert tok.decode(first[0]["tokens"][0][1:40]) == expected_text[:39]
    state = iterator.get_state()
    following = next(iterator)
    again = build_train_iterator(cfg, process_index=0, process_count=1)
    again.set_state(state)
    assert (next(again)["tokens"] == following["tokens"]).all()


def test_eval_split_reads_eval_sources_once_in_order(tmp_path):
    texts = [f"held out {i}" for i in range(5)]
    write_shards(tmp_path, texts, "jsonl")
    cfg = file_config("", eval_sources=(SourceConfig(name="eval", path=str(tmp_path)),), mode="documents",
                      seq_len=32, global_batch_size=1, shuffle=True)
    batches = drain(build_train_iterator(cfg, process_index=0, process_count=1, split="eval"))
    tok = load_tokenizer("byte")
    assert [tok.decode(b["tokens"][0, 1: b["lengths"][0] - 1]) for b in batches] == texts


def test_bench_data_reports_tokens_per_second():
    figures = bench_data(DataConfig(seq_len=64, global_batch_size=4), batches=5, warmup=1)
    assert figures["tokens_per_s"] > 0 and figures["batches"] == 5
    assert figures["real_tokens_per_s"] == pytest.approx(figures["tokens_per_s"])  # packed rows are full
