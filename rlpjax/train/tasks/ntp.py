"""Next-token prediction: pretraining, continued pretraining and mid-training (mixtures are data configs)."""

from __future__ import annotations

import itertools

import jax
import jax.numpy as jnp

from rlpjax import compute
from rlpjax.objectives.ntp import ntp_loss
from rlpjax.train.batches import HostBatches, to_device_batch
from rlpjax.train.ppo import ppo_updates
from rlpjax.train.task import Stage, StepContext, Task, abstract_batch
from rlpjax.train.update import make_update_step

BATCH_KEYS = ("tokens", "positions", "segment_ids")
"""The packed batch's arrays, each int32 [data.global_batch_size, data.seq_len]."""


class NTPTask(Task):
    objective = "ntp"

    def batches(self, mesh=None):
        return HostBatches(self.cfg.data, mesh)

    def _loss_fn(self):
        z_loss_weight = self.cfg.ntp.z_loss_weight

        def loss_fn(model, batch, rng):
            del rng
            logits_btv = model(batch["tokens"], batch["positions"], batch["segment_ids"])
            return ntp_loss(logits_btv, batch["tokens"], batch["segment_ids"], z_loss_weight=z_loss_weight)

        return loss_fn

    def stages(self, ctx: StepContext):
        step = make_update_step(ctx.graphdef, self._loss_fn(), ctx.tx, ctx.schedule,
                                grad_accum_steps=self.cfg.optimizer.grad_accum_steps, ema_decay=self.ema_decay)
        return {"update": Stage(step, in_shardings=(ctx.state_shardings, None),
                                out_shardings=(ctx.state_shardings, None), donate_argnums=(0,))}

    def abstract_inputs(self, ctx: StepContext, state):
        shape = (self.cfg.data.global_batch_size, self.cfg.data.seq_len)
        return {"update": (state, abstract_batch({key: (shape, jnp.int32) for key in BATCH_KEYS}, ctx.mesh))}

    def make_step(self, ctx: StepContext):
        update = self.stages(ctx)["update"].jit(ctx.mesh)
        return lambda state, host_batch: ppo_updates(update, state, to_device_batch(host_batch, ctx.mesh))

    def make_eval(self, ctx: StepContext):
        """Mean NTP loss over `run.eval_batches` batches of `data.eval_sources` (the same batches every time)."""
        from flax import nnx

        loss_fn = self._loss_fn()
        eval_loss = jax.jit(lambda params, batch: loss_fn(nnx.merge(ctx.graphdef, params), batch, None))
        eval_batches = list(itertools.islice(
            HostBatches(self.cfg.data, ctx.mesh, split="eval"),
            self.cfg.run.eval_batches))

        def evaluate(state):
            losses = [float(eval_loss(state.params, to_device_batch(b, ctx.mesh))[0]) for b in eval_batches]
            return {"loss": sum(losses) / len(losses)}

        return evaluate

    def flops_and_tokens_per_step(self):
        tokens = self.cfg.data.global_batch_size * self.cfg.data.seq_len
        return compute.ntp_step_flops(self.cfg.model, self.cfg.data.global_batch_size, self.cfg.data.seq_len).total, tokens
