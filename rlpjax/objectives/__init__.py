"""Objectives: pure functions from log-probs, rewards and masks to (loss, metrics). No model code, no I/O.

Layout (one job per module):
- `policy_gradient.py`  what RLP and GRPO share: group advantages (leave-one-out or plain, optional std
                        normalisation), the clipped surrogate with separate eps_low / eps_high, the k3 KL, token-mean
                        and sequence-mean aggregation, group reward metrics.
- `rlp.py`              RLP: information-gain rewards over a horizon, leave-one-out advantages, the length-normalised
                        loss over thoughts (../shared/spec/RLP.md).
- `grpo.py`             GRPO with verifier rewards (../shared/spec/CONTROLLED.md).
- `ntp.py`              next-token loss over packed rows with segment ids, optional z-loss and loss mask.
- `logprobs.py`         per-token log-probs, log-partitions and entropies from logits, in float32.
- `positions.py`        where RLP thinks: K positions per document by strategy.

Every function compiles under `jax.jit`; strings and sizes (strategy, aggregation, K) are static arguments.
Compute accounting (FLOPs, parameter counts, budget planning) lives in `rlpjax/compute.py`.
"""

from rlpjax.objectives.grpo import grpo_advantages, grpo_loss
from rlpjax.objectives.logprobs import target_logprobs, token_entropy
from rlpjax.objectives.ntp import ntp_loss
from rlpjax.objectives.positions import select_positions
from rlpjax.objectives.rlp import information_gain_rewards, leave_one_out_advantages, rlp_loss

__all__ = [
    "grpo_advantages",
    "grpo_loss",
    "information_gain_rewards",
    "leave_one_out_advantages",
    "ntp_loss",
    "rlp_loss",
    "select_positions",
    "target_logprobs",
    "token_entropy",
]
