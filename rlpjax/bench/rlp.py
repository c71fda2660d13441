"""`rlpjax bench rlp`: one RLP training step, stage by stage, in rlpjax's shared-prefix layout, its naive layout and
(`--peer torch`) a torch + transformers peer, on the same model, documents and positions.

- "shared" / "naive": the trainer's own programs, `RLPTask.stages(ctx)` "rollout" and "update", jitted as the loop
  jits them (naive: `shared_prefix=False`, every branch re-encodes its prefix, as the public PyTorch prototypes do).
  A step is one rollout and one update (`rlp.pg.ppo_epochs = rlp.pg.minibatches = 1`).
- Where the rollout's time goes: its three parts (the EMA teacher's pass and the choice of positions; the prefix
  encoding and thought sampling; the scoring of `</think> x_t ..`) are the library functions `rollout` calls, each
  also compiled and timed on its own.
- "torch": `bench.torch_peer`, the same step written as the prototypes write it (`generate` per branch row, then
  teacher-forced scoring and the clipped update), at the positions rlpjax chose.

The shared and naive layouts sample the same thoughts (tested); the torch peer draws its own, so the figure compared
is thought tokens per second (sampled thought tokens / step seconds). FLOPs per stage are `compute.rlp_step_flops`
at the measured mean thought length and mean position, counted once for every layout (the useful work: what the
naive layout recomputes is not model FLOPs); MFU = FLOPs / seconds / (measured matmul peak x devices).
"""

from __future__ import annotations

import dataclasses
import sys
import time
from typing import Callable

import jax
import numpy as np

from rlpjax import compute
from rlpjax.config import Config
from rlpjax.config_io import ConfigError

LAYOUTS = ("shared", "naive", "torch")
"""The step's implementations `--layouts` chooses among (`--peer torch` adds "torch")."""


def _log(message: str) -> None:
    print(f"[bench rlp] {message}", file=sys.stderr, flush=True)


def parse_kg(text: str) -> tuple[tuple[int, int], ...]:
    """"4x4,8x8" -> ((4, 4), (8, 8)): positions per document K and thoughts per position G."""
    try:
        pairs = tuple(tuple(int(n) for n in item.lower().split("x")) for item in text.split(",") if item.strip())
    except ValueError:
        pairs = ()
    if not pairs or any(len(p) != 2 or min(p) < 1 for p in pairs):
        raise ConfigError(f"--kg {text!r} is not a list of KxG settings; write e.g. --kg 4x4,8x8")
    return pairs


def parse_layouts(text: str) -> tuple[str, ...]:
    """"shared,naive" -> ("shared", "naive"), each one of LAYOUTS."""
    layouts = tuple(item.strip() for item in text.split(",") if item.strip())
    unknown = [layout for layout in layouts if layout not in LAYOUTS]
    if not layouts or unknown:
        raise ConfigError(f"--layouts {text!r}: choose among {', '.join(LAYOUTS)} (comma-separated)")
    return layouts


def step_config(cfg: Config, *, positions_per_doc: int, group_size: int, docs: int, doc_len: int,
                max_thought_tokens: int) -> Config:
    """`cfg` as one benchmarked RLP step: the shape asked for, one update per rollout, documents mode, the last two
    ids as `<think>` / `</think>` unless `rlp.think_ids` names them, and room for `doc_len + thought + horizon`."""
    vocab = cfg.model.vocab_size
    rlp = dataclasses.replace(cfg.rlp, positions_per_doc=positions_per_doc, group_size=group_size,
                              max_thought_tokens=max_thought_tokens, think_ids=cfg.rlp.think_ids or (vocab - 2, vocab - 1),
                              pg=dataclasses.replace(cfg.rlp.pg, ppo_epochs=1, minibatches=1))
    max_seq_len = max(cfg.model.max_seq_len, doc_len + max_thought_tokens + rlp.horizon + 1)
    return cfg.replace(model=dataclasses.replace(cfg.model, max_seq_len=max_seq_len),
                       data=dataclasses.replace(cfg.data, mode="documents", global_batch_size=docs, seq_len=doc_len),
                       rlp=rlp, run=dataclasses.replace(cfg.run, objective="rlp"))


