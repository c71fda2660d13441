"""Objectives: pure functions from log-probs, rewards and masks to (loss, metrics). No model code, no I/O.

Layout (one job per module):
- `advantages.py`       group advantage estimators by name: "group_mean" (GRPO), "leave_one_out" (RLP, RLOO), each
                        optionally divided by the group's std.
- `aggregation.py`      token aggregations by name: "token_mean" (global over the batch, DAPO), "seq_mean" (RLP),
                        "constant_length" (Dr.GRPO); each a ratio whose denominator weighs gradient accumulation.
- `policy_gradient.py`  what RLP and GRPO share: surrogates by name ("ppo_clip": token ratio; "gspo": sequence ratio)
                        with separate eps_low / eps_high, the k3 KL, the entropy bonus, group reward metrics.
- `rlp.py`              RLP: information-gain rewards over a horizon and the RLP loss over thoughts
                        (../shared/spec/RLP.md).
- `ntp.py`              next-token loss over packed rows with segment ids, optional z-loss and loss mask.
- `logprobs.py`         per-token log-probs, log-partitions and entropies from logits, in float32.

Every function compiles under `jax.jit`; strings and sizes (aggregation, policy loss) are static arguments.
Compute accounting (FLOPs, parameter counts, budget planning) lives in `rlpjax/compute.py`.
"""

from rlpjax.objectives.advantages import ADVANTAGES, group_advantages
from rlpjax.objectives.aggregation import AGGREGATIONS, aggregate_tokens
from rlpjax.objectives.logprobs import target_logprobs, token_entropy
from rlpjax.objectives.ntp import ntp_loss
from rlpjax.objectives.policy_gradient import POLICY_LOSSES, policy_gradient_loss
from rlpjax.objectives.rlp import information_gain_rewards, rlp_loss

__all__ = [
    "ADVANTAGES",
    "AGGREGATIONS",
    "POLICY_LOSSES",
    "aggregate_tokens",
    "group_advantages",
    "information_gain_rewards",
    "policy_gradient_loss",
    "ntp_loss",
    "rlp_loss",
    "target_logprobs",
    "token_entropy",
]
