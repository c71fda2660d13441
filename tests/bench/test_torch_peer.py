"""The torch peer of `bench rlp` computes rlpjax's RLP step: its thought log-probs, S_pred and S_ema equal rlpjax's on
the same weights and thoughts, its sampled thoughts are counted and scored as rlpjax counts them, and its loss is the
objective's formula (NumPy from the equations; gradient against rlpjax's `rlp_loss`)."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from rlpjax.config import Config, ModelConfig
from rlpjax.config_io import ConfigError
from rlpjax.model.decoder import Decoder
from rlpjax.objectives.rlp import rlp_loss as jax_rlp_loss
from rlpjax.rlp.branches import branch_context, thought_logprobs
from rlpjax.rlp.rollout import SampledBranches, next_token_logprobs, score_branches
from rlpjax.rlp.settings import RolloutSettings
from rlpjax.sampling import SampleOutput

torch = pytest.importorskip("torch", reason="the torch peer needs torch")
pytest.importorskip("transformers", reason="the torch peer needs transformers")
from rlpjax.bench import torch_peer as peer  # noqa: E402  (after the skips: a broken peer must fail, not skip)

THINK, END_THINK, PAD = 64, 65, 0
# init_std 0.2 spreads the logits (std ~1 per token), so a misaligned position or target changes log-probs by far
# more than the tolerance.
MODEL = ModelConfig(family="llama", vocab_size=66, hidden_size=32, intermediate_size=64, num_layers=2, num_heads=4,
                    num_kv_heads=2, head_dim=8, max_seq_len=64, init_std=0.2)
RS = RolloutSettings(positions_per_doc=2, group_size=2, position_strategy="uniform", max_thought_tokens=4,
                     temperature=0.7, top_p=1.0, top_k=0, horizon=2, think_id=THINK, end_think_id=END_THINK,
                     pad_id=PAD)
DOCS = np.random.default_rng(0).integers(0, 64, size=(2, 32))
POSITIONS = np.array([[3, 31], [17, 1]])  # t = 31 = S - 1: the horizon's second token lies past the document
# float32 on both sides with different summation orders: log-probs of magnitude ~5 agree to ~1e-6; 1e-4 leaves
# room for any CPU's vector widths while staying far below the ~1 spread between tokens.
ATOL = 1e-4


@pytest.fixture(scope="module", params=["llama", "qwen3"])
def models(request):
    """(rlpjax decoder, transformers model with its weights); qwen3 with tied embeddings and q/k norms."""
    cfg = (MODEL if request.param == "llama" else
           dataclasses.replace(MODEL, family="qwen3", qk_norm=True, tie_embeddings=True))
    decoder = Decoder(cfg, rngs=nnx.Rngs(0))
    return decoder, peer.hf_model_from_decoder(cfg, decoder)


def _jax_batch() -> dict:
    B, S = DOCS.shape
    return {"tokens": jnp.asarray(DOCS, jnp.int32), "segment_ids": jnp.ones((B, S), jnp.int32),
            "positions": jnp.broadcast_to(jnp.arange(S, dtype=jnp.int32), (B, S)),
            "lengths": jnp.full((B,), S, jnp.int32)}


def _fixed_thoughts() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(tokens [8, 4], lengths, stopped): thoughts stopped early, stopped at the cap, cut at the cap."""
    tokens = np.array([[5, END_THINK, PAD, PAD], [7, 8, END_THINK, PAD], [1, 2, 3, 4], [9, 10, 11, END_THINK],
                       [12, END_THINK, PAD, PAD], [13, 14, 15, 16], [0, 63, END_THINK, PAD], [20, 21, 22, 23]])
    lengths = np.array([2, 3, 4, 4, 2, 4, 3, 4])
    return tokens, lengths, np.isin(np.arange(8), [0, 1, 3, 4, 6])


def _rlpjax_logprobs_and_scores(decoder, tokens_rl, lengths_r, stopped_r):
    """rlpjax's thought log-probs [R, L] and `score_branches` output for fixed thoughts (one jitted program)."""
    graphdef, state = nnx.split(decoder)
    rows, L = tokens_rl.shape

    @jax.jit
    def run(state, batch, positions, tokens_rl, lengths_r, stopped_r):
        model = nnx.merge(graphdef, state)
        logp_rl, _, _ = thought_logprobs(model, batch, positions, tokens_rl, RS)
        # The cache rlpjax's sampler would leave: the documents' prefix, then `<think> c_1 .. c_L`.
        cache, prefix, _ = branch_context(model, batch, jnp.repeat(positions.reshape(-1), RS.group_size), RS,
                                          own_slots=1 + L + 1 + RS.horizon)
        _, cache = model.extend(jnp.concatenate([jnp.full((rows, 1), THINK, jnp.int32), tokens_rl], 1), cache,
                                prefix=prefix)
        s_ema_bs = next_token_logprobs(model, model(batch["tokens"], return_hidden=True), batch["tokens"], RS)
        zeros = jnp.zeros((rows, L), jnp.float32)
        sampled = SampledBranches(s_ema_bs, positions, jnp.ones(positions.shape, bool),
                                  SampleOutput(tokens_rl, lengths_r, zeros, zeros, stopped_r), cache, prefix)
        return logp_rl, score_branches(model, batch, sampled, RS)

    return jax.device_get(run(state, _jax_batch(), jnp.asarray(POSITIONS, jnp.int32), jnp.asarray(tokens_rl, jnp.int32),
                              jnp.asarray(lengths_r, jnp.int32), jnp.asarray(stopped_r)))


