"""Compute accounting: parameter counts, FLOPs per training step (NTP, GRPO, RLP), budget planning, CPT matching.

Conventions (stated once, used everywhere):
- **P in "6P"** is `ParamCount.matmul`: the weights that cost 2 FLOPs (a multiply and an add) per token in a forward
  pass: every attention and MLP projection plus the output projection (V x d), counted once whether or not it is
  tied to the input embedding. The input embedding is a table lookup (no FLOPs) and norms and biases are
  elementwise, so they are left out. With tied embeddings `matmul` = `total` minus norms and biases.
- **Passes**: forward = 2P per token, backward = 4P, forward + backward = 6P.
- **Attention** adds, per layer and forward pass, 4 * H * head_dim FLOPs for every (query, key) pair (2 for the
  scores Q K^T, 2 for the weighted sum of values). Causal attention over a row of T tokens has T(T+1)/2 pairs
  (the exact causal count, i.e. the "causal half" is taken; a row's packed documents are not separated: the row's
  full causal triangle is counted). Backward = twice the forward, like the dense part.
- **Equivalent tokens** (CONTROLLED.md's unit): FLOPs / 6P, the number of NTP tokens with the same dense cost.

The paper-level formulas (`grpo_equivalent_tokens`, `plan_mid_rl_budget`, `cpt_matched_tokens_paper`) use only the
dense 6PT terms, as the papers do; the `*_step_flops` functions add attention.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from rlpjax.config import ModelConfig


@dataclass(frozen=True)
class ParamCount:
    """Parameters of a decoder by role (integers)."""

    embedding: int
    """Input embedding table, V x d."""
    lm_head: int
    """Separate output projection V x d; 0 when tied to the embedding."""
    attention: int
    """q, k, v and o projection weights of all layers."""
    mlp: int
    """Gate, up and down projection weights of all layers (SwiGLU: 3 x d x intermediate per layer)."""
    norms: int
    """RMSNorm weights: two per block, the final norm, and the per-head q/k norms when qk_norm."""
    biases: int
    """q/k/v biases when qkv_bias."""
    output_projection: int
    """The output matmul's weights, V x d (the embedding when tied, lm_head otherwise)."""

    @property
    def total(self) -> int:
        """Every stored parameter, the tied matrix once."""
        return self.embedding + self.lm_head + self.attention + self.mlp + self.norms + self.biases

    @property
    def non_embedding(self) -> int:
        """All parameters except the embedding and output matrices (Kaplan et al.'s N)."""
        return self.attention + self.mlp + self.norms + self.biases

    @property
    def matmul(self) -> int:
        """P of "6P": the weights of the matmuls a token passes through (see the module docstring)."""
        return self.attention + self.mlp + self.output_projection


def count_params(model: ModelConfig) -> ParamCount:
    """Count the parameters of a ModelConfig decoder."""
    d, layers = model.hidden_size, model.num_layers
    q_width = model.num_heads * model.head_dim
    kv_width = model.num_kv_heads * model.head_dim
    table = model.vocab_size * d
    per_layer_attention = d * q_width + 2 * d * kv_width + q_width * d
    per_layer_norms = 2 * d + (2 * model.head_dim if model.qk_norm else 0)
    return ParamCount(
        embedding=table,
        lm_head=0 if model.tie_embeddings else table,
        attention=layers * per_layer_attention,
        mlp=layers * 3 * d * model.intermediate_size,
        norms=layers * per_layer_norms + d,
        biases=layers * (q_width + 2 * kv_width) if model.qkv_bias else 0,
        output_projection=table,
    )


@dataclass(frozen=True)
class FlopCount:
    """FLOPs of some work, split into the dense (parameter matmul) and attention (query-key pair) parts."""

    dense: float
    """2 FLOPs per matmul parameter per token and forward pass (x3 with the backward pass)."""
    attention: float
    """Scores and value mixing over (query, key) pairs."""

    @property
    def total(self) -> float:
        """dense + attention."""
        return self.dense + self.attention

    def __add__(self, other: FlopCount) -> FlopCount:
        return FlopCount(self.dense + other.dense, self.attention + other.attention)


def causal_pairs(seq_len: int) -> int:
    """(query, key) pairs of causal attention over seq_len tokens: T(T+1)/2."""
    return seq_len * (seq_len + 1) // 2


def pass_flops(model: ModelConfig, tokens: float, pairs: float, passes: float = 1.0) -> FlopCount:
    """FLOPs of `passes` forward-pass equivalents over `tokens` tokens and `pairs` attention pairs.

    passes = 1 for a forward pass, 3 for forward + backward.
    """
    per_pair = 4 * model.num_layers * model.num_heads * model.head_dim
    return FlopCount(dense=passes * 2 * count_params(model).matmul * tokens, attention=passes * per_pair * pairs)


