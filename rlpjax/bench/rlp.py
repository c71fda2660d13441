"""One RLP step timed in the shared-prefix layout and in the naive one, on the same model, batch and key.

The naive layout re-encodes each document's prefix for every one of its K*G branches (as the public PyTorch
prototypes do); the shared layout encodes each document once and lets every branch attend to it. Both sample the
same thoughts (tested), so the step does the same useful work and the ratio of thought tokens per second is the
speed-up. Each stage (sample, score, update) is its own compiled function here so it can be timed; the trainer fuses
sample and score into one.
"""

from __future__ import annotations

import dataclasses
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from rlpjax.config import Config
from rlpjax.rlp.loss import make_rlp_loss_fn
from rlpjax.rlp.rollout import RolloutSettings, sample_branches, score_branches
from rlpjax.train.state import init_train_state
from rlpjax.train.update import make_update_step


def _documents(vocab: int, docs: int, doc_len: int, seed: int) -> dict:
    tokens = np.random.default_rng(seed).integers(0, vocab - 2, size=(docs, doc_len), dtype=np.int32)
    return {"tokens": jnp.asarray(tokens), "segment_ids": jnp.ones((docs, doc_len), jnp.int32),
            "positions": jnp.broadcast_to(jnp.arange(doc_len, dtype=jnp.int32), (docs, doc_len)),
            "lengths": jnp.full((docs,), doc_len, jnp.int32)}


def _peak_bytes(compiled) -> int:
    """Arguments + outputs + temporaries (minus aliased buffers) of a compiled executable."""
    m = compiled.memory_analysis()
    if m is None:
        return 0
    return int(m.argument_size_in_bytes + m.output_size_in_bytes + m.temp_size_in_bytes - m.alias_size_in_bytes)


def _timed(compiled, args, repeats: int) -> tuple[float, object]:
    out = jax.block_until_ready(compiled(*args))  # warm-up run
    start = time.perf_counter()
    for _ in range(repeats):
        out = jax.block_until_ready(compiled(*args))
    return (time.perf_counter() - start) / repeats, out


def time_rlp_step(cfg: Config, rs: RolloutSettings, batch: dict, repeats: int = 3) -> dict:
    """Seconds per stage, thought tokens per second and peak bytes of one RLP step in the layout `rs` asks for."""
    graphdef, params = nnx.split(_model(cfg), nnx.Param)
    tx = optax.adamw(cfg.optimizer.learning_rate)
    state = init_train_state(params, tx, cfg.run.seed, with_ema=True)
    key = jax.random.PRNGKey(cfg.run.seed)

    sample_fn = jax.jit(lambda p, e, b, k: sample_branches(nnx.merge(graphdef, p), nnx.merge(graphdef, e), b, k, rs))
    score_fn = jax.jit(lambda p, b, s: score_branches(nnx.merge(graphdef, p), b, s, rs))
    update_fn = jax.jit(make_update_step(graphdef, make_rlp_loss_fn(rs, cfg.rlp), tx, optax.constant_schedule(0.0),
                                         ema_decay=cfg.rlp.ema_tau))

    sample_c = sample_fn.lower(state.params, state.ema_params, batch, key).compile()
    sample_s, sampled = _timed(sample_c, (state.params, state.ema_params, batch, key), repeats)
    score_c = score_fn.lower(state.params, batch, sampled).compile()
    score_s, rollout_batch = _timed(score_c, (state.params, batch, sampled), repeats)
    update_c = update_fn.lower(state, rollout_batch).compile()
    update_s, _ = _timed(update_c, (state, rollout_batch), repeats)

    thought_tokens = int(jnp.sum(sampled.thoughts.lengths_b))
    step_s = sample_s + score_s + update_s
    return {"sample_s": sample_s, "score_s": score_s, "update_s": update_s, "step_s": step_s,
            "thought_tokens": thought_tokens, "thought_tokens_per_s": thought_tokens / step_s,
            "peak_bytes": max(_peak_bytes(c) for c in (sample_c, score_c, update_c))}


def _model(cfg: Config):
    from rlpjax.model.decoder import Decoder

    return Decoder(cfg.model, rngs=nnx.Rngs(cfg.run.seed))


def bench_rlp(cfg: Config, *, docs: int = 4, doc_len: int = 512, kg: tuple[tuple[int, int], ...] = ((4, 4),),
              max_thought_tokens: int = 64, repeats: int = 3) -> dict:
    """Shared vs naive RLP step for each (K, G) in `kg`; figures flattened as `<K>x<G>/<layout>/<figure>`."""
    figures = {"docs": docs, "doc_len": doc_len, "max_thought_tokens": max_thought_tokens, "repeats": repeats,
               "model": f"{cfg.model.num_layers}L d{cfg.model.hidden_size} V{cfg.model.vocab_size}",
               "device": jax.devices()[0].device_kind, "jax": jax.__version__}
    batch = _documents(cfg.model.vocab_size, docs, doc_len, cfg.run.seed)
    for K, G in kg:
        rlp = dataclasses.replace(cfg.rlp, positions_per_doc=K, group_size=G, max_thought_tokens=max_thought_tokens)
        run_cfg = cfg.replace(rlp=rlp)
        rs = RolloutSettings(
            positions_per_doc=K, group_size=G, position_strategy=rlp.position_strategy,
            max_thought_tokens=max_thought_tokens, temperature=rlp.temperature, top_p=rlp.top_p, top_k=rlp.top_k,
            horizon=rlp.horizon, think_id=cfg.model.vocab_size - 2, end_think_id=cfg.model.vocab_size - 1, pad_id=0)
        results = {layout: time_rlp_step(run_cfg, dataclasses.replace(rs, shared_prefix=layout == "shared"),
                                         batch, repeats)
                   for layout in ("shared", "naive")}
        for layout, result in results.items():
            figures.update({f"{K}x{G}/{layout}/{name}": value for name, value in result.items()})
        figures[f"{K}x{G}/speedup"] = (results["shared"]["thought_tokens_per_s"]
                                       / results["naive"]["thought_tokens_per_s"])
    return figures

