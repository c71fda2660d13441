"""The controlled experiment grid of ../../../shared/spec/CONTROLLED.md, at paper scale and at CPU scale.

Every preset file in this folder (and in cpu/) is a two-line stub: `CONFIG = preset(__file__)` builds the preset
named by the file's stem at the scale named by its folder. All recipes and all arithmetic live here, once.

Stages (run directories `<run_root>/<preset name>`; `run.init_from` names the run a stage starts from):

    pretrain ──┬── midtrain                       mid-training, the whole budget (split 1 : 0)
               ├── rl_edge                        GRPO at ops 11-14, outcome reward, the whole budget (split 0 : 1)
               ├── rl_process_blend, rl_process_blend_a05, rl_strict
               │                                  the same RL with the authors' process rewards: authors_gated at
               │                                  a = 0.2 / 0.5 and authors_strict (what the paper's runs used)
               ├── rl_dr_grpo                     rl_edge as Dr.GRPO: no std division of the advantages, token
               │                                  sums over responses x max_new_tokens (constant_length)
               ├── rl_dapo, rl_gspo, rl_rloo      rl_edge as DAPO (clip-higher, dynamic sampling, overlong
               │                                  shaping, global token mean, no KL), GSPO (sequence ratio) and
               │                                  RLOO (leave-one-out baseline)
               ├── budget_mid80 ── budget_rl20    split 0.8 : 0.2
               ├── budget_mid50 ── budget_rl50    split 0.5 : 0.5
               └── budget_mid20 ── budget_rl80    split 0.2 : 0.8
    transfer_b0 / transfer_b0p1 / transfer_b1 / transfer_b10 ── rl_transfer
               pre-training on context A at ops 2-20 plus context B only at op 2 as a 0 / 0.1 / 1 / 10% seed
               (paper section 4), then RL on 50% A / 50% B over ops 2-20 (init_from transfer_b1; the sweep
               experiments/sweeps/controlled_transfer.py runs it from every seed)
    headroom_h0p1 / headroom_h1 / headroom_h10 (and pretrain = 50%)
               pre-training with the hard ops 8-10 at 0.1 / 1 / 10% (pre-training headroom); RL from each with
               experiments/sweeps/controlled_headroom.py. The edge-of-competence ranges 7-10, 9-12, 11-14, 17-20
               are the sweep experiments/sweeps/controlled_edge.py over rl_edge.

Budget splits: the total budget is the compute of the RL-only run (`rl_only_steps` GRPO steps: 200 at paper scale,
"about 200 steps" in the paper), in NTP-equivalent tokens; `compute.plan_mid_rl_budget` turns each split into
mid-training and RL step counts with this scale's batch shapes, so 1 : 0 and 0 : 1 reproduce midtrain and rl_edge.

CPU scale keeps every stage, mixture and reward but shrinks the model (byte tokenizer), the batches and the step
counts so the whole graph runs on a laptop; its RL problems use ops 2-3 (byte-level prompts of ops 11-14 run to
~1,700 tokens), which for a tiny model is the edge of competence anyway; rl_transfer at CPU scale uses the same
ops (the paper's 2-20 at paper scale).
"""

from __future__ import annotations

import dataclasses
import functools
import math
import pathlib

from rlpjax.compute import plan_mid_rl_budget
from rlpjax.config import (CheckpointConfig, Config, DataConfig, GRPOConfig, ModelConfig, OptimizerConfig,
                           PolicyGradientConfig, RunConfig, SamplingConfig, SourceConfig)


@dataclasses.dataclass(frozen=True)
class Scale:
    """What differs between the paper's runs and their CPU-scale versions."""

    model: ModelConfig
    tokenizer: str
    run_root: str
    seq_len: int
    """Context of the NTP stages (packed rows)."""
    ntp_rows: int
    """Rows per NTP step (paper: 256 x 2048 = 512K tokens)."""
    pretrain_tokens: float
    ntp_lr: float
    ntp_min_lr: float
    rl_ops: tuple[int, ...]
    rl_transfer_ops: tuple[int, ...]
    """Op counts of the context-transfer RL run (paper: 2-20)."""
    rl_prompts: int
    rl_rollouts: int
    rl_prompt_tokens: int
    rl_response_tokens: int
    rl_minibatches: int
    rl_lr: float
    rl_only_steps: int
    """GRPO steps of the RL-only run; their compute is the total budget of every split."""
    ntp_checkpoint_every: int
    rl_checkpoint_every: int

    @property
    def ntp_batch_tokens(self) -> int:
        return self.ntp_rows * self.seq_len


