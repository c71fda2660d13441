"""Compute accounting against published figures, the papers' tables and brute-force counts."""

import dataclasses

import numpy as np
import pytest

from rlpjax.compute import (
    count_params,
    cpt_matched_tokens_exact,
    cpt_matched_tokens_paper,
    grpo_equivalent_tokens,
    grpo_step_flops,
    ntp_flops_per_token,
    ntp_step_flops,
    plan_mid_rl_budget,
    rlp_step_flops,
)
from rlpjax.config import ModelConfig

TINY = ModelConfig(vocab_size=50, hidden_size=8, intermediate_size=12, num_layers=2, num_heads=4, num_kv_heads=2,
                   head_dim=3, qk_norm=True, qkv_bias=True, tie_embeddings=False)
# CONTROLLED.md's model: Qwen2.5-style, 12 x 768, FFN 3072, 12 heads of 64, 2 KV heads, vocab 2200, tied.
CONTROLLED = ModelConfig(family="qwen2", vocab_size=2200, hidden_size=768, intermediate_size=3072, num_layers=12,
                         num_heads=12, num_kv_heads=2, head_dim=64, qkv_bias=True, tie_embeddings=True)
# Qwen3-1.7B-Base (model card: 1.7B parameters, 1.4B non-embedding).
QWEN3_1P7B = ModelConfig(vocab_size=151936, hidden_size=2048, intermediate_size=6144, num_layers=28, num_heads=16,
                         num_kv_heads=8, head_dim=128, qk_norm=True, tie_embeddings=True)


def tensor_shapes(m):
    """Every tensor of the decoder, listed by hand."""
    shapes = [(m.vocab_size, m.hidden_size), (m.hidden_size,)]
    if not m.tie_embeddings:
        shapes.append((m.hidden_size, m.vocab_size))
    for _ in range(m.num_layers):
        q, kv = m.num_heads * m.head_dim, m.num_kv_heads * m.head_dim
        shapes += [(m.hidden_size, q), (m.hidden_size, kv), (m.hidden_size, kv), (q, m.hidden_size),
                   (m.hidden_size, m.intermediate_size), (m.hidden_size, m.intermediate_size),
                   (m.intermediate_size, m.hidden_size), (m.hidden_size,), (m.hidden_size,)]
        if m.qkv_bias:
            shapes += [(q,), (kv,), (kv,)]
        if m.qk_norm:
            shapes += [(m.head_dim,), (m.head_dim,)]
    return shapes


@pytest.mark.parametrize("model", [TINY, CONTROLLED, QWEN3_1P7B])
def test_param_count_equals_the_sum_of_tensor_sizes(model):
    assert count_params(model).total == sum(int(np.prod(s)) for s in tensor_shapes(model))


def test_param_counts_match_published_sizes():
    controlled, qwen = count_params(CONTROLLED), count_params(QWEN3_1P7B)
    assert 95e6 < controlled.total < 110e6  # "about 100M parameters"
    assert round(qwen.total / 1e8) == 17 and round(qwen.non_embedding / 1e8) == 14


def test_tied_and_untied_differ_only_in_storage():
    untied = count_params(TINY)
    tied = count_params(dataclasses.replace(TINY, tie_embeddings=True))
    assert untied.total - tied.total == TINY.vocab_size * TINY.hidden_size
    assert untied.matmul == tied.matmul  # the output matmul costs the same either way


def test_ntp_step_flops_is_6pt_plus_causal_attention():
    rows, seq = 3, 17
    flops = ntp_step_flops(TINY, rows, seq)
    p = count_params(TINY).matmul
    pairs = rows * sum(i + 1 for i in range(seq))  # query i sees keys 0..i
    assert flops.dense == 6 * p * rows * seq
    assert flops.attention == 3 * 4 * TINY.num_layers * TINY.num_heads * TINY.head_dim * pairs
    assert ntp_flops_per_token(TINY, seq) == pytest.approx(flops.total / (rows * seq))


def test_one_rl_step_is_21m_tokens():
    tokens = grpo_equivalent_tokens(1024, 6, 2048)
    assert round(tokens / 1e6) == 21
    assert tokens == pytest.approx(5 / 3 * 1024 * 6 * 2048)
    flops = grpo_step_flops(CONTROLLED, 1024, 6, 2048)
    assert flops.dense / (6 * count_params(CONTROLLED).matmul) == pytest.approx(tokens)
    heavier = grpo_step_flops(CONTROLLED, 1024, 6, 2048, rollout_cost_factor=2.0)
    assert heavier.dense == pytest.approx(flops.dense * 12 / 10)  # (8 + 2*2) / (8 + 2*1)


