"""The three training runs of the main job as ordinary `rlpjax.config.Config`s, and the FLOPs each arm spends.

- base: NTP from random init on packed rows of the generated corpus;
- rlp: RLP from the base on whole documents of the same corpus (another data order);
- cpt: NTP from the base on the same data order as rlp, for as many steps as cost the RLP arm's FLOPs.

FLOP matching uses `rlpjax.compute`: one RLP step's FLOPs at the *measured* mean thought length of the RLP run
(`length_mean` averaged over its steps; the cap when the run logged none), the prefix at half the document window
(as the RLP task's own accounting), and `cpt_matched_tokens_exact` for the CPT tokens, rounded to whole steps.
"""

from __future__ import annotations

import dataclasses
import math
import pathlib

import jax

from rlpjax import compute
from rlpjax.config import (CheckpointConfig, Config, DataConfig, MeshConfig, ModelConfig, OptimizerConfig, RLPConfig,
                           RunConfig, SourceConfig)
from rlpjax.main.settings import MainSettings

ARM_DATA_SEED = 1
"""Data-order seed of both continuations (the base read seed 0): they start at the same fresh point of the corpus."""


def model_config(s: MainSettings, vocab_size: int) -> ModelConfig:
    """A Qwen3-style decoder of the settings' size over the trained tokenizer's vocabulary."""
    return ModelConfig(family="qwen3", vocab_size=vocab_size, hidden_size=s.hidden_size,
                       intermediate_size=3 * s.hidden_size, num_layers=s.num_layers, num_heads=s.num_heads,
                       num_kv_heads=s.num_kv_heads, head_dim=s.head_dim, qk_norm=True,
                       max_seq_len=max(2 * s.seq_len, s.seq_len + s.eval_max_new_tokens + 64))


