"""The optimizer from `OptimizerConfig`: AdamW (optax) with a weight-decay mask, a schedule and global-norm clipping.

Gradient accumulation is not an optax wrapper here: the update step scans over micro-batches and applies the
optimizer once, so accumulation stays deterministic and costs no optimizer-state memory.
"""

from __future__ import annotations

import jax
import optax

from rlpjax.config import OptimizerConfig

def learning_rate_schedule(opt: OptimizerConfig, total_steps: int) -> optax.Schedule:
    """Linear warmup from 0 to the peak, then constant, cosine or linear decay to `min_lr_ratio * peak`; "wsd" holds
    the peak and decays linearly over the last `decay_fraction * total_steps` steps (after the warmup)."""
    peak, floor = opt.learning_rate, opt.learning_rate * opt.min_lr_ratio
    warmup = max(0, min(opt.warmup_steps, total_steps))
    decay_steps = max(1, total_steps - warmup)
    if opt.schedule == "constant":
        after = optax.constant_schedule(peak)
    elif opt.schedule == "cosine":
        after = optax.cosine_decay_schedule(peak, decay_steps, alpha=opt.min_lr_ratio)
    elif opt.schedule == "linear":
        after = optax.linear_schedule(peak, floor, decay_steps)
    else:  # "wsd" (config_checks refuses any other name)
        decay = max(1, min(decay_steps, round(opt.decay_fraction * total_steps)))
        after = optax.join_schedules([optax.constant_schedule(peak), optax.linear_schedule(peak, floor, decay)],
                                     [decay_steps - decay])
    if warmup == 0:
        return after
    return optax.join_schedules([optax.linear_schedule(0.0, peak, warmup), after], [warmup])


def decays(name: str, decay_embeddings: bool) -> bool:
    """Whether the parameter named `name` (its last path component, e.g. `attn_norm_ld`) gets weight decay, by ROLE,
    not by ndim: the per-layer norms and biases are stacked [layers, ...] and so have ndim >= 2, yet never decay.
    Norms (`*norm*`) and biases (`*bias*`) never decay; the input embedding (`embed_*`) only with
    `decay_embeddings`; every other parameter is a weight matrix and decays, `lm_head_dv` included (an untied output
    projection is a linear layer like any other; with tied embeddings there is no `lm_head_dv` and the embedding
    rule applies)."""
    if "norm" in name or "bias" in name:
        return False
    if name.startswith("embed"):
        return decay_embeddings
    return True


def weight_decay_mask(params, decay_embeddings: bool):
    """A tree like `params` of bools: True where the parameter gets weight decay (see `decays`)."""
    def leaf_decays(path, _leaf) -> bool:
        keys = [str(getattr(k, "key", getattr(k, "name", k))) for k in path]
        return decays([k for k in keys if k != "value"][-1].lower(), decay_embeddings)
    return jax.tree_util.tree_map_with_path(leaf_decays, params)


def make_optimizer(opt: OptimizerConfig, total_steps: int) -> tuple[optax.GradientTransformation, optax.Schedule]:
    """The optax transformation and its learning-rate schedule (the schedule is also logged)."""
    schedule = learning_rate_schedule(opt, total_steps)
    adamw = optax.adamw(schedule, b1=opt.b1, b2=opt.b2, eps=opt.eps, weight_decay=opt.weight_decay,
                        mask=lambda params: weight_decay_mask(params, opt.decay_embeddings))
    chain = [optax.clip_by_global_norm(opt.grad_clip_norm)] if opt.grad_clip_norm > 0 else []
    return optax.chain(*chain, adamw), schedule
