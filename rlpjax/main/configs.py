"""The five training runs of the main job as ordinary `rlpjax.config.Config`s, and the FLOPs each arm spends.

- base: NTP from random init on the pre-training corpus (ops `train_ops`), whole documents packed into rows
  (`data.mode=packed_whole`: no document is cut from its problem), warmup-stable-decay schedule;
- rlp:  RLP from the base on the continuation corpus (fresh problems at the train and edge ops, answers alone),
  thinking right after `</question>` (`rlp.position_strategy=after_token`), where the base's pre-training thoughts
  sat, and scored on the answer (`rlp.horizon`);
- cpt:  NTP from the base on the continuation corpus for as many steps as cost the RLP arm's FLOPs;
- grpo: GRPO from the base on the edge ops with a process-verified reward;
- mid:  NTP from the base on the mid-training corpus (a mixture shifted toward the edge ops) at the GRPO arm's
  compute, the step count planned by `compute.plan_mid_rl_budget` (all of the budget on mid-training).

FLOP matching uses `rlpjax.compute`: an RLP step at the *measured* mean thought length of the RLP run (the cap when
it logged none) and `cpt_matched_tokens_exact` for the CPT tokens; a GRPO step over the padded rows it computes on
(`GRPOTask.flops_and_tokens_per_step`, what its logged MFU uses), converted to NTP-equivalent tokens.
"""

from __future__ import annotations

import dataclasses
import math
import pathlib

import jax

from rlpjax import compute
from rlpjax.config import (CheckpointConfig, Config, DataConfig, GRPOConfig, MeshConfig, ModelConfig,
                           OptimizerConfig, PolicyGradientConfig, RLPConfig, RunConfig, SamplingConfig,
                           SourceConfig)
from rlpjax.main.settings import THINK_AFTER, MainSettings

ARM_DATA_SEED = 1
"""Data-order seed of the continuations (the base read seed 0)."""


def model_config(s: MainSettings, vocab_size: int) -> ModelConfig:
    """A Qwen3-style decoder of the settings' size over the trained tokenizer's vocabulary."""
    return ModelConfig(family="qwen3", vocab_size=vocab_size, hidden_size=s.hidden_size,
                       intermediate_size=3 * s.hidden_size, num_layers=s.num_layers, num_heads=s.num_heads,
                       num_kv_heads=s.num_kv_heads, head_dim=s.head_dim, qk_norm=True,
                       max_seq_len=max(2 * s.seq_len, s.seq_len + s.eval_max_new_tokens + 64,
                                       s.seq_len + s.rlp_thought_tokens + 8))


