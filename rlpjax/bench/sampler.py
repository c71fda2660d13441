"""Decode throughput of the jitted sampler (`rlpjax.sampling.sample`) at several batch sizes.

Every row gets a random prompt of `prompt_len` tokens and decodes `new_tokens` tokens with no stop token, so all
rows run the full length (checked from the returned lengths). The first call at each batch size compiles and is
reported apart; the figures average `repeats` later calls. A call includes the prompt's prefill, so
`tokens_per_s` is generated tokens over the whole call (the prefill is small next to the decode at the default
prompt length).
"""

from __future__ import annotations

import time

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from rlpjax.config import Config
from rlpjax.sampling import SamplingSettings, sample


def bench_sampler(cfg: Config, *, batch_sizes: tuple[int, ...] = (1, 8, 32, 128), prompt_len: int = 64,
                  new_tokens: int = 64, repeats: int = 5) -> dict:
    """Figures flattened as `b<batch>/<figure>`: compile_s, seconds per call, generated tokens, tokens/s and
    milliseconds per decode step."""
    from rlpjax.model.decoder import Decoder

    graphdef, params = nnx.split(Decoder(cfg.model, rngs=nnx.Rngs(cfg.run.seed)), nnx.Param)
    settings = SamplingSettings(max_new_tokens=new_tokens, temperature=1.0)
    rng = np.random.default_rng(cfg.run.seed)
    figures: dict = {"prompt_len": prompt_len, "new_tokens": new_tokens, "repeats": repeats,
                     "batch_sizes": list(batch_sizes)}
    for batch in batch_sizes:
        prompts = jnp.asarray(rng.integers(0, cfg.model.vocab_size, size=(batch, prompt_len), dtype=np.int32))
        lengths = jnp.full((batch,), prompt_len, jnp.int32)
        key = jax.random.PRNGKey(cfg.run.seed)
        start = time.perf_counter()
        out = jax.block_until_ready(sample(graphdef, params, prompts, lengths, key, settings))
        compile_s = time.perf_counter() - start
        start = time.perf_counter()
        for _ in range(repeats):
            out = jax.block_until_ready(sample(graphdef, params, prompts, lengths, key, settings))
        call_s = (time.perf_counter() - start) / repeats
        generated = int(jnp.sum(out.lengths_b))
        if generated != batch * new_tokens:
            raise RuntimeError(f"batch {batch}: {generated} tokens generated, expected {batch * new_tokens}")
        figures.update({f"b{batch}/compile_s": compile_s, f"b{batch}/call_s": call_s,
                        f"b{batch}/generated_tokens": generated, f"b{batch}/tokens_per_s": generated / call_s,
                        f"b{batch}/ms_per_step": call_s / new_tokens * 1e3})
    return figures
