"""Throughput of the data pipeline (read, tokenize, pack, batch) in tokens per second, and `rlpjax bench data`.

`bench_data(cfg)` times one iterator (`bench all` uses it beside the NTP step). `bench_data_suite` is the data
benchmark: on one corpus and tokenizer (the C4 sample and the Qwen3 tokenizer of ../shared/data when present) it
measures, in one run, the text pipeline as it is, `rlpjax data tokenize` with 0 (this process) and 1, 2, 4 worker
processes, the pipeline reading that token cache, and host 0's share on a simulated `hosts`-host layout
(process_index=0, process_count=hosts) of both, the text one also with 1, 2, 4 lane workers (data.workers); and it
sets them against what one host of the paper's pod must feed its chips (`PodShape`), the goal being at least
`GOAL_OVER_NTP` times that.
"""

from __future__ import annotations

import dataclasses
import os
import pathlib
import platform
import tempfile
import time

from rlpjax.config import DataConfig, SourceConfig
from rlpjax.data.pipeline import build_train_iterator

GOAL_OVER_NTP = 20.0
"""The data pipeline's goal: a host's share at this many times the NTP step's per-host consumption."""


def bench_data(cfg: DataConfig, batches: int = 50, warmup: int = 2, *, process_index: int = 0,
               process_count: int = 1) -> dict:
    """Time `batches` host batches of host `process_index` of `process_count` after `warmup` ones; tokens/s counts
    every row position (padding included: what the trainer consumes) and real tokens/s only non-padding ones."""
    iterator = build_train_iterator(cfg, process_index=process_index, process_count=process_count)
    for _ in range(warmup):
        next(iterator)
    positions, real = 0, 0
    start = time.perf_counter()
    for _ in range(batches):
        batch = next(iterator)
        positions += batch["tokens"].size
        real += int((batch["segment_ids"] > 0).sum())
    seconds = time.perf_counter() - start
    iterator.close()
    return {
        "tokens_per_s": positions / seconds,
        "real_tokens_per_s": real / seconds,
        "batches_per_s": batches / seconds,
        "batches": batches,
        "seconds": seconds,
        "rows": cfg.global_batch_size,
        "host_rows": len(iterator.rows),
        "hosts": process_count,
        "seq_len": cfg.seq_len,
        "mode": cfg.mode,
        "tokenizer": cfg.tokenizer,
        "sources": [source.path or source.format for source in cfg.sources],
        "machine": f"{platform.machine()} {platform.processor() or platform.system()}, {os.cpu_count()} CPUs",
    }


@dataclasses.dataclass(frozen=True)
class PodShape:
    """What one host of a pod consumes in NTP training: its share of the global batch (rows x seq_len / hosts)
    every step, a step lasting the model's NTP FLOPs over the pod's chips at `mfu` of their bf16 peak. The default is
    the RLP paper's batch (512 contexts x 2048 tokens, Qwen3-1.7B) on a 64-host TPU v5p pod (4 chips a host,
    459 TFLOP/s each) at 50% MFU, which no CPU here can measure, so it is computed (rlpjax.compute)."""

    rows: int = 512
    seq_len: int = 2048
    hosts: int = 64
    chips_per_host: int = 4
    chip_tflops: float = 459.0
    mfu: float = 0.5
    model_preset: str = "experiments/rlp_qwen3_1p7b.py"

    def figures(self) -> dict:
        from rlpjax.compute import ntp_step_flops
        from rlpjax.config_io import resolve

        model = resolve(str(pathlib.Path(__file__).resolve().parents[2] / self.model_preset), []).model
        flops = ntp_step_flops(model, self.rows, self.seq_len).total
        step_s = flops / (self.hosts * self.chips_per_host * self.chip_tflops * 1e12 * self.mfu)
        host_tokens = self.rows * self.seq_len // self.hosts
        return {"rows": self.rows, "seq_len": self.seq_len, "hosts": self.hosts, "chips_per_host": self.chips_per_host,
                "chip_tflops": self.chip_tflops, "mfu": self.mfu, "model": self.model_preset,
                "ntp_flops_per_step": flops, "ntp_step_s": step_s, "host_tokens_per_step": host_tokens,
                "host_tokens_per_s": host_tokens / step_s}


