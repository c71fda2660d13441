"""`rlpjax bench all`: the NTP step, the sampler, the RLP step and the data pipeline in one run, one table.

Every figure lands in one flat dict (`<part>/<figure>`, written whole by `--json`), and the printed markdown table
is built from rows that each name the dict key they show, so the JSON holds every figure of the table by
construction. The header names the machine, the JAX version and each part's config (also keys of the dict).
Each part runs on its own config (`bench.cli.part_configs`: the part's preset, or `--config` for all of them).
`SuiteSettings()` is the suite as run for the README, most of its time the RLP part (each RLP stage is timed once
after its warm-up run to stay inside the 10-minute budget); tests pass tiny settings.
"""

from __future__ import annotations

import dataclasses
import os
import pathlib
import time

from rlpjax.bench.machine import describe_model, machine_info
from rlpjax.config import Config, DataConfig, SourceConfig

REPO = pathlib.Path(__file__).resolve().parents[2]
SHARED_DATA = REPO.parent / "shared" / "data"
C4_SAMPLE = SHARED_DATA / "web" / "c4_en_sample_1000.jsonl"
QWEN3_TOKENIZER = SHARED_DATA / "tokenizers" / "qwen3"


@dataclasses.dataclass(frozen=True)
class SuiteSettings:
    """Sizes and repeats of each part (the defaults are the suite; each part's model is the config's)."""

    ntp_rows: int = 8
    ntp_seq_len: int = 512
    ntp_repeats: int = 5
    peak_matmul_size: int = 2048
    sampler_batch_sizes: tuple[int, ...] = (1, 8, 32, 128)
    sampler_prompt_len: int = 64
    sampler_new_tokens: int = 64
    sampler_repeats: int = 5
    rlp_docs: int = 4
    rlp_doc_len: int = 512
    rlp_kg: tuple[tuple[int, int], ...] = ((4, 4),)
    rlp_max_thought_tokens: int = 64
    rlp_repeats: int = 1
    rlp_layouts: tuple[str, ...] = ("shared", "naive", "torch")
    """"torch" is dropped (and the table says so) when torch + transformers are not installed."""
    data_batches: int = 200
    use_shared_data: bool = True
    """Read the C4 sample with the Qwen3 tokenizer when ../shared/data has them (else the built-in corpus)."""


def suite_data_config(cfg: Config, s: SuiteSettings) -> tuple[DataConfig, str]:
    """(the data part's config at the NTP part's batch shape, a note saying which corpus and tokenizer)."""
    shape = dict(seq_len=s.ntp_seq_len, global_batch_size=s.ntp_rows, mode="packed")
    if s.use_shared_data and C4_SAMPLE.is_file() and (QWEN3_TOKENIZER / "tokenizer.json").is_file():
        sources = (SourceConfig(name="c4", path=str(C4_SAMPLE)),)
        return (dataclasses.replace(cfg.data, sources=sources, tokenizer=str(QWEN3_TOKENIZER), **shape),
                f"{C4_SAMPLE.name} + Qwen3 tokenizer")
    why = "not requested" if not s.use_shared_data else f"{SHARED_DATA} absent"
    return (dataclasses.replace(cfg.data, sources=(SourceConfig(),), tokenizer="byte", **shape),
            f"built-in corpus + byte tokenizer ({why})")


def torch_available() -> bool:
    """torch and transformers import (the `hf` extra): the RLP part can run its torch peer."""
    import importlib.util

    return all(importlib.util.find_spec(name) is not None for name in ("torch", "transformers"))


