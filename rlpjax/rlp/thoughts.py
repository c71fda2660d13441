"""The `<think>` / `</think>` tokens that wrap RLP's thoughts.

A tokenizer that already has them (Qwen3: 151667 / 151668; rlpjax's byte tokenizer) is used as it is. Otherwise
the two ids after the model's vocabulary are taken and the vocabulary grows by two rows; when the model is loaded
from a checkpoint with the smaller vocabulary (`run.init_from`), `rlpjax.model.vocab.grow_vocab` sets the new
embedding and output rows to the mean of the existing rows (see its docstring for why).
"""

from __future__ import annotations

import dataclasses

THINK = "<think>"
END_THINK = "</think>"


@dataclasses.dataclass(frozen=True)
class ThoughtTokens:
    think_id: int
    end_think_id: int
    vocab_size: int
    """The model's vocabulary size with both tokens included."""
    added: bool
    """True when the tokenizer lacked them and the vocabulary was grown."""


def thought_tokens(tokenizer, model_vocab_size: int) -> ThoughtTokens:
    """The tokenizer's own thought tokens, or two new ids right after the model's vocabulary."""
    think, end = tokenizer.token_to_id(THINK), tokenizer.token_to_id(END_THINK)
    if think is not None and end is not None:
        return ThoughtTokens(think, end, max(model_vocab_size, think + 1, end + 1), added=False)
    base = max(model_vocab_size, tokenizer.vocab_size)
    return ThoughtTokens(base, base + 1, base + 2, added=True)
