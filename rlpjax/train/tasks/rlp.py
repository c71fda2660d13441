"""RLP as a `rlpjax train` objective: the "rollout" stage (sample + score, no gradient), then the "update" stage.

One training step = one rollout over a batch of whole documents (data.mode = "documents") followed by
`rlp.pg.ppo_epochs` passes of `rlp.pg.minibatches` optimizer updates over it; the EMA teacher moves after every
optimizer update (inside the shared update step); `state.step` counts training steps and `state.updates` optimizer
updates.
"""

from __future__ import annotations

import dataclasses
import functools
import math

import jax
import jax.numpy as jnp
import numpy as np

from rlpjax import compute
from rlpjax.config import ModelConfig
from rlpjax.config_io import ConfigError
from rlpjax.data import load_tokenizer
from rlpjax.objectives.rlp import information_gain_rewards
from rlpjax.rlp.loss import make_rlp_loss_fn
from rlpjax.rlp.rollout import rollout
from rlpjax.rlp.settings import RolloutSettings
from rlpjax.rlp.thoughts import ThoughtTokens, thought_tokens
from rlpjax.sharding import replicated
from rlpjax.train.batches import HostBatches, to_device_batch
from rlpjax.train.ppo import minibatch_rows, ppo_updates
from rlpjax.train.task import SampleTable, Stage, StepContext, Task, abstract_batch
from rlpjax.train.update import make_update_step

ROLLOUT_KEY_SALT = 0x524C50
"""Folded into the state's key for the rollout, so the update's own key split stays independent of it."""
ROLLOUT_STATE_FIELDS = ("params", "ema_params", "ref_params")
"""The TrainState fields the rollout stage reads (the optimizer state stays resident beside it)."""
SAMPLE_FIELDS = ("tokens", "lengths", "positions_bk", "position_valid_bk", "thoughts_bkgl", "thought_mask_bkgl",
                 "truncated_bkg", "s_pred_bkgh", "s_ema_bkh", "horizon_mask_bkh")
"""The rollout batch's arrays a sample table reads (of its first documents only)."""
SAMPLE_COLUMNS = ["doc", "position", "thought_index", "context", "thought", "next_tokens", "thought_tokens",
                  "truncated", "s_pred", "s_ema", "reward"]
"""Columns of RLP's sample table (`RLPTask.sample_table`)."""
SAMPLE_CONTEXT_TOKENS = 64
"""Tokens of the document before the position that a sample row shows (the context's tail)."""


def rollout_key(state) -> jax.Array:
    """The rollout's key of a step: the state's key with ROLLOUT_KEY_SALT folded in."""
    return jax.random.fold_in(state.rng, ROLLOUT_KEY_SALT)