def bench_all(cfgs: dict[str, Config], s: SuiteSettings = SuiteSettings()) -> dict:
    """Run every part ("ntp", "sampler", "rlp", "data") on its config in `cfgs`; returns the flat figures dict
    (`format_table` prints it)."""
    from rlpjax.bench.data import bench_data
    from rlpjax.bench.ntp import bench_ntp
    from rlpjax.bench.rlp import bench_rlp
    from rlpjax.bench.sampler import bench_sampler
    from rlpjax.train.metrics import measure_peak_tflops

    started = time.perf_counter()
    figures: dict = {f"machine/{k}": v for k, v in machine_info().items()}
    figures.update({f"config/{part}_model": describe_model(cfgs[part].model) for part in ("ntp", "sampler", "rlp")})
    ntp_cfg = cfgs["ntp"].replace(data=dataclasses.replace(cfgs["ntp"].data, seq_len=s.ntp_seq_len,
                                                           global_batch_size=s.ntp_rows))
    data_cfg, data_note = suite_data_config(cfgs["data"], s)
    layouts = s.rlp_layouts if torch_available() else tuple(layout for layout in s.rlp_layouts if layout != "torch")

    def part(name: str, run) -> None:
        start = time.perf_counter()
        figures.update({f"{name}/{k}": v for k, v in run().items()})
        figures[f"wall_s/{name}"] = time.perf_counter() - start

    part("peak", lambda: {"tflops_per_device": measure_peak_tflops(size=s.peak_matmul_size),
                          "matmul_size": s.peak_matmul_size})
    part("ntp", lambda: bench_ntp(ntp_cfg, repeats=s.ntp_repeats, peak_tflops=figures["peak/tflops_per_device"]))
    part("sampler", lambda: bench_sampler(cfgs["sampler"], batch_sizes=s.sampler_batch_sizes,
                                          prompt_len=s.sampler_prompt_len, new_tokens=s.sampler_new_tokens,
                                          repeats=s.sampler_repeats))
    if s.rlp_kg:
        part("rlp", lambda: bench_rlp(cfgs["rlp"], docs=s.rlp_docs, doc_len=s.rlp_doc_len, kg=s.rlp_kg,
                                      max_thought_tokens=s.rlp_max_thought_tokens, repeats=s.rlp_repeats,
                                      layouts=layouts, peak_tflops=figures["peak/tflops_per_device"]))
    part("data", lambda: bench_data(data_cfg, batches=s.data_batches))
    figures["data/corpus"] = data_note
    figures["data_over_ntp"] = figures["data/tokens_per_s"] / figures["ntp/tokens_per_s"]
    figures["machine/load_average_1m_end"] = os.getloadavg()[0]
    figures["wall_s/total"] = time.perf_counter() - started
    return figures


def _rlp_kgs(figures: dict) -> list[str]:
    """The `KxG` settings the RLP part ran, in increasing order."""
    kgs = {k.split("/")[1] for k in figures if k.startswith("rlp/") and k.endswith("/speedup")}
    return sorted(kgs, key=lambda kg: tuple(int(x) for x in kg.split("x")))


def table_rows(figures: dict) -> list[tuple[str, str, str, str]]:
    """(benchmark, figure, JSON key, format) of every table row, for the parts present in `figures`."""
    rows = [("NTP step", "tokens/s", "ntp/tokens_per_s", ",.0f"),
            ("NTP step", "step time (s)", "ntp/step_s", ".3f"),
            ("NTP step", "model FLOPs / step", "ntp/flops_per_step", ".3e"),
            ("NTP step", "achieved TFLOP/s", "ntp/achieved_tflops", ".4f"),
            ("NTP step", "measured matmul peak TFLOP/s / device", "peak/tflops_per_device", ".4f"),
            ("NTP step", "MFU", "ntp/mfu", ".2%"),
            ("NTP step", "compile + first step (s)", "ntp/compile_s", ".1f")]
    for b in figures.get("sampler/batch_sizes", []):
        rows += [(f"sampler batch {b}", "decode tokens/s", f"sampler/b{b}/tokens_per_s", ",.0f"),
                 (f"sampler batch {b}", "ms / decode step", f"sampler/b{b}/ms_per_step", ".2f")]
    for kg in _rlp_kgs(figures):
        for layout in figures.get("rlp/layouts", ()):
            name, key = f"RLP {kg} {layout}", f"rlp/{kg}/{layout}"
            rows += [(name, "thought tokens/s", f"{key}/thought_tokens_per_s", ",.0f"),
                     (name, "step s (rollout + update)", f"{key}/step_s", ".3f")]
            rows += [(name, f"{stage} s / MFU", (f"{key}/{stage}_s", f"{key}/{stage}_mfu"), "stage")
                     for stage in ("rollout", "teacher", "sample", "score", "update")
                     if f"{key}/{stage}_s" in figures and (layout == "shared" or stage in ("rollout", "update"))]
            rows.append((name, "peak bytes (compiled)", f"{key}/peak_bytes", ",d"))
        rows += [(f"RLP {kg}", "speed-up shared / naive", f"rlp/{kg}/speedup", ".2f"),
                 (f"RLP {kg}", "speed-up shared / torch", f"rlp/{kg}/speedup_vs_torch", ".2f")]
    rows += [("data pipeline", "tokens/s", "data/tokens_per_s", ",.0f"),
             ("data pipeline", "real (non-pad) tokens/s", "data/real_tokens_per_s", ",.0f"),
             ("data pipeline", "data tokens/s / NTP step tokens/s (goal >= 10)", "data_over_ntp", ",.1f")]
    rows += [("wall time", f"{name} (s)", f"wall_s/{name}", ".1f")
             for name in ("peak", "ntp", "sampler", "rlp", "data", "total")]
    return [row for row in rows if all(key in figures for key in _keys(row[2]))]


