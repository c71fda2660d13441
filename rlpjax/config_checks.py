"""One validation pass over a resolved `Config`: ranges and cross-field rules, before JAX starts.

`validate(cfg)` raises `ConfigError` with one sentence naming the field and the fix for the first problem it finds
(`config_io.resolve` calls it, so every command that reads a config refuses a bad one with exit 2 instead of a
traceback from inside JAX or a run that trains to NaN). The rules are data (`POSITIVE`, `NON_NEGATIVE`, ...) so a
new field gets its range by one line here.
"""

from __future__ import annotations

import dataclasses
import pathlib
import sys
import typing
from typing import Any, Iterator

from rlpjax.config import Config
from rlpjax.config_io import ConfigError, check_choice
from rlpjax.paths import is_url, require_client

POSITIVE = (
    "model.vocab_size", "model.hidden_size", "model.intermediate_size", "model.num_layers", "model.num_heads",
    "model.num_kv_heads", "model.head_dim", "model.max_seq_len", "model.rope_theta", "model.rms_norm_eps",
    "data.seq_len", "data.global_batch_size",
    "optimizer.learning_rate", "optimizer.grad_accum_steps",
    "rlp.group_size", "rlp.positions_per_doc", "rlp.max_thought_tokens", "rlp.horizon", "rlp.pg.ppo_epochs",
    "rlp.pg.minibatches", "rlp.sampling.temperature",
    "grpo.prompts_per_step", "grpo.num_rollouts", "grpo.max_prompt_tokens", "grpo.max_new_tokens",
    "grpo.pg.ppo_epochs", "grpo.pg.minibatches", "grpo.sampling.temperature",
    "checkpoint.keep_last",
    "run.steps", "run.log_every", "run.eval_batches", "run.max_nonfinite_steps", "run.samples_rows",
)
"""Fields that must be > 0."""

NON_NEGATIVE = (
    "model.init_std", "data.shuffle_window", "data.num_epochs", "data.prefetch_batches", "data.workers",
    "optimizer.warmup_steps", "optimizer.min_lr_ratio", "optimizer.weight_decay", "optimizer.grad_clip_norm",
    "rlp.sampling.top_k", "grpo.sampling.top_k", "rlp.pg.kl_beta", "rlp.ntp_weight", "rlp.pg.eps_low",
    "rlp.pg.eps_high", "rlp.gamma", "rlp.pg.logits_chunk_tokens", "rlp.rollout_microbatch_rows",
    "grpo.pg.kl_beta", "grpo.entropy_coef", "grpo.problem_pool", "grpo.pg.eps_low", "grpo.pg.eps_high",
    "grpo.pg.logits_chunk_tokens",
    "checkpoint.every_steps", "checkpoint.keep_every", "run.eval_every", "run.peak_tflops", "run.samples_every",
)
"""Fields that must be >= 0."""

UNIT_INTERVAL = ("rlp.sampling.top_p", "grpo.sampling.top_p", "rlp.ema_tau")
"""Fields that must lie in (0, 1]."""

IGNORED_BY = {"ntp": ("rlp", "grpo"), "rlp": ("grpo", "ntp"), "grpo": ("rlp", "ntp")}
"""Sections each objective never reads: a changed field there is most likely a mistake (a warning, not an error,
since a preset may carry a section for a later stage)."""


def _get(cfg: Config, key: str):
    value = cfg
    for part in key.split("."):
        value = getattr(value, part)
    return value


def _typed_values(node: Any, prefix: str = "") -> Iterator[tuple[str, Any, Any]]:
    """(dotted key, value, declared type) of every field of the config tree, sections and lists of sections
    entered (`data.sources.0.format`)."""
    hints = typing.get_type_hints(type(node))
    for f in dataclasses.fields(node):
        key, value = f"{prefix}{f.name}", getattr(node, f.name)
        if dataclasses.is_dataclass(value):
            yield from _typed_values(value, key + ".")
        elif isinstance(value, tuple) and value and dataclasses.is_dataclass(value[0]):
            for i, item in enumerate(value):
                yield from _typed_values(item, f"{key}.{i}.")
        else:
            yield key, value, hints[f.name]