class RLPTask(Task):
    uses_ema = True
    objective = "rlp"

    def __init__(self, cfg):
        super().__init__(cfg)
        self.ema_decay = cfg.rlp.ema_tau
        self.uses_reference = cfg.rlp.pg.kl_beta > 0
        self._tokenizer = None
        self._samples: dict | None = None  # host copy of the first documents of the last rollout, when requested
        if cfg.rlp.think_ids:
            think, end = cfg.rlp.think_ids
            self.thoughts = ThoughtTokens(think, end, max(cfg.model.vocab_size, think + 1, end + 1), added=False)
        else:
            self.thoughts = thought_tokens(self.tokenizer, cfg.model.vocab_size)
        if self.thoughts.added:
            print(f"[rlpjax] tokenizer has no <think>/</think>: using ids {self.thoughts.think_id}/"
                  f"{self.thoughts.end_think_id} and a vocabulary of {self.thoughts.vocab_size}")

    @property
    def tokenizer(self):
        """data.tokenizer, loaded on first use (a step lowered for compile-check with rlp.think_ids never does)."""
        if self._tokenizer is None:
            self._tokenizer = load_tokenizer(self.cfg.data.tokenizer)
        return self._tokenizer

    def model_config(self) -> ModelConfig:
        return dataclasses.replace(self.cfg.model, vocab_size=self.thoughts.vocab_size)

    def rollout_settings(self, shared_prefix: bool = True, abstract: bool = False) -> RolloutSettings:
        """The run's rollout settings; `abstract` (a step only lowered) leaves the pad id, which fills masked
        positions only, at 0 instead of loading the tokenizer for it."""
        return RolloutSettings.from_config(
            self.cfg.rlp, think_id=self.thoughts.think_id, end_think_id=self.thoughts.end_think_id,
            pad_id=0 if abstract else self.tokenizer.pad_id or 0, shared_prefix=shared_prefix,
            with_reference=self.uses_reference, position_token_id=self.position_token_id())

    def position_token_id(self) -> int:
        """The id of `rlp.position_token` (-1 when the strategy needs none); ConfigError unless it is one token."""
        rlp = self.cfg.rlp
        if rlp.position_strategy != "after_token":
            return -1
        ids = self.tokenizer.encode(rlp.position_token) if rlp.position_token else []
        if len(ids) != 1:
            raise ConfigError(f"rlp.position_token={rlp.position_token!r} is {len(ids)} tokens of {self.cfg.data.tokenizer!r}; "
                              "the after_token strategy needs exactly one (a special token such as <answer>)")
        return ids[0]

    def batches(self, mesh=None):
        return HostBatches(self.cfg.data, mesh)

    def updates_per_step(self) -> int:
        return self.cfg.rlp.pg.ppo_epochs * self.cfg.rlp.pg.minibatches

    def stages(self, ctx: StepContext, shared_prefix: bool = True):
        """"rollout": (params, ema_params, ref_params, documents, key) -> rollout batch; "update": (state, a
        minibatch of the rollout batch) -> (state, metrics). `shared_prefix=False` is the benchmark's naive layout."""
        rs = self.rollout_settings(shared_prefix, abstract=ctx.abstract)
        update = make_update_step(ctx.graphdef, make_rlp_loss_fn(rs, self.cfg.rlp), ctx.tx, ctx.schedule,
                                  grad_accum_steps=self.cfg.optimizer.grad_accum_steps, ema_decay=self.ema_decay)
        return {"rollout": Stage(functools.partial(rollout, ctx.graphdef, rs=rs), state_fields=ROLLOUT_STATE_FIELDS),
                "update": Stage(update, in_shardings=(ctx.state_shardings, None),
                                out_shardings=(ctx.state_shardings, None), donate_argnums=(0,))}

    def abstract_inputs(self, ctx: StepContext, state):
        data = self.cfg.data
        rows, cols = data.global_batch_size, data.seq_len
        documents = abstract_batch({"tokens": ((rows, cols), jnp.int32), "positions": ((rows, cols), jnp.int32),
                                    "segment_ids": ((rows, cols), jnp.int32), "lengths": ((rows,), jnp.int32)},
                                   ctx.mesh)
        rollout_args = (state.params, state.ema_params, state.ref_params, documents, jax.eval_shape(rollout_key, state))
        rollout_batch = jax.eval_shape(self.stages(ctx)["rollout"].fn, *rollout_args)
        size = minibatch_rows(rows, self.cfg.rlp.pg.minibatches)
        minibatch = abstract_batch({k: ((size,) + v.shape[1:], v.dtype) for k, v in rollout_batch.items()}, ctx.mesh)
        return {"rollout": rollout_args, "update": (state, minibatch)}

    def make_step(self, ctx: StepContext):
        """The step; on a step with `samples_requested` it also keeps, on the host, the first documents of its
        rollout batch for `sample_table` (sliced on the devices and replicated by a small jitted gather that every
        process runs, so a multi-host batch can be read; the rollout and update stages are unchanged)."""
        rlp, stages = self.cfg.rlp, {name: stage.jit(ctx.mesh) for name, stage in self.stages(ctx).items()}
        head = jax.jit(lambda rb, docs: {k: rb[k][:docs] for k in SAMPLE_FIELDS}, static_argnums=1,
                       out_shardings=replicated(ctx.mesh))

        def step(state, host_batch):
            batch = to_device_batch(host_batch, ctx.mesh)
            rollout_batch = stages["rollout"](state.params, state.ema_params, state.ref_params, batch,
                                              rollout_key(state))
            self._samples = None
            if self.samples_requested:
                docs = min(len(host_batch["tokens"]),
                           math.ceil(self.samples_requested / (rlp.positions_per_doc * rlp.group_size)))
                self._samples = {"rows": self.samples_requested, **jax.device_get(head(rollout_batch, docs))}
            return ppo_updates(stages["update"], state, rollout_batch, epochs=rlp.pg.ppo_epochs,
                               minibatches=rlp.pg.minibatches)

        return step

    def sample_table(self) -> SampleTable | None:
        """Up to `samples_requested` thoughts of the last step, position by position over its first documents
        (every thought of a position's group, padded positions skipped): the context's last SAMPLE_CONTEXT_TOKENS
        tokens before position t, the thought (cut before `</think>`), the true next tokens x_t .. x_{t+h-1}, the
        thought's length and whether it was cut at the cap, and S_pred, S_ema and the reward the objective uses
        (`information_gain_rewards`). S_pred and S_ema are the gamma-discounted sums over the horizon's tokens inside
        the document (h = 1: log p(x_t)), so reward = s_pred - s_ema."""
        if self._samples is None:
            return None
        s, gamma, decode = self._samples, self.cfg.rlp.gamma, self.tokenizer.decode
        discounted = functools.partial(information_gain_rewards, gamma=gamma, horizon_mask_xh=s["horizon_mask_bkh"])
        rewards_bkg = np.asarray(discounted(s["s_pred_bkgh"], s["s_ema_bkh"]))
        # The objective's own discounted sums of each term: S_pred against a zero S_ema, S_ema as minus a zero S_pred
        s_pred_bkg = np.asarray(discounted(s["s_pred_bkgh"], np.zeros_like(s["s_ema_bkh"])))
        s_ema_bk = -np.asarray(discounted(np.zeros_like(s["s_pred_bkgh"][..., :1, :]), s["s_ema_bkh"]))[..., 0]
        thought_end_bkg = s["thought_mask_bkgl"].sum(-1) - ~s["truncated_bkg"]  # a sampled </think> is left out
        rows = []
        for b, k, g in np.ndindex(*rewards_bkg.shape):
            if len(rows) == s["rows"]:
                break
            if not s["position_valid_bk"][b, k]:
                continue
            t, tokens = int(s["positions_bk"][b, k]), s["tokens"][b]
            end = int(thought_end_bkg[b, k, g])
            next_index = t + np.flatnonzero(s["horizon_mask_bkh"][b, k])  # x_t .. inside the document
            rows.append([b, t, g, decode(tokens[max(0, t - SAMPLE_CONTEXT_TOKENS):t].tolist()),
                         decode(s["thoughts_bkgl"][b, k, g, :end].tolist()),
                         decode(tokens[next_index].tolist()),
                         end, bool(s["truncated_bkg"][b, k, g]), float(s_pred_bkg[b, k, g]), float(s_ema_bk[b, k]),
                         float(rewards_bkg[b, k, g])])
        return list(SAMPLE_COLUMNS), rows

    def _flops(self, thought_len: float) -> float:
        rlp, data = self.cfg.rlp, self.cfg.data
        return compute.rlp_step_flops(
            self.model_config(), num_docs=data.global_batch_size, doc_len=data.seq_len,
            positions_per_doc=rlp.positions_per_doc, group_size=rlp.group_size, thought_len=thought_len,
            horizon=rlp.horizon, prefix_len=data.seq_len // 2, prefix_grad=not rlp.stop_prefix_grad).total.total

    def flops_and_tokens_per_step(self):
        """At the thought cap: an upper bound (the logged figures use `step_flops`)."""
        return self._flops(self.cfg.rlp.max_thought_tokens), self.cfg.data.global_batch_size * self.cfg.data.seq_len

    def step_flops(self, metrics: dict) -> float:
        """FLOPs at the step's measured mean thought length (`length_mean`), the cap when it was not logged."""
        return self._flops(metrics.get("length_mean", self.cfg.rlp.max_thought_tokens))
