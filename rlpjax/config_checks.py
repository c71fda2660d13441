"""One validation pass over a resolved `Config`: ranges and cross-field rules, before JAX starts.

`validate(cfg)` raises `ConfigError` with one sentence naming the field and the fix for the first problem it finds
(`config_io.resolve` calls it, so every command that reads a config refuses a bad one with exit 2 instead of a
traceback from inside JAX or a run that trains to NaN). The rules are data (`POSITIVE`, `NON_NEGATIVE`, ...) so a
new field gets its range by one line here.
"""

from __future__ import annotations

import pathlib

from rlpjax.config import Config
from rlpjax.config_io import ConfigError
from rlpjax.paths import is_url, require_client

POSITIVE = (
    "model.vocab_size", "model.hidden_size", "model.intermediate_size", "model.num_layers", "model.num_heads",
    "model.num_kv_heads", "model.head_dim", "model.max_seq_len", "model.rope_theta", "model.rms_norm_eps",
    "data.seq_len", "data.global_batch_size",
    "optimizer.learning_rate", "optimizer.grad_accum_steps",
    "rlp.group_size", "rlp.positions_per_doc", "rlp.max_thought_tokens", "rlp.horizon", "rlp.ppo_epochs",
    "rlp.minibatches", "rlp.temperature",
    "grpo.prompts_per_step", "grpo.num_rollouts", "grpo.max_prompt_tokens", "grpo.max_new_tokens",
    "grpo.ppo_epochs", "grpo.minibatches", "grpo.temperature",
    "checkpoint.keep_last",
    "run.steps", "run.log_every", "run.eval_batches", "run.max_nonfinite_steps", "run.samples_rows",
)
"""Fields that must be > 0."""

NON_NEGATIVE = (
    "model.init_std", "data.shuffle_window", "data.num_epochs", "data.prefetch_batches",
    "optimizer.warmup_steps", "optimizer.min_lr_ratio", "optimizer.weight_decay", "optimizer.grad_clip_norm",
    "rlp.top_k", "rlp.kl_beta", "rlp.ntp_weight", "rlp.eps_low", "rlp.eps_high", "rlp.gamma",
    "rlp.logits_chunk_tokens", "rlp.rollout_microbatch_rows",
    "grpo.kl_beta", "grpo.entropy_coef", "grpo.eps_low", "grpo.eps_high", "grpo.logits_chunk_tokens",
    "checkpoint.every_steps", "checkpoint.keep_every", "run.eval_every", "run.peak_tflops", "run.samples_every",
)
"""Fields that must be >= 0."""

UNIT_INTERVAL = ("rlp.top_p", "grpo.top_p", "rlp.ema_tau")
"""Fields that must lie in (0, 1]."""

CHOICES = {"run.log_mode": ("bar", "lines"), "rlp.ratio_logprobs": ("sampling", "model"),
           "grpo.ratio_logprobs": ("sampling", "model")}
"""String fields with a fixed set of values."""

MULTI_CHOICES = {"run.trackers": ("tensorboard", "wandb", "trackio")}
"""Tuple fields whose every entry comes from a fixed set (rlpjax.train.trackers.TRACKER_NAMES; a test keeps the two
equal)."""


def _get(cfg: Config, key: str):
    value = cfg
    for part in key.split("."):
        value = getattr(value, part)
    return value


