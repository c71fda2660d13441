"""What GRPO's prompts are and how a response is scored, by `grpo.prompts` (`PROMPT_KINDS`).

- "controlled": the controlled reasoning problems (`data.rl_problems.ProblemStream`); a response is verified
  against its problem's gold graph and scored by the named verifier reward (`reasoning.rewards`).
- "documents": RPT, next-token reasoning (Dong et al. 2025), the baseline the RLP paper compares against: a
  document's prefix up to a random position (`data.rl_documents.DocumentPrompts`) plus an instruction; the response
  reasons and writes its prediction in `\\boxed{}`; `prefix_match_reward` is 1 when the prediction's bytes equal the
  first j >= 1 tokens of the true continuation (a byte-exact prefix ending on a token boundary), else 0.

A kind gives the prompt stream, each prompt's token ids, and a `Scored` per response (its reward, whether it
passed for the edge filter, and its sample-table columns); the GRPO task does the rest identically.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from rlpjax.config import Config
from rlpjax.config_io import ConfigError
from rlpjax.data.rl_documents import DocumentPrompts
from rlpjax.data.rl_problems import ProblemStream
from rlpjax.data.tokenizer import Tokenizer
from rlpjax.eval.answers import extract_boxed
from rlpjax.reasoning.format import prompt_text
from rlpjax.reasoning.rewards import reward
from rlpjax.reasoning.verify import verify


@dataclasses.dataclass(frozen=True)
class Scored:
    """One response's score."""

    reward: float
    """The reward before overlong shaping."""
    passed: bool
    """Whether it counts as a pass (the edge filter's pass rate and its metrics)."""
    columns: tuple
    """Its values of the kind's `columns` in the sample table."""


class ControlledPrompts:
    """The controlled reasoning problems, verified and scored by `grpo.reward`."""

    columns = ("verified_correct", "answer_correct", "process_acc", "predicted_answer", "reason")
    metric_columns = {"verified_accuracy": "verified_correct", "process_accuracy": "process_acc",
                      "answer_accuracy": "answer_correct"}
    """Logged metric -> the column whose mean over the step's responses it is."""

    def __init__(self, cfg: Config, tokenizer: Tokenizer, bos: list[int]):
        self.cfg, self.tokenizer, self.bos = cfg, tokenizer, bos

    def stream(self) -> ProblemStream:
        return ProblemStream(self.cfg.grpo)

    def prompt_text(self, record: dict) -> str:
        return prompt_text(record)

    def prompt_ids(self, record: dict) -> list[int]:
        return self.bos + self.tokenizer.encode(prompt_text(record))

    def too_long_fix(self) -> str:
        return "raise it or lower grpo.ops"

    def score(self, text: str, record: dict) -> Scored:
        grpo = self.cfg.grpo
        check = verify(text, record)
        passed = check.verified_correct if grpo.edge_pass == "verified" else check.answer_correct
        return Scored(reward(grpo.reward, check, a=grpo.reward_alpha), bool(passed),
                      (bool(check.verified_correct), bool(check.answer_correct), float(check.process_acc),
                       check.predicted_answer or "", check.reason))


def prefix_match_reward(prediction: str | None, continuation_prefixes: list[str]) -> float:
    """RPT's reward: 1.0 when `prediction` equals one of `continuation_prefixes` (the decoded first 1, 2, ... tokens
    of the true continuation) byte for byte, or equals it without its leading whitespace (the model writes
    `\\boxed{mat}` for the token " mat"); 0.0 otherwise, and for a missing or empty prediction."""
    if not prediction:
        return 0.0
    return float(any(prediction in (prefix, prefix.lstrip()) for prefix in continuation_prefixes))


class DocumentNextTokens:
    """RPT: document prefixes whose next tokens the response predicts in `\\boxed{}`, scored by prefix match."""

    columns = ("continuation", "prediction", "prefix_match")
    metric_columns = {"prefix_match_rate": "prefix_match"}

    def __init__(self, cfg: Config, tokenizer: Tokenizer, bos: list[int]):
        self.cfg, self.tokenizer, self.bos = cfg, tokenizer, bos
        self.instruction_ids = tokenizer.encode(cfg.grpo.document_instruction)
        self.context_tokens = cfg.grpo.max_prompt_tokens - len(bos) - len(self.instruction_ids)
        if self.context_tokens < 1:
            raise ConfigError(f"grpo.document_instruction is {len(self.instruction_ids)} tokens, leaving no room for "
                              f"the document in grpo.max_prompt_tokens={cfg.grpo.max_prompt_tokens}; raise it")

    def stream(self) -> DocumentPrompts:
        return DocumentPrompts(self.cfg, self.context_tokens, self.tokenizer)

    def prompt_ids(self, record: dict) -> list[int]:
        context = record["context_ids"]
        starts_with_bos = bool(self.bos) and context[:1] == self.bos
        return (context if starts_with_bos else self.bos + context) + self.instruction_ids

    def prompt_text(self, record: dict) -> str:
        return self.tokenizer.decode(record["context_ids"]) + self.cfg.grpo.document_instruction

    def too_long_fix(self) -> str:
        return "raise it or shorten grpo.document_instruction"

    def score(self, text: str, record: dict) -> Scored:
        continuation = record["continuation_ids"]
        prefixes = [self.tokenizer.decode(continuation[:j]) for j in range(1, len(continuation) + 1)]
        prediction = extract_boxed(text, strip=False)
        match = record["usable"] and prefix_match_reward(prediction, prefixes) > 0
        return Scored(float(match), bool(match), (self.tokenizer.decode(continuation), prediction or "", bool(match)))


PROMPT_KINDS: dict[str, Any] = {"controlled": ControlledPrompts, "documents": DocumentNextTokens}
"""`grpo.prompts` -> the kind (names: `config.PromptKind`)."""


def kind_metrics(kind, scored: list[Scored]) -> dict[str, float]:
    """The kind's metrics: the mean of each metric column over the responses."""
    index = {name: i for i, name in enumerate(kind.columns)}
    return {metric: float(np.mean([s.columns[index[column]] for s in scored]))
            for metric, column in kind.metric_columns.items()}