def ntp_step_flops(model: ModelConfig, batch_rows: int, seq_len: int) -> FlopCount:
    """One NTP training step over batch_rows rows of seq_len tokens: 6PT + causal attention, forward + backward."""
    return pass_flops(model, batch_rows * seq_len, batch_rows * causal_pairs(seq_len), passes=3)


def ntp_flops_per_token(model: ModelConfig, seq_len: int) -> float:
    """FLOPs per trained NTP token at rows of seq_len tokens (6P plus the row's mean attention share)."""
    return ntp_step_flops(model, 1, seq_len).total / seq_len


def grpo_step_flops(
    model: ModelConfig, prompts: int, rollouts: int, seq_len: int, rollout_cost_factor: float = 1.0
) -> FlopCount:
    """One GRPO step, CONTROLLED.md's (8 + 2 gamma) P N r L plus attention.

    N = prompts, r = rollouts, L = seq_len (prompt + response tokens of one rollout). Per token: the rollout pass
    2 gamma P, the reference forward 2P, the policy forward + backward 6P. gamma = `rollout_cost_factor` is the cost
    of generating a token relative to one teacher-forced forward pass: gamma = 1 (a KV-cached decode step does one
    forward's matmuls) is the value for which the paper's equivalence T_RL = (5/3) N r L holds, since
    (8 + 2) / 6 = 5/3; gamma > 1 charges decoding overheads (e.g. recomputation, or a separate recomputation of the
    behaviour log-probs: gamma = 2).
    """
    tokens, pairs = prompts * rollouts * seq_len, prompts * rollouts * causal_pairs(seq_len)
    return pass_flops(model, tokens, pairs, passes=rollout_cost_factor + 1 + 3)


def grpo_equivalent_tokens(prompts: int, rollouts: int, seq_len: int, rollout_cost_factor: float = 1.0) -> float:
    """NTP-equivalent tokens of one GRPO step: (8 + 2 gamma) N r L / 6 (= (5/3) N r L at gamma = 1)."""
    return (8 + 2 * rollout_cost_factor) * prompts * rollouts * seq_len / 6


@dataclass(frozen=True)
class RLPStepFlops:
    """One RLP step by term (RLP.md, "Compute accounting"); each term is a FlopCount."""

    ema_pass: FlopCount
    """The EMA teacher's teacher-forced pass over the documents (S_ema): 2PD."""
    policy_prefix: FlopCount
    """The policy's encoding of the documents (the shared prefix cache): 2PD."""
    sampling: FlopCount
    """Decoding the K*G thoughts of every document: 2PN."""
    scoring: FlopCount
    """Teacher-forcing `</think> x_t .. x_{t+h-1}` after each thought (S_pred): 2P*K*G*(h+1) per document."""
    update: FlopCount
    """Recomputing the thought log-probs with gradient, forward + backward: 6P(N + D) (2PD for the prefix when its
    gradient is stopped)."""

    @property
    def total(self) -> FlopCount:
        """Sum of the five terms."""
        terms = [getattr(self, f.name) for f in dataclasses.fields(self)]
        return sum(terms[1:], terms[0])


def rlp_step_flops(
    model: ModelConfig,
    *,
    num_docs: int,
    doc_len: int,
    positions_per_doc: int,
    group_size: int,
    thought_len: int,
    horizon: int = 1,
    prefix_len: int | None = None,
    prefix_grad: bool = True,
    naive: bool = False,
) -> RLPStepFlops:
    """FLOPs of one RLP step: D = num_docs * doc_len document tokens, N = num_docs * K * G * thought_len thoughts.

    thought_len: thought tokens per branch (the cap for a bound, the measured mean for an estimate).
    prefix_len: context tokens before each thought, for the attention of thought and scoring tokens; default
        doc_len - 1 (the "last" position: an upper bound for every strategy).
    prefix_grad: the update back-propagates through the prefix (6PD) or stops it (2PD, stop_prefix_grad).
    naive: every branch pays for its own prefix, i.e. D -> K*G*D in the EMA, prefix and update terms (RLP.md's
        naive implementation; an upper bound of its cost, each branch re-encoding the whole document).
    Attention: documents are causal rows (doc_len(doc_len+1)/2 pairs); thought token u (1..L) sees prefix_len + u
    keys; scoring token j (1..h+1) sees prefix_len + L + j keys.
    """
    prefix_len = doc_len - 1 if prefix_len is None else prefix_len
    branches = num_docs * positions_per_doc * group_size
    prefix_copies = positions_per_doc * group_size if naive else 1
    doc_tokens = prefix_copies * num_docs * doc_len
    doc_pairs = prefix_copies * num_docs * causal_pairs(doc_len)
    thought_tokens = branches * thought_len
    thought_pairs = branches * (thought_len * prefix_len + causal_pairs(thought_len))
    score_tokens = branches * (horizon + 1)
    score_pairs = branches * ((horizon + 1) * (prefix_len + thought_len) + causal_pairs(horizon + 1))
    doc_update = pass_flops(model, doc_tokens, doc_pairs, passes=3 if prefix_grad else 1)
    return RLPStepFlops(
        ema_pass=pass_flops(model, doc_tokens, doc_pairs),
        policy_prefix=pass_flops(model, doc_tokens, doc_pairs),
        sampling=pass_flops(model, thought_tokens, thought_pairs),
        scoring=pass_flops(model, score_tokens, score_pairs),
        update=pass_flops(model, thought_tokens, thought_pairs, passes=3) + doc_update,
    )