@dataclasses.dataclass(frozen=True)
class DataSuiteSettings:
    """Sizes of `rlpjax bench data` (the batch shape of the pipeline parts, the tokenize workers, the hosts)."""

    rows: int = 64
    seq_len: int = 2048
    batches: int = 20
    workers: tuple[int, ...] = (1, 2, 4)
    hosts: int = 8
    use_shared_data: bool = True
    corpus_repeats: int = 4
    """The C4 sample (1,000 documents) is written this many times over, so the tokenizer's load and the workers'
    start-up (about a second each) do not dominate the tokenize timings."""
    generated_documents: int = 4000
    """Documents of the built-in corpus written as JSONL when the shared C4 sample is absent (or not requested)."""
    pod: PodShape = PodShape()


def suite_corpus(directory: pathlib.Path, s: DataSuiteSettings) -> tuple[str, str, str]:
    """(a JSONL file written to `directory`, its tokenizer, a note naming them): the C4 sample `corpus_repeats`
    times over with the Qwen3 tokenizer when ../shared/data has them, else `generated_documents` of the built-in
    corpus with the byte tokenizer."""
    import json

    from rlpjax.bench.all import C4_SAMPLE, QWEN3_TOKENIZER, SHARED_DATA

    path = directory / "corpus.jsonl"
    if s.use_shared_data and C4_SAMPLE.is_file() and (QWEN3_TOKENIZER / "tokenizer.json").is_file():
        path.write_bytes(C4_SAMPLE.read_bytes() * s.corpus_repeats)
        return str(path), str(QWEN3_TOKENIZER), f"{C4_SAMPLE.name} x {s.corpus_repeats} + Qwen3 tokenizer"
    from rlpjax.data.sources import Share, open_source

    stream = iter(open_source(SourceConfig(), Share()))
    path.write_text("".join(json.dumps({"text": next(stream)}) + "\n" for _ in range(s.generated_documents)))
    why = "not requested" if not s.use_shared_data else f"{SHARED_DATA} absent"
    return str(path), "byte", f"{s.generated_documents} built-in documents + byte tokenizer ({why})"


def _tree_bytes(directory: pathlib.Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(directory.iterdir())}


def bench_data_suite(s: DataSuiteSettings = DataSuiteSettings()) -> dict:
    """Every figure of `rlpjax bench data` (see the module docstring), flat: "<part>/<figure>"."""
    from rlpjax.data.tokenize import TokenizeSettings, tokenize_to_cache

    figures: dict = {"machine": f"{platform.machine()} {platform.processor() or platform.system()}",
                     "cpu_cores": os.cpu_count(), "hosts": s.hosts, "workers": list(s.workers)}
    with tempfile.TemporaryDirectory(prefix="rlpjax-bench-data-") as tmp:
        corpus, tokenizer, note = suite_corpus(pathlib.Path(tmp), s)
        figures["corpus"] = note
        caches = {}
        for workers in (0, *s.workers):
            out = pathlib.Path(tmp, f"cache_w{workers}")
            start = time.perf_counter()
            manifest = tokenize_to_cache(TokenizeSettings(input=corpus, out=str(out), tokenizer=tokenizer,
                                                          workers=workers))
            seconds = time.perf_counter() - start
            figures[f"tokenize_w{workers}/tokens_per_s"] = manifest["tokens"] / seconds
            figures[f"tokenize_w{workers}/seconds"] = seconds
            caches[workers] = _tree_bytes(out)
        figures["tokenize/documents"], figures["tokenize/tokens"] = manifest["documents"], manifest["tokens"]
        figures["tokenize/identical_for_any_workers"] = all(tree == caches[0] for tree in caches.values())
        for name, path in (("text", corpus), ("cache", str(pathlib.Path(tmp, "cache_w0")))):
            # No prefetch: the timings are the host's work itself, not the draining of a buffer filled before.
            cfg = DataConfig(sources=(SourceConfig(name=name, path=path),), tokenizer=tokenizer, seq_len=s.seq_len,
                             global_batch_size=s.rows, mode="packed", num_epochs=0, prefetch_batches=0)
            parts = [(name, 1, 0), (f"{name}_host0of{s.hosts}", s.hosts, 0)]
            parts += [(f"text_host0of{s.hosts}_lane_workers{w}", s.hosts, w) for w in s.workers if name == "text"]
            for part, host_count, lane_workers in parts:
                run = bench_data(dataclasses.replace(cfg, workers=lane_workers), batches=s.batches,
                                 process_count=host_count)
                figures.update({f"{part}/{key}": run[key] for key in
                                ("tokens_per_s", "real_tokens_per_s", "seconds", "host_rows", "hosts")})
    figures.update({f"pod/{key}": value for key, value in s.pod.figures().items()})
    need = figures["pod/host_tokens_per_s"]
    figures["cache_over_text"] = figures["cache/tokens_per_s"] / figures["text/tokens_per_s"]
    shares = {"text": f"text_host0of{s.hosts}", "cache": f"cache_host0of{s.hosts}"}
    shares |= {f"text_lane_workers{w}": f"text_host0of{s.hosts}_lane_workers{w}" for w in s.workers}
    for name, part in shares.items():
        figures[f"{name}_host_share_over_ntp_host"] = figures[f"{part}/tokens_per_s"] / need
    figures["goal_over_ntp_host"] = GOAL_OVER_NTP
    figures["goal_met_by_cache"] = figures["cache_host_share_over_ntp_host"] >= GOAL_OVER_NTP
    return figures