def _keys(key: str | tuple[str, ...]) -> tuple[str, ...]:
    """A row's JSON key(s): one figure, or (seconds, MFU) of a stage."""
    return (key,) if isinstance(key, str) else key


def _cell(figures: dict, key, fmt: str) -> str:
    if fmt == "stage":
        seconds, mfu = (figures[k] for k in key)
        return f"{seconds:.3f} / {mfu:.1%}"
    return format(figures[key], fmt)


def header_lines(f: dict) -> list[str]:
    """The machine, JAX version and each part's config, from the figures dict."""
    sampler_batches = "/".join(str(b) for b in f.get("sampler/batch_sizes", []))
    mesh = " ".join(f"{k}={v}" for k, v in f.get("ntp/mesh", {}).items())
    return [
        f"- machine: {f['machine/cpu']}, {f['machine/cpu_cores']} cores; devices: {f['machine/device_count']} x "
        f"{f['machine/device_kind']} ({f['machine/platform']}); load average (1 min) "
        f"{f['machine/load_average_1m']:.2f} at start, {f['machine/load_average_1m_end']:.2f} at end",
        f"- JAX {f['machine/jax']}; models: NTP {f['config/ntp_model']}; sampler {f['config/sampler_model']}; "
        f"RLP {f['config/rlp_model']}",
        f"- NTP: batch {f['ntp/rows']} x seq {f['ntp/seq_len']}, mesh {mesh}, {f['ntp/repeats']} timed steps after "
        f"a compiling one; peak: {f['peak/matmul_size']}^2 matmul",
        f"- sampler: prompt {f['sampler/prompt_len']} + {f['sampler/new_tokens']} new tokens (no stop token), "
        f"batch {sampler_batches}, {f['sampler/repeats']} timed calls after a compiling one",
        f"- RLP: {f['rlp/docs']} docs x {f['rlp/doc_len']} tokens, thought cap {f['rlp/max_thought_tokens']}, "
        f"K x G = {', '.join(_rlp_kgs(f))}, layouts {', '.join(f['rlp/layouts'])}, {f['rlp/repeats']} timed "
        f"run(s) per stage after a warm-up" if "rlp/docs" in f else "- RLP: not run",
        f"- data: {f['data/corpus']}, {f['data/mode']} {f['data/rows']} x {f['data/seq_len']}, "
        f"{f['data/batches']} batches",
    ]


def format_table(figures: dict) -> str:
    """The markdown report: header lines, then one table whose rows each name their JSON key."""
    lines = ["**rlpjax bench all**", "", *header_lines(figures), "",
             "| benchmark | figure | value | JSON key |", "|---|---|---:|---|"]
    for bench, figure, key, fmt in table_rows(figures):
        lines.append(f"| {bench} | {figure} | {_cell(figures, key, fmt)} | {' '.join(f'`{k}`' for k in _keys(key))} |")
    return "\n".join(lines)
