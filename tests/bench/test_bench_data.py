"""`rlpjax bench data` on a tiny generated corpus: every figure is present and consistent, the tokenize runs wrote
identical caches, and the pod's NTP consumption is the FLOP count's (checked against 6 P tokens)."""

import argparse
import dataclasses
import json

import pytest

from rlpjax.bench import cli
from rlpjax.bench.data import DataSuiteSettings, PodShape, bench_data_suite, format_data_table

TINY = DataSuiteSettings(rows=8, seq_len=64, batches=2, workers=(1,), hosts=2, use_shared_data=False,
                         generated_documents=200)


@pytest.fixture(scope="module")
def figures():
    return bench_data_suite(TINY)


def test_every_part_is_timed_and_the_ratios_are_the_figures(figures):
    for part in ("tokenize_w0", "tokenize_w1", "text", "cache", "text_host0of2", "cache_host0of2",
                 "text_host0of2_lane_workers1"):
        assert figures[f"{part}/tokens_per_s"] > 0 and figures[f"{part}/seconds"] > 0, part
    assert figures["tokenize/identical_for_any_workers"] is True
    assert (figures["text/host_rows"], figures["text_host0of2/host_rows"], figures["cache_host0of2/hosts"]) == (8, 4, 2)
    assert figures["cache_over_text"] == pytest.approx(figures["cache/tokens_per_s"] / figures["text/tokens_per_s"])
    assert figures["cache_host_share_over_ntp_host"] == pytest.approx(
        figures["cache_host0of2/tokens_per_s"] / figures["pod/host_tokens_per_s"])
    assert figures["text_lane_workers1_host_share_over_ntp_host"] == pytest.approx(
        figures["text_host0of2_lane_workers1/tokens_per_s"] / figures["pod/host_tokens_per_s"])
    assert figures["goal_met_by_cache"] == (figures["cache_host_share_over_ntp_host"] >= 20)
    assert "built-in documents + byte tokenizer (not requested)" in figures["corpus"]
    table = format_data_table(figures)
    for row in ("data tokenize, this process", "data tokenize, 1 worker", "text pipeline (read + tokenize + pack), "
                "host 0 of 2", "text pipeline (read + tokenize + pack), host 0 of 2, data.workers=1", "token-cache pipeline, all rows", "a pod host's NTP consumption"):
        assert f"| {row}" in table, row


def test_the_pod_consumption_is_the_paper_batch_over_the_pod_flops():
    from rlpjax.compute import count_params
    from rlpjax.config_io import resolve

    pod = PodShape().figures()
    assert pod["host_tokens_per_step"] == 512 * 2048 // 64
    model = resolve(str(cli.PRESETS.parent / "rlp_qwen3_1p7b.py"), []).model
    dense = 6 * count_params(model).matmul * 512 * 2048  # attention adds a few percent at 2048 tokens
    assert dense < pod["ntp_flops_per_step"] < 1.15 * dense
    assert pod["ntp_step_s"] == pytest.approx(pod["ntp_flops_per_step"] / (64 * 4 * 459e12 * 0.5))
    assert pod["host_tokens_per_s"] == pytest.approx(16384 / pod["ntp_step_s"])


def test_the_cli_prints_the_table_and_writes_the_json(tmp_path, capsys, monkeypatch):
    # the options land on TINY's sizes (the suite's own defaults are the 64 x 2048 benchmark)
    monkeypatch.setattr("rlpjax.bench.data.DataSuiteSettings", lambda **options: dataclasses.replace(TINY, **options))
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    args = parser.parse_args(["data", "--workers", "1", "--hosts", "2", "--batches", "1", "--json",
                              str(tmp_path / "data.json")])
    assert cli.run(args) == 0
    assert "**rlpjax bench data**" in capsys.readouterr().out
    saved = json.loads((tmp_path / "data.json").read_text())
    assert saved["text_host0of2/hosts"] == 2 and saved["tokenize/identical_for_any_workers"] is True