def test_thought_logprobs_and_scores_equal_rlpjax(models):
    decoder, hf = models
    tokens_rl, lengths_r, stopped_r = _fixed_thoughts()
    rows, L = tokens_rl.shape
    expected_logp, expected = _rlpjax_logprobs_and_scores(decoder, tokens_rl, lengths_r, stopped_r)

    docs_t, positions_t = torch.as_tensor(DOCS), torch.as_tensor(POSITIONS)
    thoughts = peer.Thoughts(torch.as_tensor(tokens_rl), torch.as_tensor(lengths_r), torch.as_tensor(stopped_r),
                             torch.zeros(rows, L))
    with torch.no_grad():
        logp = peer.thought_logprobs(hf, docs_t, positions_t, thoughts.tokens_rl, RS).numpy()
        s_pred = peer.score_thoughts(hf, docs_t, positions_t, thoughts, RS).numpy()
        s_ema, horizon_mask = (x.numpy() for x in peer.teacher_scores(hf, docs_t, positions_t, RS.horizon))

    assert np.std(np.asarray(expected_logp)) > 0.3 and np.std(s_pred) > 0.3  # the check can see a misalignment
    np.testing.assert_allclose(logp, expected_logp, atol=ATOL)
    np.testing.assert_array_equal(horizon_mask, expected["horizon_mask_bkh"])
    assert not horizon_mask.all()
    mask_rh = np.repeat(horizon_mask.reshape(-1, RS.horizon), RS.group_size, axis=0)
    np.testing.assert_allclose(s_pred[mask_rh], np.asarray(expected["s_pred_bkgh"]).reshape(rows, -1)[mask_rh],
                               atol=ATOL)
    np.testing.assert_allclose(s_ema[horizon_mask], np.asarray(expected["s_ema_bkh"])[horizon_mask], atol=ATOL)


def test_sampled_thoughts_are_counted_and_scored_as_rlpjax_does(models):
    _, hf = models
    rs = dataclasses.replace(RS, group_size=8, max_thought_tokens=8)  # 32 rows: both stopped and cut thoughts
    docs_t, positions_t = torch.as_tensor(DOCS), torch.as_tensor(POSITIONS)
    torch.manual_seed(0)
    with torch.no_grad():
        thoughts = peer.sample_thoughts(hf, docs_t, positions_t, rs)
        recomputed = peer.thought_logprobs(hf, docs_t, positions_t, thoughts.tokens_rl, rs).numpy()
    tokens, lengths, stopped = (x.numpy() for x in (thoughts.tokens_rl, thoughts.lengths_r, thoughts.stopped_r))
    L = rs.max_thought_tokens
    assert tokens.shape == (32, L) and stopped.any() and not stopped.all()
    valid = np.arange(L)[None, :] < lengths[:, None]
    is_end = tokens == END_THINK
    np.testing.assert_array_equal(is_end.sum(1), stopped)  # one `</think>` in a stopped thought, none in a cut one
    np.testing.assert_array_equal(is_end[np.arange(32), lengths - 1], stopped)  # and it is the last counted token
    np.testing.assert_array_equal(lengths[~stopped], L)
    assert not is_end[:, :rs.min_thought_tokens].any() and (tokens[~valid] == PAD).all()
    # The sampling-time log-probs (left-padded prompts, KV cache) equal a teacher-forced recomputation (right-padded
    # full sequences): the ratio is 1 before the update, as in rlpjax.
    np.testing.assert_allclose(thoughts.logp_old_rl.numpy()[valid], recomputed[valid], atol=ATOL)
    assert (thoughts.logp_old_rl.numpy()[~valid] == 0).all()


def _loss_inputs(seed: int = 0):
    """Random loss inputs: 3 groups of G = 4 thoughts, L = 5, h = 2; ratios on both sides of the clip range."""
    rng = np.random.default_rng(seed)
    rows, L, h = 12, 5, 2
    logp_old = -rng.uniform(0.5, 3.0, (rows, L)).astype(np.float32)
    logp_new = (logp_old + rng.normal(0, 0.4, (rows, L))).astype(np.float32)
    lengths = rng.integers(1, L + 1, rows)
    mask = np.arange(L)[None, :] < lengths[:, None]
    s_pred = -rng.uniform(0, 4, (rows, h)).astype(np.float32)
    s_ema = np.repeat(-rng.uniform(0, 4, (3, h)), 4, axis=0).astype(np.float32)
    horizon_mask = np.repeat(np.array([[True, True], [True, False], [True, True]]), 4, axis=0)
    return logp_new, logp_old, mask, s_pred, s_ema, horizon_mask


