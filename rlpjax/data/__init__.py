"""Training data: sources (JSONL, Parquet, ArrayRecord, built-in, controlled), tokenizers, packing, mixtures.

Entry points for the trainer: `build_train_iterator`, `to_global_batch`, `load_tokenizer` (see pipeline.py).
"""

from rlpjax.data.pipeline import DataIterator, build_train_iterator, to_global_batch
from rlpjax.data.tokenizer import ByteTokenizer, HFTokenizer, Tokenizer, load_tokenizer

__all__ = ["DataIterator", "build_train_iterator", "to_global_batch", "ByteTokenizer",
           "HFTokenizer", "Tokenizer", "load_tokenizer"]