def mesh_for(batch: int) -> MeshConfig:
    """All devices, the batch split over as many as divide it (fsdp) and the rest on the tensor axis."""
    fsdp = math.gcd(batch, jax.device_count())
    return MeshConfig(data=1, fsdp=fsdp, tensor=jax.device_count() // fsdp)


def _run(name: str, run_dir: pathlib.Path, objective: str, steps: int, seed: int, init_from: str = "",
         progress: bool = True) -> RunConfig:
    return RunConfig(name=name, run_dir=str(run_dir), objective=objective, steps=steps, seed=seed,
                     init_from=init_from, log_every=1, progress=progress)


def _data(s: MainSettings, corpus_glob: str, tokenizer: pathlib.Path, mode: str, batch: int,
          seed: int) -> DataConfig:
    return DataConfig(sources=(SourceConfig(name="controlled", path=corpus_glob, format="jsonl"),),
                      tokenizer=str(tokenizer), seq_len=s.seq_len, global_batch_size=batch, mode=mode, seed=seed)


def _checkpoint(steps: int) -> CheckpointConfig:
    return CheckpointConfig(every_steps=max(1, steps // 4), keep_last=1)


def base_config(s: MainSettings, model: ModelConfig, corpus_glob: str, tokenizer: pathlib.Path,
                run_dir: pathlib.Path, progress: bool = True) -> Config:
    """NTP from scratch: 5% warmup, constant peak, linear decay over the last `decay_fraction` of the steps."""
    return Config(model=model, mesh=mesh_for(s.batch_size),
                  data=_data(s, corpus_glob, tokenizer, "packed_whole", s.batch_size, s.seed),
                  optimizer=OptimizerConfig(learning_rate=s.pretrain_lr, schedule="wsd",
                                            warmup_steps=max(1, s.pretrain_steps // 20),
                                            decay_fraction=s.decay_fraction),
                  checkpoint=_checkpoint(s.pretrain_steps),
                  run=_run("base", run_dir, "ntp", s.pretrain_steps, s.seed, progress=progress))


def _arm_optimizer(lr: float) -> OptimizerConfig:
    """Every continuation: a constant learning rate, no warmup, no weight decay."""
    return OptimizerConfig(learning_rate=lr, schedule="constant", warmup_steps=0, weight_decay=0.0)


def rlp_config(s: MainSettings, model: ModelConfig, corpus_glob: str, tokenizer: pathlib.Path,
               run_dir: pathlib.Path, base_dir: pathlib.Path, progress: bool = True) -> Config:
    """RLP from the base: one position per document, right after `</question>`, G thoughts there, scored over the
    `rlp_horizon` tokens that end with the answer."""
    return Config(model=model, mesh=mesh_for(s.rlp_docs),
                  data=_data(s, corpus_glob, tokenizer, "documents", s.rlp_docs, ARM_DATA_SEED),
                  optimizer=_arm_optimizer(s.arm_lr),
                  rlp=RLPConfig(group_size=s.rlp_group, positions_per_doc=1, position_strategy="after_token",
                                position_token=THINK_AFTER, horizon=s.rlp_horizon,
                                max_thought_tokens=s.rlp_thought_tokens,
                                sampling=SamplingConfig(temperature=s.rlp_temperature), ema_tau=s.rlp_ema_tau),
                  checkpoint=_checkpoint(s.rlp_steps),
                  run=_run("rlp", run_dir, "rlp", s.rlp_steps, s.seed + 1, str(base_dir), progress))


def ntp_arm_config(name: str, s: MainSettings, model: ModelConfig, corpus_glob: str, tokenizer: pathlib.Path,
                   run_dir: pathlib.Path, base_dir: pathlib.Path, steps: int, progress: bool = True) -> Config:
    """An NTP continuation from the base (CPT on the continuation corpus, or mid-training) for `steps` steps."""
    return Config(model=model, mesh=mesh_for(s.batch_size),
                  data=_data(s, corpus_glob, tokenizer, "packed_whole", s.batch_size, ARM_DATA_SEED),
                  optimizer=_arm_optimizer(s.arm_lr), checkpoint=_checkpoint(steps),
                  run=_run(name, run_dir, "ntp", steps, s.seed + 1, str(base_dir), progress))


def grpo_config(s: MainSettings, model: ModelConfig, tokenizer: pathlib.Path, run_dir: pathlib.Path,
                base_dir: pathlib.Path, max_prompt_tokens: int, max_new_tokens: int, progress: bool = True) -> Config:
    """GRPO from the base on the edge ops: `grpo_prompts` x `grpo_rollouts` per step, the process-verified reward."""
    rows = s.grpo_prompts * s.grpo_rollouts
    return Config(model=model, mesh=mesh_for(rows),
                  data=DataConfig(tokenizer=str(tokenizer), seq_len=s.seq_len, global_batch_size=rows),
                  optimizer=_arm_optimizer(s.grpo_lr),
                  grpo=GRPOConfig(ops=s.edge_ops, templates=s.templates, modes=s.modes, prompts_per_step=s.grpo_prompts,
                                  seed=s.seed + 2, num_rollouts=s.grpo_rollouts,
                                  sampling=SamplingConfig(temperature=1.0), pg=PolicyGradientConfig(kl_beta=0.0),
                                  max_prompt_tokens=max_prompt_tokens, max_new_tokens=max_new_tokens,
                                  reward=s.grpo_reward),
                  checkpoint=_checkpoint(s.grpo_steps),
                  run=_run("grpo", run_dir, "grpo", s.grpo_steps, s.seed + 3, str(base_dir), progress))


@dataclasses.dataclass(frozen=True)
class ArmCompute:
    """The FLOPs of every arm and how the two matched arms were sized."""

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
    """The CPT step count whose NTP FLOPs equal the RLP arm's, and the base's, RLP's and CPT's FLOPs."""
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


@dataclasses.dataclass(frozen=True)
class MidCompute:
    """The GRPO arm's FLOPs and the mid-training steps the budget planner gives for the same compute."""

    grpo_flops: float
    """GRPO steps x one step over its padded rows (sampling, reference when used, forward + backward)."""
    grpo_equivalent_tokens: float
    """grpo_flops in NTP tokens of the mid-training rows (the planner's budget)."""
    mid_steps: int
    mid_flops: float
    mid_tokens: int


def match_mid(mid_cfg: Config, grpo_flops_per_step: float, grpo_steps: int) -> MidCompute:
    """Mid-training steps at the GRPO arm's compute: `compute.plan_mid_rl_budget` with the whole budget (1 : 0) on
    mid-training, the budget being the GRPO FLOPs in NTP-equivalent tokens of mid-training's rows."""
    seq_len, rows = mid_cfg.data.seq_len, mid_cfg.data.global_batch_size
    grpo_flops = grpo_steps * grpo_flops_per_step
    budget = grpo_flops / compute.ntp_flops_per_token(mid_cfg.model, seq_len)
    plan = compute.plan_mid_rl_budget(budget, (1.0, 0.0), mid_batch_tokens=rows * seq_len)
    steps = max(1, plan.mid_steps)
    return MidCompute(grpo_flops=grpo_flops, grpo_equivalent_tokens=budget, mid_steps=steps,
                      mid_flops=ntp_run_flops(mid_cfg, steps), mid_tokens=steps * rows * seq_len)