def check_choices(node: Any, prefix: str = "") -> None:
    """Every `Literal` field of the config tree `node` (and every entry of a tuple of one) holds one of its
    choices: a config written in Python never passes through the parser that checks overrides and JSON. `prefix`
    names `node`'s place in a Config ("model." for a lone ModelConfig)."""
    for key, value, tp in _typed_values(node, prefix):
        if typing.get_origin(tp) is typing.Literal:
            check_choice(value, tp, key)
        elif typing.get_origin(tp) is tuple and typing.get_origin(typing.get_args(tp)[0]) is typing.Literal:
            for i, item in enumerate(value):
                check_choice(item, typing.get_args(tp)[0], f"{key}.{i}")


def _check_choices(cfg: Config) -> None:
    check_choices(cfg)
    # Names from registries (a test or a user's module may add entries), checked against the registry itself.
    from rlpjax.family_registry import check_family
    from rlpjax.reasoning.rewards import DOCUMENT_REWARDS, REWARDS
    from rlpjax.train.registry import TASKS

    check_family(cfg.model.family)

    rewards = REWARDS if cfg.grpo.prompts == "controlled" else DOCUMENT_REWARDS
    for key, registry in (("run.objective", TASKS), ("grpo.reward", rewards)):
        if _get(cfg, key) not in registry:
            raise ConfigError(f"{key}={_get(cfg, key)!r} is not one of {', '.join(sorted(registry))}; choose one")
    from rlpjax.data.sources import format_names  # no JAX: the source modules import their readers lazily

    for section in ("sources", "eval_sources"):
        for index, source in enumerate(getattr(cfg.data, section)):
            if source.format not in format_names():
                raise ConfigError(f"data.{section}.{index}.format={source.format!r} is not one of "
                                  f"{', '.join(format_names())}; choose one")


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
    if cfg.optimizer.min_lr_ratio > 1:
        raise ConfigError(f"optimizer.min_lr_ratio={cfg.optimizer.min_lr_ratio} is above 1; the floor is a "
                          "fraction of the peak learning rate, give a value in [0, 1]")
    for source in cfg.data.sources + cfg.data.eval_sources:
        if source.weight < 0:
            raise ConfigError(f"data source {source.name!r} has weight {source.weight}; weights must not be negative")


def _check_cross_fields(cfg: Config, objective: str) -> None:
    model, data, opt, mesh = cfg.model, cfg.data, cfg.optimizer, cfg.mesh
    if data.seq_len > model.max_seq_len:
        raise ConfigError(f"data.seq_len={data.seq_len} exceeds model.max_seq_len={model.max_seq_len}; shorten the "
                          "rows or raise model.max_seq_len")
    if data.global_batch_size % opt.grad_accum_steps:
        raise ConfigError(f"optimizer.grad_accum_steps={opt.grad_accum_steps} does not divide "
                          f"data.global_batch_size={data.global_batch_size}; choose a divisor")
    if model.num_heads % model.num_kv_heads:
        raise ConfigError(f"model.num_kv_heads={model.num_kv_heads} must divide model.num_heads={model.num_heads}; "
                          "pick a divisor")
    scaling = model.rope_scaling
    if not (scaling.factor >= 1 and 0 < scaling.low_freq_factor < scaling.high_freq_factor
            and scaling.original_max_position_embeddings > 0):
        raise ConfigError(f"model.rope_scaling={scaling} needs factor >= 1, 0 < low_freq_factor < high_freq_factor "
                          "and original_max_position_embeddings > 0 (Llama 3.1: 8, 1, 4, 8192)")
    if opt.schedule == "wsd" and not 0 < opt.decay_fraction <= 1:
        raise ConfigError(f"optimizer.decay_fraction={opt.decay_fraction} must be a share of the steps in (0, 1]")
    batch_ways = mesh.data * mesh.fsdp  # known before JAX starts only when neither axis is -1
    if objective != "grpo" and batch_ways > 0 and data.global_batch_size % batch_ways:
        raise ConfigError(f"data.global_batch_size={data.global_batch_size} does not split over mesh.data x "
                          f"mesh.fsdp = {batch_ways} devices; use a multiple of {batch_ways}")
    OBJECTIVE_RULES.get(objective, lambda _: None)(cfg)
    for key in ("run.run_dir", "run.init_from"):
        require_client(_get(cfg, key), key)  # a gs:// run directory needs gcsfs: one line naming the extra
    if not is_url(cfg.run.run_dir):  # an object store has no directories, so no file can stand in the way
        run_dir = pathlib.Path(cfg.run.run_dir or pathlib.Path("runs") / cfg.run.name)
        blocking = next((p for p in (run_dir, *run_dir.parents) if p.is_file()), None)
        if blocking is not None:
            raise ConfigError(f"the run directory {str(run_dir)!r} cannot be made: {str(blocking)!r} is a file; "
                              "choose another run.run_dir or run.name")