def random_documents(vocab: int, docs: int, doc_len: int, seed: int) -> dict[str, np.ndarray]:
    """A host batch of full-length documents of uniform random tokens below the two thought ids."""
    tokens = np.random.default_rng(seed).integers(1, vocab - 2, size=(docs, doc_len), dtype=np.int32)
    return {"tokens": tokens, "segment_ids": np.ones((docs, doc_len), np.int32),
            "positions": np.broadcast_to(np.arange(doc_len, dtype=np.int32), (docs, doc_len)).copy(),
            "lengths": np.full((docs,), doc_len, np.int32)}


def peak_bytes(compiled) -> int:
    """The bytes XLA plans for a compiled executable, as compile-check totals a stage (`stage_memory`)."""
    from rlpjax.compile_check import stage_memory

    stats = compiled.memory_analysis()
    return 0 if stats is None else stage_memory(stats)["total_bytes"]


def _timed(call: Callable[[], object], repeats: int) -> tuple[float, object]:
    """(mean seconds of `repeats` calls after a warm-up call, the last output)."""
    out = jax.block_until_ready(call())
    start = time.perf_counter()
    for _ in range(repeats):
        out = jax.block_until_ready(call())
    return (time.perf_counter() - start) / repeats, out


class _StageTimer:
    """Compiles and times the stages of one layout, logging each as it finishes (long benchmarks stay talkative)."""

    def __init__(self, label: str, repeats: int, log: Callable[[str], None]):
        self.label, self.repeats, self.log = label, repeats, log
        self.compiled: list = []

    def compile(self, name: str, jitted, *args):
        start = time.perf_counter()
        compiled = jitted.lower(*args).compile()
        self.log(f"{self.label} {name}: compiled in {time.perf_counter() - start:.1f} s")
        self.compiled.append(compiled)
        return compiled

    def time(self, name: str, call: Callable[[], object]) -> tuple[float, object]:
        seconds, out = _timed(call, self.repeats)
        self.log(f"{self.label} {name}: {seconds:.3f} s per call ({self.repeats} timed after a warm-up)")
        return seconds, out


def _stage_flops(cfg: Config, model_cfg, rollout_batch: dict) -> dict[str, float]:
    """Model FLOPs of each stage and part at the rollout's mean thought length and mean position."""
    rlp, data = cfg.rlp, cfg.data
    thought_len = float(np.mean(np.sum(np.asarray(rollout_batch["thought_mask_bkgl"]), axis=-1)))
    flops = compute.rlp_step_flops(
        model_cfg, num_docs=data.global_batch_size, doc_len=data.seq_len,
        positions_per_doc=rlp.positions_per_doc, group_size=rlp.group_size, thought_len=thought_len,
        horizon=rlp.horizon, prefix_len=float(np.mean(np.asarray(rollout_batch["positions_bk"]))),
        prefix_grad=not rlp.stop_prefix_grad)
    teacher, sample = flops.ema_pass.total, flops.policy_prefix.total + flops.sampling.total
    return {"teacher": teacher, "sample": sample, "score": flops.scoring.total,
            "rollout": teacher + sample + flops.scoring.total, "update": flops.update.total,
            "step": flops.total.total}


