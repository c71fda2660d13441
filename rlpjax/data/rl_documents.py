"""The prompts of RPT-style next-token reasoning: one position in each document of the data pipeline (GRPO's
`grpo.prompts="documents"`).

Each step reads one batch of `data.global_batch_size` (= `grpo.prompts_per_step`) whole documents
(`data.mode="documents"`, the same sources, mixture, shuffle and lanes as pretraining) and picks in each document a
position t uniformly from [min(grpo.document_min_context, n - 1), n - 1] (n: the document's tokens, a closing EOS
not counted: its text is empty, nothing a prediction could spell), seeded by
(grpo.seed, step, row). The record holds the document's tokens before t (`context_ids`, its last tokens when the
prompt would be too long) and the true continuation from t (`continuation_ids`, up to
`grpo.document_continuation_tokens` tokens). A document of fewer than 2 tokens has nothing to predict: its record
is marked `usable=False` and the task masks its group out.
"""

from __future__ import annotations

import numpy as np

from rlpjax.config import Config
from rlpjax.data.pipeline import build_train_iterator, state_stats
from rlpjax.data.tokenizer import Tokenizer, load_tokenizer

POSITION_SALT = 0x525054
"""Mixed into the position seed, so positions do not correlate with other draws from grpo.seed."""


def choose_position(length: int, min_context: int, rng: np.random.Generator) -> int:
    """A predicted position t in [min(min_context, length - 1), length - 1] (at least 1): the prefix has t tokens."""
    low = max(1, min(min_context, length - 1))
    return int(rng.integers(low, length)) if length > low else low


class DocumentPrompts:
    """Endless batches of next-token prompts from the documents of `cfg.data`, resumable: the state is the
    document stream's (every lane: each host reads the whole, small, prompt batch) and the step count."""

    def __init__(self, cfg: Config, context_tokens: int, tokenizer: Tokenizer | None = None):
        """`context_tokens`: most document tokens a prompt may hold (grpo.max_prompt_tokens minus the BOS and the
        instruction); `tokenizer`: data.tokenizer, loaded when not given."""
        tokenizer = tokenizer or load_tokenizer(cfg.data.tokenizer)
        self._iterator = build_train_iterator(cfg.data, tokenizer=tokenizer)
        self._eos = tokenizer.eos_id
        self._seed, self._context = cfg.grpo.seed, context_tokens
        self._min_context, self._continuation = cfg.grpo.document_min_context, cfg.grpo.document_continuation_tokens
        self._step = 0

    def __iter__(self):
        return self

    def __next__(self) -> list[dict]:
        batch = next(self._iterator)
        tokens_bs, lengths_b = batch["tokens"], batch["lengths"]
        records = []
        for row, (tokens_s, length) in enumerate(zip(tokens_bs, lengths_b)):
            length = int(length) - int(length > 0 and tokens_s[int(length) - 1] == self._eos)
            rng = np.random.default_rng([self._seed, POSITION_SALT, self._step, row])
            t = choose_position(length, self._min_context, rng) if length >= 2 else 0
            records.append({"context_ids": tokens_s[max(0, t - self._context):t].tolist(),
                            "continuation_ids": tokens_s[t:min(length, t + self._continuation)].tolist(),
                            "position": t, "document_tokens": length, "usable": length >= 2})
        self._step += 1
        return records

    def get_state(self) -> dict:
        return {"documents": self._iterator.get_state(), "step": self._step}

    def set_state(self, state: dict) -> None:
        self._iterator.set_state(state["documents"])
        self._step = int(state["step"])

    def stats(self) -> dict:
        return state_stats(self._iterator.get_state()) | {"prompts_seen": self._step * len(self._iterator.rows)}
