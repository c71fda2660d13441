"""The prompts of RL post-training: an endless, resumable stream of controlled reasoning problems (GRPO's data)."""

from __future__ import annotations

from rlpjax.config import GRPOConfig
from rlpjax.reasoning.corpora import training_candidate
from rlpjax.reasoning.generator import problem_seed

PROBLEM_STREAM = "rl"
"""Generator stream of RL problems: distinct from the "eval" stream of held-out sets and the training documents."""


class ProblemStream:
    """Endless RL problems: problem i is a pure function of (seed, the op x template x mode grid, i), and with
    `grpo.problem_pool` = N > 0 prompt i is problem i mod N (N problems read in epochs).

    Its state is `{"index": i}` (JSON), so a checkpoint resumes the stream exactly at the next prompt.
    """

    def __init__(self, cfg: GRPOConfig):
        self._seed, self._per_step, self._pool = cfg.seed, cfg.prompts_per_step, cfg.problem_pool
        self._cells = [(op, template, mode) for op in cfg.ops for template in cfg.templates for mode in cfg.modes]
        self._index = 0

    def problem(self, index: int) -> dict:
        """Problem number `index`: a uniformly drawn cell, then that cell's training problem `index` (never one of
        the held-out problems evaluation sets draw from, `corpora.training_candidate`)."""
        cell = self._cells[problem_seed(self._seed, PROBLEM_STREAM, index) % len(self._cells)]
        return training_candidate(self._seed, PROBLEM_STREAM, cell, index)

    def __next__(self) -> list[dict]:
        records = [self.problem(i % self._pool if self._pool else i)
                   for i in range(self._index, self._index + self._per_step)]
        self._index += self._per_step
        return records

    def get_state(self) -> dict:
        return {"index": self._index}

    def set_state(self, state: dict) -> None:
        self._index = int(state["index"])

    def stats(self) -> dict:
        return {"problems_seen": self._index}
