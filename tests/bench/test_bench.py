"""`rlpjax bench all` on a tiny model: every part returns its documented figures, positive and finite, and the JSON
holds every figure of the printed table. One suite run serves the fast tests (compiles dominate on CPU); the RLP
part, whose code path tests/rlp covers, runs in the slow test."""

import argparse
import contextlib
import dataclasses
import io
import json
import math
import re

import pytest

from rlpjax.bench import cli
from rlpjax.bench.all import SuiteSettings, bench_all, format_table, table_rows

TINY_MODEL = ["model.vocab_size=40", "model.hidden_size=16", "model.intermediate_size=32", "model.num_layers=1",
              "model.num_heads=2", "model.num_kv_heads=1", "model.head_dim=8", "model.max_seq_len=64",
              "data.seq_len=16", "rlp.max_thought_tokens=4"]
TINY = SuiteSettings(ntp_rows=8, ntp_seq_len=16, ntp_repeats=1, peak_matmul_size=128, sampler_batch_sizes=(1, 3),
                     sampler_prompt_len=4, sampler_new_tokens=5, sampler_repeats=1, rlp_docs=2, rlp_doc_len=16,
                     rlp_kg=(), rlp_max_thought_tokens=4, rlp_repeats=1, data_batches=2, use_shared_data=False)


def _run_cli(settings: SuiteSettings, tmp_path) -> tuple[str, dict]:
    """`rlpjax bench all <tiny model> --json FILE` with `settings`: (printed text, the JSON)."""
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    out, printed = tmp_path / "all.json", io.StringIO()
    with pytest.MonkeyPatch.context() as monkeypatch, contextlib.redirect_stdout(printed):
        monkeypatch.setitem(cli.BENCHMARKS, "all",
                            lambda cfg, args: bench_all(cli.part_configs(cfg, args.overrides), settings))
        assert cli.run(parser.parse_args(["all", *TINY_MODEL, "--json", str(out)])) == 0
    return printed.getvalue(), json.loads(out.read_text())


def _check_table(printed: str, figures: dict) -> list[str]:
    """The table's JSON keys, after checking that each is in the JSON with a positive finite value."""
    assert figures["benchmark"] == "all"
    assert format_table(figures) in printed
    shown = [key for keys in re.findall(r"\| ((?:`[^`]+` ?)+) \|$", printed, flags=re.M)
             for key in re.findall(r"`([^`]+)`", keys)]
    assert shown == [key for _, _, keys, _ in table_rows(figures) for key in ((keys,) if isinstance(keys, str) else keys)]
    for key in shown:
        value = figures[key]
        assert isinstance(value, (int, float)) and math.isfinite(value) and value > 0, (key, value)
    return shown


@pytest.fixture(scope="module")
def suite(tmp_path_factory):
    return _run_cli(TINY, tmp_path_factory.mktemp("bench"))


def test_json_holds_every_figure_of_the_table(suite):
    printed, figures = suite
    shown = _check_table(printed, figures)
    assert len(shown) >= 19
    for part in ("NTP step", "sampler batch 1", "sampler batch 3", "data pipeline", "wall time"):
        assert f"| {part} |" in printed
    for words in ("machine:", f"JAX {figures['machine/jax']}", "batch 8 x seq 16", "prompt 4 + 5 new tokens",
                  "built-in corpus + byte tokenizer"):
        assert words in printed


def test_ntp_figures_are_consistent(suite):
    _, f = suite
    assert f["ntp/mesh"] == {"data": 1, "fsdp": 8, "tensor": 1}
    assert f["ntp/tokens_per_s"] == pytest.approx(8 * 16 / f["ntp/step_s"])
    assert f["ntp/mfu"] == pytest.approx(f["ntp/achieved_tflops"] / (f["peak/tflops_per_device"] * 8))
    assert f["ntp/peak_tflops_per_device"] == f["peak/tflops_per_device"]
    assert math.isfinite(f["ntp/final_loss"]) and f["ntp/flops_per_step"] > 0


def test_sampler_decodes_every_row_to_full_length(suite):
    _, f = suite
    for b in (1, 3):
        assert f[f"sampler/b{b}/generated_tokens"] == b * 5
        assert f[f"sampler/b{b}/tokens_per_s"] == pytest.approx(b * 5 / f[f"sampler/b{b}/call_s"])
        assert f[f"sampler/b{b}/compile_s"] > 0


def test_data_is_compared_with_the_ntp_step_at_the_same_shape(suite):
    _, f = suite
    assert (f["data/rows"], f["data/seq_len"]) == (f["ntp/rows"], f["ntp/seq_len"])
    assert f["data_over_ntp"] == pytest.approx(f["data/tokens_per_s"] / f["ntp/tokens_per_s"])


@pytest.mark.slow
def test_rlp_rows_shared_naive_and_torch(tmp_path):
    from rlpjax.bench.all import torch_available

    layouts = ("shared", "naive", "torch") if torch_available() else ("shared", "naive")
    settings = dataclasses.replace(TINY, rlp_kg=((2, 2),), sampler_batch_sizes=(1,), rlp_docs=8, rlp_layouts=layouts)
    printed, f = _run_cli(settings, tmp_path)
    _check_table(printed, f)
    for part in [f"RLP 2x2 {layout}" for layout in layouts] + ["RLP 2x2"]:
        assert f"| {part} |" in printed
    assert f["rlp/2x2/shared/thought_tokens"] == f["rlp/2x2/naive/thought_tokens"]  # the same thoughts
    assert f["rlp/2x2/speedup"] == pytest.approx(
        f["rlp/2x2/shared/thought_tokens_per_s"] / f["rlp/2x2/naive/thought_tokens_per_s"])
    if "torch" in layouts:
        assert f["rlp/2x2/speedup_vs_torch"] == pytest.approx(
            f["rlp/2x2/shared/thought_tokens_per_s"] / f["rlp/2x2/torch/thought_tokens_per_s"])


def test_the_matmul_backward_comparison_times_both_steps_and_restores_the_custom_vjp(monkeypatch, capsys):
    import sys

    from rlpjax.bench import matmul_backward
    from rlpjax.model import layers

    custom = layers._matmul
    monkeypatch.setattr(sys, "argv", ["matmul_backward", "--repeats", "1", *TINY_MODEL, "data.global_batch_size=8"])
    matmul_backward.main()
    lines = capsys.readouterr().out.strip().splitlines()
    assert [line.split(":")[0] for line in lines] == ["dense (written-out backward)", "einsum (JAX's transpose)",
                                                      "speedup"], lines
    assert float(re.search(r"speedup: ([\d.]+)x", lines[-1]).group(1)) > 0
    assert layers._matmul is custom