PAPER = Scale(
    # Qwen2.5-style decoder of about 100M parameters (CONTROLLED.md "Model, data and training in the paper").
    model=ModelConfig(family="qwen2", vocab_size=2200, hidden_size=768, intermediate_size=3072, num_layers=12,
                      num_heads=12, num_kv_heads=2, head_dim=64, rope_theta=1e6, rms_norm_eps=1e-6,
                      tie_embeddings=True, qkv_bias=True, max_seq_len=2048, param_dtype="float32",
                      compute_dtype="bfloat16"),
    # Made by `rlpjax tokenizer train --preset controlled --input <corpus> --out data/tokenizers/controlled/tokenizer.json`.
    tokenizer="data/tokenizers/controlled",
    run_root="runs/controlled",
    seq_len=2048, ntp_rows=256, pretrain_tokens=10e9, ntp_lr=2e-4, ntp_min_lr=3e-5,
    rl_ops=(11, 12, 13, 14), rl_transfer_ops=tuple(range(2, 21)), rl_prompts=1024, rl_rollouts=6, rl_prompt_tokens=1024, rl_response_tokens=1024,
    rl_minibatches=4,  # verl's mini-batch of 256 prompts
    rl_lr=1e-6, rl_only_steps=200, ntp_checkpoint_every=500, rl_checkpoint_every=20,
)

CPU = Scale(
    model=ModelConfig(family="qwen2", vocab_size=264, hidden_size=64, intermediate_size=192, num_layers=2,
                      num_heads=4, num_kv_heads=2, head_dim=16, rope_theta=1e6, tie_embeddings=True, qkv_bias=True,
                      max_seq_len=2048),
    tokenizer="byte",
    run_root="runs/controlled/cpu",
    seq_len=256, ntp_rows=8, pretrain_tokens=20 * 8 * 256, ntp_lr=3e-3, ntp_min_lr=3e-4,
    rl_ops=(2, 3), rl_transfer_ops=(2, 3), rl_prompts=4, rl_rollouts=4, rl_prompt_tokens=1024, rl_response_tokens=128, rl_minibatches=1,
    rl_lr=1e-4, rl_only_steps=10, ntp_checkpoint_every=0, rl_checkpoint_every=0,
)


def run_dir(scale: Scale, name: str) -> str:
    return f"{scale.run_root}/{name}"


def budget(scale: Scale, split: tuple[float, float]):
    """The split's step counts: `compute.plan_mid_rl_budget` over the RL-only run's compute."""
    rl_step = plan_mid_rl_budget(1.0, (0, 1), rl_prompts=scale.rl_prompts, rl_rollouts=scale.rl_rollouts,
                                 rl_seq_len=scale.rl_prompt_tokens + scale.rl_response_tokens).rl_step_tokens
    return plan_mid_rl_budget(scale.rl_only_steps * rl_step, split, mid_batch_tokens=scale.ntp_batch_tokens,
                              rl_prompts=scale.rl_prompts, rl_rollouts=scale.rl_rollouts,
                              rl_seq_len=scale.rl_prompt_tokens + scale.rl_response_tokens)


def ntp_stage(scale: Scale, name: str, corpus: str, steps: int, warmup: float, init_from: str = "") -> Config:
    """Pre-/mid-training: NTP on a controlled mixture preset; lr cosine to min_lr, weight decay 0.1."""
    return Config(
        model=scale.model,
        data=DataConfig(sources=(SourceConfig(name=corpus, path=corpus, format="controlled"),),
                        tokenizer=scale.tokenizer, seq_len=scale.seq_len, global_batch_size=scale.ntp_rows),
        optimizer=OptimizerConfig(learning_rate=scale.ntp_lr, schedule="cosine", warmup_steps=math.ceil(warmup * steps),
                                  min_lr_ratio=scale.ntp_min_lr / scale.ntp_lr, weight_decay=0.1),
        checkpoint=CheckpointConfig(every_steps=scale.ntp_checkpoint_every, keep_last=2),
        run=RunConfig(name=name, run_dir=run_dir(scale, name), objective="ntp", steps=steps, init_from=init_from),
    )


def rl_stage(scale: Scale, name: str, init_from: str, steps: int, reward: str = "outcome", alpha: float = 0.2,
             templates: tuple[str, ...] = ("A", "B", "C"), ops: tuple[int, ...] = (), pg: dict | None = None,
             **grpo_changes) -> Config:
    """GRPO with a verifier reward: r rollouts at temperature 1, clip 0.2, KL 1e-3 (k3), no entropy, lr constant;
    `pg` replaces PolicyGradientConfig fields and `grpo_changes` GRPOConfig fields (the algorithm variants)."""
    policy_gradient = PolicyGradientConfig(**dict(dict(eps_low=0.2, eps_high=0.2, kl_beta=1e-3,
                                                       minibatches=scale.rl_minibatches), **(pg or {})))
    return Config(
        model=scale.model,
        data=DataConfig(tokenizer=scale.tokenizer),
        optimizer=OptimizerConfig(learning_rate=scale.rl_lr, schedule="constant", warmup_steps=0, weight_decay=0.0),
        grpo=GRPOConfig(**dict(dict(ops=ops or scale.rl_ops, templates=templates, prompts_per_step=scale.rl_prompts,
                                    num_rollouts=scale.rl_rollouts, sampling=SamplingConfig(temperature=1.0),
                                    pg=policy_gradient, max_prompt_tokens=scale.rl_prompt_tokens,
                                    max_new_tokens=scale.rl_response_tokens, entropy_coef=0.0, reward=reward,
                                    reward_alpha=alpha), **grpo_changes)),
        checkpoint=CheckpointConfig(every_steps=scale.rl_checkpoint_every, keep_last=2),
        run=RunConfig(name=name, run_dir=run_dir(scale, name), objective="grpo", steps=steps, init_from=init_from),
    )