@dataclass(frozen=True)
class BudgetPlan:
    """Steps of mid-training (NTP) and RL (GRPO) that share one compute budget in equivalent tokens."""

    total_tokens: float
    """The whole budget, in NTP-equivalent tokens."""
    mid_share: float
    """Fraction of the budget given to mid-training."""
    rl_share: float
    """Fraction of the budget given to RL."""
    mid_batch_tokens: int
    """Tokens per mid-training step."""
    rl_step_tokens: float
    """NTP-equivalent tokens per RL step, (8 + 2 gamma) N r L / 6."""
    mid_steps: int
    """Mid-training steps: floor(mid_share * total / mid_batch_tokens)."""
    rl_steps: int
    """RL steps: floor(rl_share * total / rl_step_tokens)."""

    @property
    def used_tokens(self) -> float:
        """Equivalent tokens the planned steps spend (<= total_tokens)."""
        return self.mid_steps * self.mid_batch_tokens + self.rl_steps * self.rl_step_tokens


def _floor_steps(tokens: float, per_step: float) -> int:
    """floor(tokens / per_step), forgiving the float rounding of an exact quotient (1599.9999999 -> 1600)."""
    return math.floor(tokens / per_step * (1 + 1e-12))


def plan_mid_rl_budget(
    total_tokens: float,
    split: tuple[float, float],
    *,
    mid_batch_tokens: int = 512 * 1024,
    rl_prompts: int = 1024,
    rl_rollouts: int = 6,
    rl_seq_len: int = 2048,
    rollout_cost_factor: float = 1.0,
) -> BudgetPlan:
    """Split a budget of NTP-equivalent tokens between mid-training and RL at `split` = (mid, rl) (normalised).

    Defaults are CONTROLLED.md's: 512K-token mid-training batches, RL steps of 1024 prompts x 6 rollouts x 2048
    tokens (= 21M equivalent tokens). Steps are rounded down so the plan never exceeds the budget.
    """
    mid, rl = split
    if mid < 0 or rl < 0 or mid + rl <= 0:
        raise ValueError(f"split must be two non-negative shares with a positive sum, got {split}")
    mid_share, rl_share = mid / (mid + rl), rl / (mid + rl)
    rl_step_tokens = grpo_equivalent_tokens(rl_prompts, rl_rollouts, rl_seq_len, rollout_cost_factor)
    return BudgetPlan(
        total_tokens=total_tokens,
        mid_share=mid_share,
        rl_share=rl_share,
        mid_batch_tokens=mid_batch_tokens,
        rl_step_tokens=rl_step_tokens,
        mid_steps=_floor_steps(mid_share * total_tokens, mid_batch_tokens),
        rl_steps=_floor_steps(rl_share * total_tokens, rl_step_tokens),
    )


def cpt_matched_tokens_paper(
    group_size: int, rollout_len: int, contexts_per_step: int, iterations: int, input_tokens: float
) -> float:
    """The RLP paper's FLOP-matched continued-pretraining budget: T_flop = G * l_seq * batch * iters + T_input.

    rollout_len is l_seq, the tokens of one sampled rollout; input_tokens is T_input, the documents' tokens.
    """
    return group_size * rollout_len * contexts_per_step * iterations + input_tokens


def cpt_matched_tokens_exact(
    model: ModelConfig, rlp_step: RLPStepFlops, iterations: int, cpt_seq_len: int
) -> float:
    """CPT tokens whose NTP FLOPs (dense + attention at rows of cpt_seq_len) equal `iterations` RLP steps."""
    return iterations * rlp_step.total.total / ntp_flops_per_token(model, cpt_seq_len)