def time_jax_step(cfg: Config, task, host_batch: dict, shared_prefix: bool, *, repeats: int, label: str,
                  log: Callable[[str], None] = _log) -> tuple[dict, dict]:
    """Seconds, thought tokens and peak bytes of the trainer's RLP step in one layout -> (figures, rollout batch).

    `task` is the `RLPTask` of `cfg`. The "rollout" and "update" stages are `task.stages`; `teacher_s`, `sample_s`
    and `score_s` time the rollout's parts on their own (their sum is close to `rollout_s`, which fuses them into
    one program).
    """
    from flax import nnx

    from rlpjax.rlp.rollout import SampledBranches, choose_positions, row_keys, sample_thoughts, score_branches
    from rlpjax.sharding import make_mesh
    from rlpjax.train.batches import to_device_batch
    from rlpjax.train.loop import build_state, check_batch_fits_mesh
    from rlpjax.train.task import Stage, StepContext
    from rlpjax.train.tasks.rlp import rollout_key

    mesh = make_mesh(cfg.mesh)
    check_batch_fits_mesh(task, mesh)
    graphdef, state, shardings, tx, schedule, _ = build_state(cfg, task, mesh)
    ctx = StepContext(cfg=cfg, mesh=mesh, graphdef=graphdef, tx=tx, schedule=schedule, state_shardings=shardings,
                      process_index=jax.process_index(), process_count=jax.process_count(), abstract=True)
    stages = {name: stage.jit(mesh) for name, stage in task.stages(ctx, shared_prefix=shared_prefix).items()}
    rs = task.rollout_settings(shared_prefix, abstract=True)  # synthetic documents: no tokenizer, pad id 0
    batch = to_device_batch(host_batch, mesh)
    timer = _StageTimer(label, repeats, log)
    key = rollout_key(state)

    # The rollout's parts, each the library function `rollout` calls, with the same keys.
    position_key, sample_key = jax.random.split(key)
    keys_r = row_keys(sample_key, host_batch["tokens"].shape[0] * rs.branches_per_doc)
    model = lambda params: nnx.merge(graphdef, params)  # noqa: E731
    teacher = Stage(lambda ema, b, k: choose_positions(model(ema), b, k, rs)).jit(mesh)
    sample = Stage(lambda p, b, pos, k: sample_thoughts(model(p), b, pos, k, rs)).jit(mesh)
    score = Stage(lambda p, b, s: score_branches(model(p), b, s, rs)).jit(mesh)
    teacher_c = timer.compile("teacher", teacher, state.ema_params, batch, position_key)
    teacher_s, (s_ema_bs, positions_bk, valid_bk) = timer.time("teacher", lambda: teacher_c(
        state.ema_params, batch, position_key))
    sample_c = timer.compile("sample", sample, state.params, batch, positions_bk, keys_r)
    sample_s, (thoughts, cache, prefix) = timer.time("sample", lambda: sample_c(state.params, batch, positions_bk,
                                                                                 keys_r))
    sampled = SampledBranches(s_ema_bs, positions_bk, valid_bk, thoughts, cache, prefix)
    score_c = timer.compile("score", score, state.params, batch, sampled)
    score_s, _ = timer.time("score", lambda: score_c(state.params, batch, sampled))

    # The trainer's two stages.
    rollout_args = (state.params, state.ema_params, state.ref_params, batch, key)
    rollout_c = timer.compile("rollout", stages["rollout"], *rollout_args)
    rollout_s, rollout_batch = timer.time("rollout", lambda: rollout_c(*rollout_args))
    update_c = timer.compile("update", stages["update"], state, rollout_batch)
    held = {"state": state}

    def update():
        held["state"], metrics = update_c(held["state"], rollout_batch)  # the state is donated: carry it along
        return metrics

    update_s, _ = timer.time("update", update)

    step_s = rollout_s + update_s
    thought_tokens = int(np.sum(np.asarray(thoughts.lengths_b)))
    max_length = int(np.max(np.asarray(thoughts.lengths_b)))
    figures = {"teacher_s": teacher_s, "sample_s": sample_s, "score_s": score_s, "rollout_s": rollout_s,
               "update_s": update_s, "step_s": step_s, "thought_tokens": thought_tokens,
               "thought_tokens_per_s": thought_tokens / step_s, "decode_steps": max_length,
               "ms_per_decode_step": 1e3 * sample_s / max(max_length, 1),
               "peak_bytes": max(peak_bytes(c) for c in timer.compiled)}
    return figures, rollout_batch


def _with_mfu(figures: dict, flops: dict[str, float], peak_tflops: float, devices: int) -> dict:
    """Each stage's MFU (`<stage>_mfu`) from its seconds and model FLOPs."""
    out = dict(figures)
    for stage, stage_flops in flops.items():
        if f"{stage}_s" in figures and figures[f"{stage}_s"] > 0:
            out[f"{stage}_mfu"] = stage_flops / figures[f"{stage}_s"] / (peak_tflops * 1e12 * devices)
            out[f"{stage}_flops"] = stage_flops
    return out


