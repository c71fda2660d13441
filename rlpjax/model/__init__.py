"""The Flax NNX decoder, its KV caches, and checkpoint import/export.

Model families (`families/<name>.py`, built-in Llama / Qwen2 / Qwen3) pick the blocks of `layers.py` and hold
their Hugging Face mapping; `ModelConfig.family` names one.

Build
- `rlpjax.sharding.create_sharded_model(cfg: ModelConfig, mesh, seed=0) -> Decoder`: parameters born sharded.
- `Decoder(cfg, rngs=nnx.Rngs(seed))`: a host-built model (`rlpjax.sharding.shard_model(model, mesh)` places it).

Call modes (one block, one attention kernel; logits are float32 [batch, time, vocab])
- `model(tokens_bt, positions_bt=None, segment_ids_bt=None, *, return_kv=False)`: teacher-forced; segment id 0 is
  padding and packed documents never attend across segments. `return_kv=True` -> `(logits, KVCache)` with the
  per-layer keys/values [layers, batch, time, kv_heads, head_dim] (after RoPE, differentiable).
- `model.init_cache(batch, max_len) -> KVCache`, then `model.extend(tokens_bt, cache, *, num_new_b=None,
  prefix=None) -> (logits, cache)`: prefill (right-padded prompts, `num_new_b` = their lengths) and decode
  (time = 1, each row at its own slot/position).
- Branch mode (RLP): rows = docs * N, rows of a document contiguous; `prefix = PrefixKV.from_kv(k, v, lengths_r)`
  with the documents' k/v [layers, docs, S, kv_heads, head_dim] (e.g. `kv.k, kv.v` from a teacher-forced `return_kv` pass,
  or a prefill cache) and per-row prefix lengths t. Branch rows attend to their document's slots < t (never copied
  per row) and causally to their own tokens at positions t, t+1, ...: `model.extend(branch_tokens_rt,
  model.init_cache(rows, max_len), prefix=prefix)` (teacher-forced with an empty cache of max_len = time, or token
  by token).

Helpers
- `grow_vocab(model, new_size) -> Decoder` (new rows = mean of the old rows).
- `rlpjax.model.io.save_model_dir(path, cfg, model)` / `load_model_dir(path, mesh=None) -> (cfg, model)`.
- `rlpjax.model.hf.load_hf_model(path, mesh=None) -> (cfg, model)` / `save_hf_model(path, cfg, model)`.
"""

from rlpjax.model.decoder import Decoder, validate_model_config
from rlpjax.model.kv_cache import KVCache, PrefixKV
from rlpjax.model.vocab import grow_vocab

__all__ = ["Decoder", "KVCache", "PrefixKV", "grow_vocab", "validate_model_config"]