def _numpy_loss(logp_new, logp_old, mask, s_pred, s_ema, horizon_mask, *, G, gamma, eps_low, eps_high) -> float:
    """The loss of spec/RLP.md steps 3-5, one thought at a time."""
    rewards = np.array([sum(gamma ** j * (s_pred[r, j] - s_ema[r, j]) for j in range(s_pred.shape[1])
                            if horizon_mask[r, j]) for r in range(len(s_pred))])
    per_thought = []
    for r in range(len(rewards)):
        group = rewards[r // G * G:(r // G + 1) * G]
        advantage = G / (G - 1) * (rewards[r] - group.mean())
        terms = [min(rho * advantage, np.clip(rho, 1 - eps_low, 1 + eps_high) * advantage)
                 for rho in np.exp(logp_new[r] - logp_old[r])[mask[r]]]
        per_thought.append(-np.mean(terms))
    return float(np.mean(per_thought))


def test_loss_is_the_rlp_formula_and_its_gradient_is_rlpjaxs():
    logp_new, logp_old, mask, s_pred, s_ema, horizon_mask = _loss_inputs()
    settings = dict(gamma=0.9, eps_low=0.2, eps_high=0.28)
    ratio = np.exp(logp_new - logp_old)[mask]
    assert (ratio < 0.8).any() and (ratio > 1.28).any()  # both clips are exercised

    logp_new_t = torch.tensor(logp_new, requires_grad=True)
    loss = peer.rlp_loss(logp_new_t, torch.tensor(logp_old), torch.tensor(mask), torch.tensor(s_pred),
                         torch.tensor(s_ema), torch.tensor(horizon_mask), group_size=4, **settings)
    loss.backward()
    # float32 sums of a dozen terms of magnitude ~1: 1e-5 is ~100 ulps.
    np.testing.assert_allclose(loss.item(), _numpy_loss(logp_new, logp_old, mask, s_pred, s_ema, horizon_mask, G=4,
                                                        **settings), atol=1e-5)

    def jax_loss(new_rl):
        to_xgl = lambda x: jnp.asarray(x).reshape(3, 4, *x.shape[1:])  # noqa: E731
        return jax_rlp_loss(to_xgl(new_rl), to_xgl(logp_old), to_xgl(mask), to_xgl(s_pred), jnp.asarray(s_ema[::4]),
                            horizon_mask_xh=jnp.asarray(horizon_mask[::4]), **settings)[0]

    jax_value, jax_grad = jax.jit(jax.value_and_grad(jax_loss))(jnp.asarray(logp_new))
    np.testing.assert_allclose(loss.item(), float(jax_value), atol=1e-5)
    np.testing.assert_allclose(logp_new_t.grad.numpy(), np.asarray(jax_grad), atol=1e-6)


def test_ema_update_is_tau_phi_plus_one_minus_tau_theta():
    teacher, policy = torch.nn.Linear(3, 2), torch.nn.Linear(3, 2)
    before = [p.detach().clone() for p in teacher.parameters()]
    peer.ema_update_(teacher, policy, 0.9)
    for phi, phi0, theta in zip(teacher.parameters(), before, policy.parameters()):
        np.testing.assert_allclose(phi.detach().numpy(), 0.9 * phi0.numpy() + 0.1 * theta.detach().numpy(),
                                   rtol=1e-6)


def test_timed_step_reports_rlpjax_figures():
    cfg, threads = Config(model=MODEL), torch.get_num_threads()
    out = peer.time_torch_rlp_step(cfg, RS, DOCS, POSITIONS, repeats=1, threads=1)
    assert torch.get_num_threads() == threads
    rows = POSITIONS.size * RS.group_size
    assert rows <= out["thought_tokens"] <= rows * RS.max_thought_tokens
    assert 1 <= out["decode_steps"] <= RS.max_thought_tokens and out["threads"] == 1
    for key in ("teacher_s", "sample_s", "score_s", "update_s", "ms_per_decode_step"):
        assert out[key] > 0, key
    assert out["rollout_s"] == pytest.approx(out["teacher_s"] + out["sample_s"] + out["score_s"])
    assert out["step_s"] == pytest.approx(out["rollout_s"] + out["update_s"])
    assert out["thought_tokens_per_s"] == pytest.approx(out["thought_tokens"] / out["step_s"])


def test_unsupported_options_are_one_sentence_errors():
    cfg = Config(model=MODEL)
    with_kl = dataclasses.replace(cfg.rlp, pg=dataclasses.replace(cfg.rlp.pg, kl_beta=1e-3))
    with pytest.raises(ConfigError, match="rlp.pg.kl_beta"):
        peer.time_torch_rlp_step(cfg.replace(rlp=with_kl), RS, DOCS, POSITIONS)
    with pytest.raises(ValueError, match="positions must lie in 1 .. 31"):
        peer.time_torch_rlp_step(cfg, RS, DOCS, np.array([[0, 3], [4, 5]]))