def _check_ranges(cfg: Config) -> None:
    for key in POSITIVE:
        if _get(cfg, key) <= 0:
            raise ConfigError(f"{key}={_get(cfg, key)!r} must be positive; give a value above 0")
    for key in NON_NEGATIVE:
        if _get(cfg, key) < 0:
            raise ConfigError(f"{key}={_get(cfg, key)!r} must not be negative; give 0 or more")
    for key in UNIT_INTERVAL:
        if not 0 < _get(cfg, key) <= 1:
            raise ConfigError(f"{key}={_get(cfg, key)!r} must lie in (0, 1]; give e.g. 1.0")
    for key, allowed in CHOICES.items():
        if _get(cfg, key) not in allowed:
            raise ConfigError(f"{key}={_get(cfg, key)!r} is not one of {', '.join(allowed)}; choose one")
    for key, allowed in MULTI_CHOICES.items():
        unknown = [v for v in _get(cfg, key) if v not in allowed]
        if unknown:
            raise ConfigError(f"{key} names {', '.join(map(repr, unknown))}; choose from {', '.join(allowed)}")
    if cfg.optimizer.min_lr_ratio > 1:
        raise ConfigError(f"optimizer.min_lr_ratio={cfg.optimizer.min_lr_ratio} is above 1; the floor is a "
                          "fraction of the peak learning rate, give a value in [0, 1]")
    for source in cfg.data.sources + cfg.data.eval_sources:
        if source.weight < 0:
            raise ConfigError(f"data source {source.name!r} has weight {source.weight}; weights must not be negative")


def _check_cross_fields(cfg: Config) -> None:
    model, data, opt = cfg.model, cfg.data, cfg.optimizer
    if data.seq_len > model.max_seq_len:
        raise ConfigError(f"data.seq_len={data.seq_len} exceeds model.max_seq_len={model.max_seq_len}; shorten the "
                          "rows or raise model.max_seq_len")
    if data.global_batch_size % opt.grad_accum_steps:
        raise ConfigError(f"optimizer.grad_accum_steps={opt.grad_accum_steps} does not divide "
                          f"data.global_batch_size={data.global_batch_size}; choose a divisor")
    if model.num_heads % model.num_kv_heads:
        raise ConfigError(f"model.num_kv_heads={model.num_kv_heads} must divide model.num_heads={model.num_heads}; "
                          "pick a divisor")
    if cfg.run.objective == "rlp":
        rlp = cfg.rlp
        if rlp.group_size < 2:
            raise ConfigError("rlp.group_size must be at least 2 (the advantage compares thoughts within a group)")
        if data.global_batch_size % rlp.minibatches:
            raise ConfigError(f"rlp.minibatches={rlp.minibatches} does not divide data.global_batch_size="
                              f"{data.global_batch_size}; choose a divisor")
        # The deepest branch thinks before the last token (t = seq_len - 1): <think> at position t, the thought at
        # t+1 .. t+L, </think> at t+L+1 and the scored inputs up to t+L+h, so positions reach seq_len - 1 + L + h.
        needed = data.seq_len + rlp.max_thought_tokens + rlp.horizon
        if needed > model.max_seq_len:
            raise ConfigError(f"an RLP branch reaches position {needed - 1} (document, <think>, thought, </think>, "
                              f"horizon) but model.max_seq_len={model.max_seq_len}; raise it to {needed} or shorten "
                              "rlp.max_thought_tokens")
    for key in ("run.run_dir", "run.init_from"):
        require_client(_get(cfg, key), key)  # a gs:// run directory needs gcsfs: one line naming the extra
    if not is_url(cfg.run.run_dir):  # an object store has no directories, so no file can stand in the way
        run_dir = pathlib.Path(cfg.run.run_dir or pathlib.Path("runs") / cfg.run.name)
        blocking = next((p for p in (run_dir, *run_dir.parents) if p.is_file()), None)
        if blocking is not None:
            raise ConfigError(f"the run directory {str(run_dir)!r} cannot be made: {str(blocking)!r} is a file; "
                              "choose another run.run_dir or run.name")
    if cfg.run.objective == "grpo" and cfg.grpo.num_rollouts < 2:
        raise ConfigError("grpo.num_rollouts must be at least 2 (the advantage compares rollouts within a group)")


def validate(cfg: Config) -> Config:
    """Raise ConfigError for the first out-of-range field or inconsistent pair of fields; return `cfg` unchanged."""
    _check_ranges(cfg)
    _check_cross_fields(cfg)
    return cfg