def mesh_for(batch: int) -> MeshConfig:
    """All devices, the batch split over as many as divide it (fsdp) and the rest on the tensor axis."""
    fsdp = math.gcd(batch, jax.device_count())
    return MeshConfig(data=1, fsdp=fsdp, tensor=jax.device_count() // fsdp)


def _run(name: str, run_dir: pathlib.Path, objective: str, steps: int, seed: int, init_from: str = "",
         progress: bool = True) -> RunConfig:
    return RunConfig(name=name, run_dir=str(run_dir), objective=objective, steps=steps, seed=seed,
                     init_from=init_from, log_every=1, progress=progress)


def _data(s: MainSettings, corpus: pathlib.Path, tokenizer: pathlib.Path, mode: str, batch: int,
          seed: int) -> DataConfig:
    return DataConfig(sources=(SourceConfig(name="controlled", path=str(corpus), format="jsonl"),),
                      tokenizer=str(tokenizer), seq_len=s.seq_len, global_batch_size=batch, mode=mode, seed=seed)


def base_config(s: MainSettings, model: ModelConfig, corpus: pathlib.Path, tokenizer: pathlib.Path,
                run_dir: pathlib.Path, progress: bool = True) -> Config:
    """NTP from scratch: cosine schedule with a 5% warmup, checkpoints every quarter (a killed job resumes)."""
    return Config(model=model, mesh=mesh_for(s.batch_size),
                  data=_data(s, corpus, tokenizer, "packed", s.batch_size, s.seed),
                  optimizer=OptimizerConfig(learning_rate=s.pretrain_lr, schedule="cosine",
                                            warmup_steps=max(1, s.pretrain_steps // 20)),
                  checkpoint=CheckpointConfig(every_steps=max(1, s.pretrain_steps // 4), keep_last=1),
                  run=_run("base", run_dir, "ntp", s.pretrain_steps, s.seed, progress=progress))


def _arm_optimizer(s: MainSettings) -> OptimizerConfig:
    """Both continuations: the same constant learning rate, no warmup, no weight decay."""
    return OptimizerConfig(learning_rate=s.arm_lr, schedule="constant", warmup_steps=0, weight_decay=0.0)


def rlp_config(s: MainSettings, model: ModelConfig, corpus: pathlib.Path, tokenizer: pathlib.Path,
               run_dir: pathlib.Path, base_dir: pathlib.Path, progress: bool = True) -> Config:
    """RLP from the base: K positions x G thoughts per document, the paper's h = 1 reward."""
    return Config(model=model, mesh=mesh_for(s.rlp_docs),
                  data=_data(s, corpus, tokenizer, "documents", s.rlp_docs, ARM_DATA_SEED),
                  optimizer=_arm_optimizer(s),
                  rlp=RLPConfig(group_size=s.rlp_group, positions_per_doc=s.rlp_positions,
                                max_thought_tokens=s.rlp_thought_tokens, temperature=s.rlp_temperature,
                                ema_tau=s.rlp_ema_tau),
                  checkpoint=CheckpointConfig(every_steps=max(1, s.rlp_steps // 4), keep_last=1),
                  run=_run("rlp", run_dir, "rlp", s.rlp_steps, s.seed + 1, str(base_dir), progress))


def cpt_config(s: MainSettings, model: ModelConfig, corpus: pathlib.Path, tokenizer: pathlib.Path,
               run_dir: pathlib.Path, base_dir: pathlib.Path, steps: int, progress: bool = True) -> Config:
    """Continued pretraining (NTP) from the base for `steps` steps (FLOP-matched to the RLP arm)."""
    return Config(model=model, mesh=mesh_for(s.batch_size),
                  data=_data(s, corpus, tokenizer, "packed", s.batch_size, ARM_DATA_SEED),
                  optimizer=_arm_optimizer(s),
                  checkpoint=CheckpointConfig(every_steps=max(1, steps // 4), keep_last=1),
                  run=_run("cpt", run_dir, "ntp", steps, s.seed + 1, str(base_dir), progress))


@dataclasses.dataclass(frozen=True)
class ArmCompute:
    """The FLOPs of the three arms and how the CPT arm was matched."""

    base_flops: float
    rlp_flops: float
    """RLP steps x one step at the measured mean thought length."""
    rlp_flops_at_cap: float
    """RLP steps x one step if every thought ran to the cap (the upper bound)."""
    cpt_flops: float
    cpt_steps: int
    thought_len: float
    """Thought length used for the matching (tokens, </think> included)."""
    thought_len_source: str
    """"measured" (mean length_mean of the RLP run) or "cap"."""
    base_tokens: int
    rlp_doc_tokens: int
    """Document-row tokens the RLP arm read (rows x window; the thought tokens are extra)."""
    cpt_tokens: int


def ntp_run_flops(cfg: Config, steps: int) -> float:
    """FLOPs of `steps` NTP steps of a config (dense + attention, forward + backward)."""
    return steps * compute.ntp_step_flops(cfg.model, cfg.data.global_batch_size, cfg.data.seq_len).total


def rlp_step(cfg: Config, thought_len: float) -> compute.RLPStepFlops:
    """One RLP step of a config at a given thought length (prefix at half the window, as the RLP task counts)."""
    return compute.rlp_step_flops(cfg.model, num_docs=cfg.data.global_batch_size, doc_len=cfg.data.seq_len,
                                  positions_per_doc=cfg.rlp.positions_per_doc, group_size=cfg.rlp.group_size,
                                  thought_len=thought_len, horizon=cfg.rlp.horizon,
                                  prefix_len=cfg.data.seq_len // 2, prefix_grad=not cfg.rlp.stop_prefix_grad)


def match_cpt(base_cfg: Config, rlp_cfg: Config, rlp_metrics: list[dict]) -> ArmCompute:
    """The CPT step count whose NTP FLOPs equal the RLP arm's, and every arm's FLOPs."""
    lengths = [m["length_mean"] for m in rlp_metrics if "length_mean" in m]
    cap = rlp_cfg.rlp.max_thought_tokens
    thought_len, source = (sum(lengths) / len(lengths), "measured") if lengths else (float(cap), "cap")
    steps = rlp_cfg.run.steps
    per_step = rlp_step(rlp_cfg, thought_len)
    cpt_tokens = compute.cpt_matched_tokens_exact(base_cfg.model, per_step, steps, base_cfg.data.seq_len)
    row_tokens = base_cfg.data.global_batch_size * base_cfg.data.seq_len
    cpt_steps = max(1, round(cpt_tokens / row_tokens))
    return ArmCompute(
        base_flops=ntp_run_flops(base_cfg, base_cfg.run.steps), rlp_flops=steps * per_step.total.total,
        rlp_flops_at_cap=steps * rlp_step(rlp_cfg, cap).total.total, cpt_flops=ntp_run_flops(base_cfg, cpt_steps),
        cpt_steps=cpt_steps, thought_len=thought_len, thought_len_source=source,
        base_tokens=base_cfg.run.steps * row_tokens,
        rlp_doc_tokens=steps * rlp_cfg.data.global_batch_size * rlp_cfg.data.seq_len, cpt_tokens=cpt_steps * row_tokens)
