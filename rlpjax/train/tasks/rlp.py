"""RLP as a `rlpjax train` objective: rollout (sample + score, no gradient), then PPO-style updates.

One training step = one rollout over a batch of whole documents (data.mode = "documents") followed by
`rlp.ppo_epochs` passes of `rlp.minibatches` optimizer updates over it; the EMA teacher moves after every optimizer
update (inside the shared update step) and `state.step` counts training steps, not minibatches.
"""

from __future__ import annotations

import dataclasses
import functools

import jax

from rlpjax import compute
from rlpjax.config import ModelConfig
from rlpjax.config_io import ConfigError
from rlpjax.data import load_tokenizer
from rlpjax.rlp.loss import make_rlp_loss_fn
from rlpjax.rlp.rollout import RolloutSettings, rollout
from rlpjax.rlp.thoughts import thought_tokens
from rlpjax.train.batches import global_batch_iterator, to_device_batch
from rlpjax.train.task import StepContext, Task
from rlpjax.train.update import make_update_step, ppo_updates

ROLLOUT_KEY_SALT = 0x524C50
"""Folded into the state's key for the rollout, so the update's own key split stays independent of it."""


class RLPTask(Task):
    uses_ema = True

    def __init__(self, cfg):
        super().__init__(cfg)
        if cfg.data.mode != "documents":
            raise ConfigError(f"objective rlp reads whole documents but data.mode is {cfg.data.mode!r}; "
                              "set data.mode=documents")
        if cfg.rlp.group_size < 2:
            raise ConfigError("rlp.group_size must be at least 2 (the advantage compares thoughts within a group)")
        self.ema_decay = cfg.rlp.ema_tau
        self.uses_reference = cfg.rlp.kl_beta > 0
        self.tokenizer = load_tokenizer(cfg.data.tokenizer)
        self.thoughts = thought_tokens(self.tokenizer, cfg.model.vocab_size)
        if self.thoughts.added:
            print(f"[rlpjax] tokenizer has no <think>/</think>: using ids {self.thoughts.think_id}/"
                  f"{self.thoughts.end_think_id} and a vocabulary of {self.thoughts.vocab_size}")

    def model_config(self) -> ModelConfig:
        return dataclasses.replace(self.cfg.model, vocab_size=self.thoughts.vocab_size)

    def rollout_settings(self, shared_prefix: bool = True) -> RolloutSettings:
        return RolloutSettings.from_config(
            self.cfg.rlp, think_id=self.thoughts.think_id, end_think_id=self.thoughts.end_think_id,
            pad_id=self.tokenizer.pad_id or 0, shared_prefix=shared_prefix, with_reference=self.uses_reference)

    def batches(self):
        return global_batch_iterator(self.cfg.data)

    def make_step(self, ctx: StepContext):
        rlp = self.cfg.rlp
        rs = self.rollout_settings()
        sample_and_score = jax.jit(functools.partial(rollout, ctx.graphdef, rs=rs))
        update = jax.jit(
            make_update_step(ctx.graphdef, make_rlp_loss_fn(rs, rlp), ctx.tx, ctx.schedule, ema_decay=self.ema_decay),
            in_shardings=(ctx.state_shardings, None), out_shardings=(ctx.state_shardings, None), donate_argnums=0)
        if self.cfg.data.global_batch_size % rlp.minibatches:
            raise ConfigError(f"data.global_batch_size {self.cfg.data.global_batch_size} does not split into "
                              f"rlp.minibatches={rlp.minibatches}; choose a divisor")

        def step(state, host_batch):
            batch = to_device_batch(host_batch, ctx.mesh)
            rollout_batch = sample_and_score(state.params, state.ema_params, state.ref_params, batch,
                                             jax.random.fold_in(state.rng, ROLLOUT_KEY_SALT))
            return ppo_updates(update, state, rollout_batch, epochs=rlp.ppo_epochs, minibatches=rlp.minibatches)

        return step

    def flops_and_tokens_per_step(self):
        rlp, data = self.cfg.rlp, self.cfg.data
        flops = compute.rlp_step_flops(
            self.model_config(), num_docs=data.global_batch_size, doc_len=data.seq_len,
            positions_per_doc=rlp.positions_per_doc, group_size=rlp.group_size,
            thought_len=rlp.max_thought_tokens, horizon=rlp.horizon, prefix_len=data.seq_len // 2,
            prefix_grad=not rlp.stop_prefix_grad)
        return flops.total.total, data.global_batch_size * data.seq_len

