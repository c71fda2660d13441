"""Decoding updates the stacked KV cache in place: no per-token copy of the whole [layers, ...] cache.

The figures come from XLA's own buffer assignment of the compiled programs (`memory_analysis()`), so they measure
what the device would allocate, not what the Python code looks like. The cache is made large enough to dominate
every other buffer: 8 layers x batch 8 x 1024 slots x 2 kv heads x 16 = 2 Mi float32 elements, 8 MiB each for k
and v, while parameters are a few tens of KiB and one layer's attention logits [batch, kv_heads, group, 1, slots]
are 128 KiB.

The bound, temporaries < 1/4 of one k + v cache = 2 layers' worth: the attention einsum treats (batch, kv_heads)
as its batch dimensions and XLA:CPU's dot wants them outermost, so the layer being attended is re-laid out
([batch, slots, kv, hd] -> [batch, kv, ...], measured: one layer's k and v, 1/8 of the cache, reused from layer to
layer). That leaves one more layer's worth of room for other activations. A decode step that slices, writes and
re-stacks layers, or scans the cache as xs / ys, allocates at least one whole cache (8 layers' worth) of
temporaries (measured on that code: 1.06 caches for the loop, 1.19 for scan, 1.05 for the sampler), so the bound
separates the two with a wide margin.
"""

from __future__ import annotations

import dataclasses
import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from rlpjax.config import ModelConfig
from rlpjax.model import Decoder
from rlpjax.model.kv_cache import write_rows
from rlpjax.sampling import SamplingSettings, sample_with_cache

LAYERS, BATCH, SLOTS, KV_HEADS, HEAD_DIM = 8, 8, 1024, 2, 16
CFG = ModelConfig(
    family="llama", vocab_size=64, hidden_size=32, intermediate_size=64, num_layers=LAYERS, num_heads=4,
    num_kv_heads=KV_HEADS, head_dim=HEAD_DIM, tie_embeddings=True, max_seq_len=SLOTS,
)
CACHE_SHAPE = (LAYERS, BATCH, SLOTS, KV_HEADS, HEAD_DIM)
KV_BYTES = 2 * LAYERS * BATCH * SLOTS * KV_HEADS * HEAD_DIM * 4
"""Bytes of one k + v cache in float32 (16 MiB)."""
TEMP_BOUND = 0.25 * KV_BYTES
"""Temporaries allowed: a quarter of one cache, two layers' k + v (see the module docstring)."""


def _model(scan_layers: bool):
    """(graphdef, params) of the test decoder with the given layer execution."""
    return nnx.split(Decoder(dataclasses.replace(CFG, scan_layers=scan_layers), rngs=nnx.Rngs(0)))


def _compiled_decode_step(scan_layers: bool):
    """One compiled decode step (`extend` of a [batch, 1] token) with the cache argument donated."""
    graphdef, params = _model(scan_layers)
    cache = nnx.merge(graphdef, params).init_cache(BATCH, SLOTS)

    def step(params, token_b1, cache):
        return nnx.merge(graphdef, params).extend(token_b1, cache)

    token_b1 = jnp.zeros((BATCH, 1), jnp.int32)
    return jax.jit(step, donate_argnums=2).lower(params, token_b1, cache).compile()


def _full_cache_ops(hlo_text: str) -> list[str]:
    """HLO instructions that build a whole-cache-shaped array by `concatenate` or `copy`, alone or fused (XLA names
    a fusion after its root, e.g. `%wrapped_copy = f32[...] fusion(...)`)."""
    shape = re.escape("f32[" + ",".join(str(n) for n in CACHE_SHAPE) + "]")
    pattern = re.compile(r"%\S*(concatenate|copy)\S*\s*=\s*" + shape + r"|=\s*" + shape + r"\S*\s+(concatenate|copy)\(")
    return [line.strip() for line in hlo_text.splitlines() if pattern.search(line)]


@pytest.mark.parametrize("scan_layers", [False, True])
def test_decode_step_writes_the_cache_in_place(scan_layers):
    compiled = _compiled_decode_step(scan_layers)
    memory = compiled.memory_analysis()
    print(f"scan_layers={scan_layers}: temp={memory.temp_size_in_bytes} alias={memory.alias_size_in_bytes} "
          f"cache k+v={KV_BYTES}")
    assert memory.temp_size_in_bytes < TEMP_BOUND
    assert memory.alias_size_in_bytes >= KV_BYTES  # the updated cache is the donated buffer
    assert _full_cache_ops(compiled.as_text()) == []


def test_sampler_loop_does_not_copy_the_cache_per_step():
    graphdef, params = _model(scan_layers=False)
    settings = SamplingSettings(max_new_tokens=4, temperature=1.0)
    prompts_bt = jnp.zeros((BATCH, 3), jnp.int32)
    lengths_b = jnp.full((BATCH,), 3, jnp.int32)
    cache = nnx.merge(graphdef, params).init_cache(BATCH, SLOTS)

    def run(params, cache, key):
        return sample_with_cache(nnx.merge(graphdef, params), prompts_bt, lengths_b, key, settings, cache=cache)

    compiled = jax.jit(run, donate_argnums=1).lower(params, cache, jax.random.key(0)).compile()
    memory = compiled.memory_analysis()
    print(f"sampler: temp={memory.temp_size_in_bytes} alias={memory.alias_size_in_bytes} cache k+v={KV_BYTES}")
    assert memory.temp_size_in_bytes < TEMP_BOUND


@pytest.mark.parametrize("traced_layer", [False, True])
def test_write_rows_matches_numpy(traced_layer):
    """Row b's new tokens land at (layer, b, start_b[b] + i); every other slot keeps its value."""
    rng = np.random.default_rng(0)
    cache_lbshd = rng.normal(size=(3, 4, 7, 2, 5)).astype(np.float32)
    new_bthd = rng.normal(size=(4, 2, 2, 5)).astype(np.float32)
    start_b = np.array([0, 3, 5, 1])
    expected = cache_lbshd.copy()
    for b in range(4):
        expected[1, b, start_b[b]:start_b[b] + 2] = new_bthd[b]
    write = jax.jit(write_rows) if traced_layer else write_rows  # under jit the layer is a traced scalar
    got = write(jnp.asarray(cache_lbshd), jnp.int32(1) if traced_layer else 1, jnp.asarray(new_bthd),
                jnp.asarray(start_b))
    np.testing.assert_array_equal(np.asarray(got), expected)