def builders(scale: Scale) -> dict:
    """Preset name -> a function building its Config at `scale`."""
    pretrain_steps = math.floor(scale.pretrain_tokens / scale.ntp_batch_tokens)
    rl_steps = budget(scale, (0, 1)).rl_steps
    base = run_dir(scale, "pretrain")
    ntp, rl = functools.partial(ntp_stage, scale), functools.partial(rl_stage, scale)
    table = {
        "pretrain": functools.partial(ntp, "pretrain", "pretrain", pretrain_steps, 0.05),
        "midtrain": functools.partial(ntp, "midtrain", "midtrain", budget(scale, (1, 0)).mid_steps, 0.15, base),
        "rl_edge": functools.partial(rl, "rl_edge", base, rl_steps),
        "rl_transfer": functools.partial(rl, "rl_transfer", run_dir(scale, "transfer_b1"), rl_steps,
                                         templates=("A", "B"), ops=scale.rl_transfer_ops),
        "rl_process_blend": functools.partial(rl, "rl_process_blend", base, rl_steps, "authors_gated", 0.2),
        "rl_process_blend_a05": functools.partial(rl, "rl_process_blend_a05", base, rl_steps, "authors_gated", 0.5),
        "rl_strict": functools.partial(rl, "rl_strict", base, rl_steps, "authors_strict"),
        "rl_dr_grpo": functools.partial(rl, "rl_dr_grpo", base, rl_steps,
                                        pg=dict(normalize_adv_std=False, aggregation="constant_length")),
        # DAPO (Yu et al. 2025): clip-higher 0.2 / 0.28, dynamic sampling, overlong shaping over the last fifth of
        # the cap (their 4K of 20K), token-level loss over the global batch, no KL.
        "rl_dapo": functools.partial(rl, "rl_dapo", base, rl_steps, dynamic_sampling=True,
                                     pg=dict(eps_high=0.28, kl_beta=0.0, aggregation="token_mean"),
                                     overlong_buffer=scale.rl_response_tokens // 5),
        # GSPO (Zheng et al. 2025): the response's sequence-level ratio, clip 3e-4 / 4e-4, mean over responses.
        "rl_gspo": functools.partial(rl, "rl_gspo", base, rl_steps,
                                     pg=dict(policy_loss="gspo", aggregation="seq_mean", eps_low=3e-4,
                                             eps_high=4e-4, kl_beta=0.0)),
        # RLOO (Ahmadian et al. 2024): the leave-one-out baseline, no std division, mean over responses.
        "rl_rloo": functools.partial(rl, "rl_rloo", base, rl_steps,
                                     pg=dict(advantage="leave_one_out", normalize_adv_std=False,
                                             aggregation="seq_mean")),
    }
    for seed in ("0", "0.1", "1", "10"):  # corpora.mixtures presets transfer-b*, headroom-h*
        stem = f"transfer_b{seed.replace('.', 'p')}"
        table[stem] = functools.partial(ntp, stem, f"transfer-b{seed}", pretrain_steps, 0.05)
    for hard in ("0.1", "1", "10"):
        stem = f"headroom_h{hard.replace('.', 'p')}"
        table[stem] = functools.partial(ntp, stem, f"headroom-h{hard}", pretrain_steps, 0.05)
    for mid_percent in (80, 50, 20):
        plan = budget(scale, (mid_percent / 100, 1 - mid_percent / 100))
        mid, post = f"budget_mid{mid_percent}", f"budget_rl{100 - mid_percent}"
        table[mid] = functools.partial(ntp, mid, "midtrain", plan.mid_steps, 0.15, base)
        table[post] = functools.partial(rl, post, run_dir(scale, mid), plan.rl_steps)
    return table


def preset(path: str) -> Config:
    """The preset named by the stem of `path`, at CPU scale when it lies in a folder named `cpu`."""
    path = pathlib.Path(path)
    scale = CPU if path.parent.name == "cpu" else PAPER
    table = builders(scale)
    if path.stem not in table:
        raise KeyError(f"{path.name} names no preset of the controlled grid; choose one of {sorted(table)}")
    return table[path.stem]()