def format_data_table(f: dict) -> str:
    """The markdown report of `bench_data_suite`'s figures: one row per part, then the ratios."""
    pod = (f"{f['pod/rows']} x {f['pod/seq_len']} over {f['pod/hosts']} hosts ({f['pod/host_tokens_per_step']:,} "
           f"tokens a host a step), {f['pod/model']}, {f['pod/chips_per_host']} chips a host at "
           f"{f['pod/chip_tflops']:g} TFLOP/s and {f['pod/mfu']:.0%} MFU: NTP step {f['pod/ntp_step_s']:.3f} s")
    lines = ["**rlpjax bench data**", "", f"- machine: {f['machine']}, {f['cpu_cores']} cores; corpus: {f['corpus']} "
             f"({f['tokenize/documents']:,} documents, {f['tokenize/tokens']:,} tokens)",
             f"- pod: {pod}", "", "| part | tokens/s | note |", "|---|---:|---|"]
    for workers in (0, *f["workers"]):
        who = "this process (tokenizer threads)" if workers == 0 else f"{workers} worker process(es)"
        lines.append(f"| data tokenize, {who} | {f[f'tokenize_w{workers}/tokens_per_s']:,.0f} | "
                     f"{f[f'tokenize_w{workers}/seconds']:.1f} s |")
    hosts = f["hosts"]
    text, cache = "text pipeline (read + tokenize + pack)", "token-cache pipeline"
    rows = [(text, "all rows", "text", None), (text, f"host 0 of {hosts}", f"text_host0of{hosts}", "text")]
    rows += [(text, f"host 0 of {hosts}, data.workers={w}", f"text_host0of{hosts}_lane_workers{w}",
              f"text_lane_workers{w}") for w in f["workers"]]
    rows += [(cache, "all rows", "cache", None), (cache, f"host 0 of {hosts}", f"cache_host0of{hosts}", "cache")]
    for what, which, part, ratio in rows:
        note = f"{f[f'{part}/host_rows']} rows"
        if ratio:
            note += f"; {f[f'{ratio}_host_share_over_ntp_host']:.1f}x a pod host's NTP consumption"
        lines.append(f"| {what}, {which} | {f[f'{part}/tokens_per_s']:,.0f} | {note} |")
    lines.append(f"| a pod host's NTP consumption | {f['pod/host_tokens_per_s']:,.0f} | goal: a host's share at >= "
                 f"{f['goal_over_ntp_host']:g}x ({'met' if f['goal_met_by_cache'] else 'not met'} by the cache) |")
    lines += ["", f"cache / text: {f['cache_over_text']:.1f}x; tokenize output identical for any workers: "
              f"{f['tokenize/identical_for_any_workers']}"]
    return "\n".join(lines)
