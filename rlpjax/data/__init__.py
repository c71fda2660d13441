"""Training data: sources by registry (rlpjax.data.sources), tokenizers, packing, mixtures, per-host lanes.

Entry points for the trainer: `build_train_iterator`, `merge_states`, `load_tokenizer` (see
pipeline.py). They are imported on first use, so reading the source registry (config checks) never imports JAX.
"""

import importlib

_EXPORTS = {"DataIterator": "pipeline", "build_train_iterator": "pipeline", "merge_states": "pipeline",
            "state_stats": "pipeline", "ByteTokenizer": "tokenizer",
            "HFTokenizer": "tokenizer", "Tokenizer": "tokenizer", "load_tokenizer": "tokenizer"}

__all__ = list(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'rlpjax.data' has no attribute {name!r}")
    return getattr(importlib.import_module(f"rlpjax.data.{_EXPORTS[name]}"), name)