BUDGET = 2000 * 512 * 1024  # 1,048,576,000 = the paper's "1.05B tokens"


@pytest.mark.parametrize("split, mid_steps, rl_steps", [
    ((1.0, 0.0), 2000, 0),
    ((0.8, 0.2), 1600, 10),
    ((0.5, 0.5), 1000, 25),
    ((0.2, 0.8), 400, 40),
    ((0.0, 1.0), 0, 50),
])
def test_planner_reproduces_the_budget_table(split, mid_steps, rl_steps):
    assert abs(BUDGET - 1.05e9) / 1.05e9 < 2e-3
    plan = plan_mid_rl_budget(BUDGET, split)
    assert (plan.mid_steps, plan.rl_steps) == (mid_steps, rl_steps)
    assert plan.used_tokens <= BUDGET * (1 + 1e-9)


def test_planner_rounds_down():
    plan = plan_mid_rl_budget(1.05e9, (1, 0))
    assert plan.mid_steps == int(1.05e9 // (512 * 1024))


def test_rlp_step_terms_follow_the_spec():
    docs, doc_len, k, g, thought, h, prefix = 2, 11, 3, 4, 5, 2, 7
    p = count_params(TINY).matmul
    per_pair = 4 * TINY.num_layers * TINY.num_heads * TINY.head_dim
    d, n, score = docs * doc_len, docs * k * g * thought, docs * k * g * (h + 1)
    step = rlp_step_flops(TINY, num_docs=docs, doc_len=doc_len, positions_per_doc=k, group_size=g,
                          thought_len=thought, horizon=h, prefix_len=prefix)
    assert (step.ema_pass.dense, step.policy_prefix.dense) == (2 * p * d, 2 * p * d)
    assert step.sampling.dense == 2 * p * n
    assert step.scoring.dense == 2 * p * score
    assert step.update.dense == 6 * p * (n + d)
    doc_pairs = docs * sum(i + 1 for i in range(doc_len))
    thought_pairs = docs * k * g * sum(prefix + u for u in range(1, thought + 1))
    score_pairs = docs * k * g * sum(prefix + thought + j for j in range(1, h + 2))
    assert step.ema_pass.attention == per_pair * doc_pairs
    assert step.sampling.attention == per_pair * thought_pairs
    assert step.scoring.attention == per_pair * score_pairs
    assert step.update.attention == 3 * per_pair * (thought_pairs + doc_pairs)
    assert step.total.total == pytest.approx(sum(t.total for t in (step.ema_pass, step.policy_prefix, step.sampling,
                                                                      step.scoring, step.update)))

    naive = rlp_step_flops(TINY, num_docs=docs, doc_len=doc_len, positions_per_doc=k, group_size=g,
                           thought_len=thought, horizon=h, prefix_len=prefix, naive=True)
    assert naive.ema_pass.dense == 2 * p * k * g * d
    assert naive.update.dense == 6 * p * (n + k * g * d)
    assert naive.sampling == step.sampling

    stopped = rlp_step_flops(TINY, num_docs=docs, doc_len=doc_len, positions_per_doc=k, group_size=g,
                             thought_len=thought, horizon=h, prefix_len=prefix, prefix_grad=False)
    assert stopped.update.dense == 6 * p * n + 2 * p * d


def test_cpt_matching():
    assert cpt_matched_tokens_paper(16, 2048, 512, 200, 170e6) == 16 * 2048 * 512 * 200 + 170e6
    step = rlp_step_flops(CONTROLLED, num_docs=8, doc_len=2048, positions_per_doc=1, group_size=16,
                          thought_len=256)
    tokens = cpt_matched_tokens_exact(CONTROLLED, step, 200, 2048)
    assert tokens * ntp_flops_per_token(CONTROLLED, 2048) == pytest.approx(200 * step.total.total)
    # Dense-only sanity: RLP's dense work in 6P units is (10D + 8N + 2S) / 6 tokens per step.
    d, n, s = 8 * 2048, 8 * 16 * 256, 8 * 16 * 2
    assert step.total.dense / (6 * count_params(CONTROLLED).matmul) == pytest.approx((10 * d + 8 * n + 2 * s) / 6)
