"""`RolloutSettings`: the static settings of one RLP rollout and update, derived from an `RLPConfig`."""

from __future__ import annotations

import dataclasses

from rlpjax.config_io import ConfigError
from rlpjax.objectives.logprobs import ratio_temperature
from rlpjax.sampling import SamplingSettings


@dataclasses.dataclass(frozen=True)
class RolloutSettings:
    """Static settings of one rollout (hashable: one compiled rollout per distinct value)."""

    positions_per_doc: int
    group_size: int
    position_strategy: str
    max_thought_tokens: int
    temperature: float
    top_p: float
    top_k: int
    horizon: int
    think_id: int
    end_think_id: int
    pad_id: int
    shared_prefix: bool = True
    with_reference: bool = False
    min_thought_tokens: int = 1
    ratio_logprobs: str = "sampling"
    logits_chunk_tokens: int = 4096
    microbatch_rows: int = 0
    position_token_id: int = -1
    """Marker id of the "after_token" position strategy (-1: unused)."""

    @classmethod
    def from_config(cls, rlp, *, think_id: int, end_think_id: int, pad_id: int, shared_prefix: bool = True,
                    with_reference: bool = False, position_token_id: int = -1) -> "RolloutSettings":
        """The settings an `RLPConfig` asks for, with the thought-token ids of the run's tokenizer.

        `position_token_id` is `rlp.position_token`'s id (needed by the "after_token" strategy). The config's own
        rules (the micro-batch rows, the position token's presence) are `config_checks`', run when the task is built.
        """
        return cls(positions_per_doc=rlp.positions_per_doc, group_size=rlp.group_size,
                   position_strategy=rlp.position_strategy, max_thought_tokens=rlp.max_thought_tokens,
                   temperature=rlp.sampling.temperature, top_p=rlp.sampling.top_p, top_k=rlp.sampling.top_k,
                   horizon=rlp.horizon,
                   think_id=think_id, end_think_id=end_think_id, pad_id=pad_id, shared_prefix=shared_prefix,
                   with_reference=with_reference, min_thought_tokens=rlp.min_thought_tokens,
                   ratio_logprobs=rlp.pg.ratio_logprobs, logits_chunk_tokens=rlp.pg.logits_chunk_tokens,
                   microbatch_rows=rlp.rollout_microbatch_rows, position_token_id=position_token_id)

    @property
    def branches_per_doc(self) -> int:
        return self.positions_per_doc * self.group_size

    @property
    def logprob_temperature(self) -> float:
        """Temperature of the old / new / reference thought log-probs (`rlp.pg.ratio_logprobs`)."""
        return ratio_temperature(self.ratio_logprobs, self.temperature)

    def docs_per_microbatch(self, num_docs: int) -> int:
        """Documents per rollout micro-batch (all of them when `microbatch_rows` is 0)."""
        docs = self.microbatch_rows // self.branches_per_doc if self.microbatch_rows else num_docs
        if docs < 1 or num_docs % docs:
            raise ConfigError(f"rlp.rollout_microbatch_rows={self.microbatch_rows} does not split {num_docs} documents "
                              f"of {self.branches_per_doc} branch rows into whole-document micro-batches")
        return docs

    def sampling(self) -> SamplingSettings:
        return SamplingSettings(max_new_tokens=self.max_thought_tokens, temperature=self.temperature,
                                top_p=self.top_p, top_k=self.top_k, stop_tokens=(self.end_think_id,),
                                pad_id=self.pad_id, min_new_tokens=self.min_thought_tokens,
                                score_temperature=self.logprob_temperature)