def bench_rlp(cfg: Config, *, docs: int | None = None, doc_len: int | None = None,
              kg: tuple[tuple[int, int], ...] | None = None, max_thought_tokens: int | None = None,
              layouts: tuple[str, ...] = ("shared", "naive"), repeats: int = 3, peak_tflops: float | None = None,
              log: Callable[[str], None] = _log) -> dict:
    """The RLP step in each layout for each (K, G); figures flattened as `<K>x<G>/<layout>/<figure>`.

    Unset sizes come from `cfg` (documents: data.global_batch_size x data.seq_len; K, G and the thought cap:
    rlp.*). `<K>x<G>/speedup` is shared over naive thought tokens per second, `<K>x<G>/speedup_vs_torch` shared
    over torch. `peak_tflops`: the per-device matmul peak for MFU (default: measured here).
    """
    from rlpjax.train.metrics import measure_peak_tflops
    from rlpjax.train.tasks.rlp import RLPTask

    docs = docs or cfg.data.global_batch_size
    doc_len = doc_len or cfg.data.seq_len
    kg = kg or ((cfg.rlp.positions_per_doc, cfg.rlp.group_size),)
    max_thought_tokens = max_thought_tokens or cfg.rlp.max_thought_tokens
    if "torch" in layouts and not any(layout in layouts for layout in ("shared", "naive")):
        layouts = ("shared", *layouts)  # the torch peer thinks at the positions rlpjax's step chose
    peak = measure_peak_tflops() if peak_tflops is None else peak_tflops
    devices = jax.device_count()
    figures = {"docs": docs, "doc_len": doc_len, "max_thought_tokens": max_thought_tokens, "repeats": repeats,
               "layouts": list(layouts), "model": f"{cfg.model.num_layers}L d{cfg.model.hidden_size} "
               f"V{cfg.model.vocab_size}", "device": jax.devices()[0].device_kind, "jax": jax.__version__,
               "peak_tflops_per_device": peak}
    host_batch = random_documents(cfg.model.vocab_size, docs, doc_len, cfg.run.seed)
    for K, G in kg:
        run_cfg = step_config(cfg, positions_per_doc=K, group_size=G, docs=docs, doc_len=doc_len,
                              max_thought_tokens=max_thought_tokens)
        task = RLPTask(run_cfg)
        results, flops, positions_bk = {}, None, None
        for layout in (layout for layout in layouts if layout != "torch"):
            label = f"{K}x{G} {layout}"
            log(f"{label}: {docs} docs x {doc_len} tokens, {docs * K * G} branch rows, thoughts <= {max_thought_tokens}")
            result, rollout_batch = time_jax_step(run_cfg, task, host_batch, layout == "shared", repeats=repeats,
                                                  label=label, log=log)
            if flops is None:
                flops = _stage_flops(run_cfg, task.model_config(), rollout_batch)
                positions_bk = np.asarray(rollout_batch["positions_bk"])
            results[layout] = result
        if "torch" in layouts:
            from rlpjax.bench.torch_peer import time_torch_rlp_step

            log(f"{K}x{G} torch: the torch + transformers step ({repeats} timed after a warm-up)")
            results["torch"] = time_torch_rlp_step(run_cfg, task.rollout_settings(abstract=True),
                                                   host_batch["tokens"], positions_bk, repeats=repeats)
            log(f"{K}x{G} torch: {results['torch']['step_s']:.3f} s per step")
        for layout, result in results.items():
            result = _with_mfu(result, flops, peak, devices if layout != "torch" else 1)
            figures.update({f"{K}x{G}/{layout}/{name}": value for name, value in result.items()})
        tps = {layout: result["thought_tokens_per_s"] for layout, result in results.items()}
        if "shared" in tps and "naive" in tps:
            figures[f"{K}x{G}/speedup"] = tps["shared"] / tps["naive"]
        if "shared" in tps and "torch" in tps:
            figures[f"{K}x{G}/speedup_vs_torch"] = tps["shared"] / tps["torch"]
    return figures