def _check_rlp(cfg: Config) -> None:
    rlp, data, model = cfg.rlp, cfg.data, cfg.model
    if rlp.group_size < 2:
        raise ConfigError("rlp.group_size must be at least 2 (the advantage compares thoughts within a group)")
    if data.global_batch_size % rlp.pg.minibatches:
        raise ConfigError(f"rlp.pg.minibatches={rlp.pg.minibatches} does not divide data.global_batch_size="
                          f"{data.global_batch_size}; choose a divisor")
    # The deepest branch thinks before the last token (t = seq_len - 1): <think> at position t, the thought at
    # t+1 .. t+L, </think> at t+L+1 and the scored inputs up to t+L+h, so positions reach seq_len - 1 + L + h.
    needed = data.seq_len + rlp.max_thought_tokens + rlp.horizon
    if needed > model.max_seq_len:
        raise ConfigError(f"an RLP branch reaches position {needed - 1} (document, <think>, thought, </think>, "
                          f"horizon) but model.max_seq_len={model.max_seq_len}; raise it to {needed} or shorten "
                          "rlp.max_thought_tokens")
    if rlp.min_thought_tokens >= rlp.max_thought_tokens:
        raise ConfigError(f"rlp.min_thought_tokens={rlp.min_thought_tokens} must be below rlp.max_thought_tokens="
                          f"{rlp.max_thought_tokens} (room for </think>)")
    if rlp.position_strategy == "after_token" and not rlp.position_token:
        raise ConfigError('rlp.position_strategy=after_token needs rlp.position_token, one token of the tokenizer '
                          '(e.g. rlp.position_token="<answer>")')
    if len(rlp.think_ids) not in (0, 2):
        raise ConfigError(f"rlp.think_ids is {rlp.think_ids}; give two ids (<think>, </think>) or ()")
    rows_per_doc, micro = rlp.positions_per_doc * rlp.group_size, rlp.rollout_microbatch_rows
    if micro % rows_per_doc or (micro and data.global_batch_size % (micro // rows_per_doc)):
        raise ConfigError(f"rlp.rollout_microbatch_rows={micro} must be 0 or a multiple of positions_per_doc * "
                          f"group_size = {rows_per_doc} (whole documents) dividing the rollout's "
                          f"{data.global_batch_size * rows_per_doc} branch rows")
    if data.mode != "documents":
        raise ConfigError(f"objective rlp reads whole documents but data.mode is {data.mode!r}; "
                          "set data.mode=documents")


def _check_grpo(cfg: Config) -> None:
    from rlpjax.reasoning.generator import MODES  # pure Python, no JAX

    grpo = cfg.grpo
    if grpo.num_rollouts < 2:
        raise ConfigError("grpo.num_rollouts must be at least 2 (the advantage compares rollouts within a group)")
    if grpo.prompts_per_step % grpo.pg.minibatches:
        raise ConfigError(f"grpo.prompts_per_step={grpo.prompts_per_step} does not split into "
                          f"grpo.pg.minibatches={grpo.pg.minibatches}; choose a divisor")
    if not 0.0 <= grpo.edge_pass_low < grpo.edge_pass_high <= 1.0:
        raise ConfigError(f"grpo.edge_pass_low={grpo.edge_pass_low} and grpo.edge_pass_high={grpo.edge_pass_high} "
                          "must satisfy 0 <= low < high <= 1 (the default band is 0 < pass rate < 1)")
    if not grpo.ops or min(grpo.ops) < 2:
        raise ConfigError(f"grpo.ops={grpo.ops} must be non-empty op counts of at least 2")
    if not grpo.templates or not grpo.modes or set(grpo.modes) - set(MODES):
        raise ConfigError(f"grpo.templates and grpo.modes must be non-empty, modes among {', '.join(MODES)}")
    if grpo.dynamic_sampling_rounds < 1:
        raise ConfigError(f"grpo.dynamic_sampling_rounds={grpo.dynamic_sampling_rounds} must be at least 1")
    if grpo.prompts == "documents":
        _check_document_prompts(cfg)
    if not 0 <= grpo.overlong_buffer < grpo.max_new_tokens or grpo.overlong_penalty < 0:
        raise ConfigError(f"grpo.overlong_buffer={grpo.overlong_buffer} must lie in [0, grpo.max_new_tokens="
                          f"{grpo.max_new_tokens}) and grpo.overlong_penalty={grpo.overlong_penalty} be >= 0 "
                          "(DAPO: a buffer of a fifth of the cap, penalty 1)")


def _check_document_prompts(cfg: Config) -> None:
    """grpo.prompts=documents (RPT): one whole document per prompt."""
    grpo, data = cfg.grpo, cfg.data
    if data.mode != "documents":
        raise ConfigError(f"grpo.prompts=documents reads whole documents but data.mode is {data.mode!r}; "
                          "set data.mode=documents")
    if data.global_batch_size != grpo.prompts_per_step:
        raise ConfigError(f"grpo.prompts=documents reads one document per prompt, so data.global_batch_size="
                          f"{data.global_batch_size} must equal grpo.prompts_per_step={grpo.prompts_per_step}")
    if grpo.document_min_context < 1 or grpo.document_continuation_tokens < 1:
        raise ConfigError(f"grpo.document_min_context={grpo.document_min_context} and "
                          f"grpo.document_continuation_tokens={grpo.document_continuation_tokens} must be at least 1")


OBJECTIVE_RULES = {"rlp": _check_rlp, "grpo": _check_grpo}
"""Cross-field rules of one objective's section (an objective registered without an entry here has none)."""


def _warn_ignored_sections(cfg: Config) -> None:
    """One stderr line per section the objective never reads whose fields differ from the defaults."""
    for section in IGNORED_BY.get(cfg.run.objective, ()):
        value = getattr(cfg, section)
        default = type(value)()
        changed = [f.name for f in dataclasses.fields(value) if getattr(value, f.name) != getattr(default, f.name)]
        if changed:
            names = ", ".join(f"{section}.{name}" for name in changed)
            print(f"[rlpjax] note: run.objective={cfg.run.objective} ignores {names}", file=sys.stderr)


def validate(cfg: Config, *, objective: str | None = None, warn: bool = False) -> Config:
    """Raise ConfigError for the first field outside its choices or range, or inconsistent pair of fields; return
    `cfg` unchanged. `objective`: whose cross-field rules apply (default run.objective; a Task passes its own).
    `warn`: also note on stderr the changed fields of sections the objective ignores (what `resolve` does for a
    user's config)."""
    _check_choices(cfg)
    _check_ranges(cfg)
    _check_cross_fields(cfg, objective or cfg.run.objective)
    if warn:
        _warn_ignored_sections(cfg)
    return cfg
