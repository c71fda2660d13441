"""The RLP step in PyTorch + transformers, in the layout of the public PyTorch prototypes (`bench rlp --peer torch`).

The policy is a transformers `LlamaForCausalLM` / `Qwen2ForCausalLM` / `Qwen3ForCausalLM` (by `cfg.model.family`)
holding the weights of the rlpjax `Decoder(cfg.model, rngs=nnx.Rngs(cfg.run.seed))` the JAX benchmark times
(converted in memory by `model/hf.py`), in float32 and eval mode (no dropout); the EMA teacher is a deep copy.
One step, each stage timed:

1. teacher: one forward of the EMA teacher over the documents -> S_ema of the scored tokens;
2. sample: every (document, position t, thought g) is its own row `x_<t <think>`, left-padded, and
   `model.generate` samples the thought: the prefix is re-encoded per branch, the cost rlpjax's shared layout removes;
3. score: a teacher-forced forward of `x_<t <think> c </think> x_t .. x_{t+h-1}` per row -> S_pred, no gradient;
4. update: a forward over `x_<t <think> c` with gradient -> thought log-probs, rlpjax's clipped loss, backward,
   `torch.optim.AdamW` (optax.adamw's defaults), then phi <- tau phi + (1 - tau) theta.

Rows are grouped as rlpjax groups them (row r: document r // (K*G), position slot (r // G) % K) and every
distribution is rlpjax's (`RolloutSettings`): thoughts are drawn at the sampling temperature / top-k / top-p with
`</think>` banned before `rs.min_thought_tokens`; old and new thought log-probs are under softmax(logits /
`rs.logprob_temperature`) with the same ban; a sampled `</think>` counts in a thought's length and a cut thought
gets `</think>` appended before scoring. Teacher-forced passes are right-padded (causal attention never reads the
padding after a row) and project only the positions they read. Options the peer does not implement raise a
ConfigError. Shapes: `b` documents, `s` document tokens, `k` positions, `r = b*k*g` branch rows, `l` thought tokens,
`h` horizon, `n` / `t` a row's tail / padded length, `v` vocabulary.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import os
import time

import numpy as np
import torch
import transformers
from flax import nnx

from rlpjax.config import Config, ModelConfig, RLPConfig
from rlpjax.config_io import ConfigError
from rlpjax.model.decoder import Decoder
from rlpjax.model.hf import hf_tensors, config_to_hf
from rlpjax.rlp.settings import RolloutSettings

UNSUPPORTED = {"pg.kl_beta": 0.0, "ntp_weight": 0.0, "pg.normalize_adv_std": False, "stop_prefix_grad": False,
               "pg.ppo_epochs": 1, "pg.minibatches": 1}
"""RLPConfig fields (dotted below `rlp`) the torch peer implements only at these values (the paper's recipe and
rlpjax's defaults)."""


@dataclasses.dataclass
class Thoughts:
    """The R sampled thoughts, as rlpjax's `SampleOutput` counts them."""

    tokens_rl: torch.Tensor
    """[R, L] int64 thought tokens c_1 .. c_L; `rs.pad_id` past each row's length."""
    lengths_r: torch.Tensor
    """[R] int64 tokens per thought, a sampled `</think>` included."""
    stopped_r: torch.Tensor
    """[R] bool: the thought ended with `</think>` (False: cut at L)."""
    logp_old_rl: torch.Tensor
    """[R, L] float32 sampling-time log pi_old(c_u | ...) at `rs.logprob_temperature`; 0 past each length."""


def hf_model_from_decoder(cfg: ModelConfig, decoder) -> torch.nn.Module:
    """A transformers causal LM (float32, eval mode) with the weights of the rlpjax `decoder`, built in memory."""
    hf_config = config_to_hf(cfg)
    config = transformers.AutoConfig.for_model(hf_config.pop("model_type"), **hf_config)
    model = transformers.AutoModelForCausalLM.from_config(config, dtype=torch.float32, attn_implementation="sdpa")
    state = {name: torch.from_numpy(np.array(t, np.float32)) for name, t in hf_tensors(cfg, decoder).items()}
    missing, unexpected = model.load_state_dict(state, strict=False)
    tied = {"lm_head.weight"} if cfg.tie_embeddings else set()
    if unexpected or set(missing) - tied:
        raise ValueError(f"transformers' {type(model).__name__} does not match model/hf.py's tensors: "
                         f"missing {sorted(set(missing) - tied)}, unexpected {sorted(unexpected)}")
    return model.eval()


def _token_logprobs(logits_xv: torch.Tensor, targets_x: torch.Tensor, *, temperature: float = 1.0,
                    banned_x: torch.Tensor | None = None, banned_id: int = -1) -> torch.Tensor:
    """log softmax(logits / temperature)[target] in float32, token `banned_id` at -inf where `banned_x` is True."""
    scaled_xv = logits_xv.float() / temperature
    if banned_x is not None:
        banned_xv = banned_x[..., None] & (torch.arange(scaled_xv.shape[-1]) == banned_id)
        scaled_xv = scaled_xv.masked_fill(banned_xv, -torch.inf)
    target_x = scaled_xv.gather(-1, targets_x[..., None]).squeeze(-1)
    return target_x - torch.logsumexp(scaled_xv, dim=-1)


def _rows(positions_bk: torch.Tensor, group_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(document index [R], prefix length t [R]) of every branch row, rows grouped as rlpjax groups them."""
    B, K = positions_bk.shape
    return torch.arange(B * K * group_size) // (K * group_size), positions_bk.reshape(-1).repeat_interleave(group_size)


def _branch_logits(model, documents_bs: torch.Tensor, positions_bk: torch.Tensor, tail_rn: torch.Tensor,
                   tail_len_r: torch.Tensor, read_rj: torch.Tensor, rs: RolloutSettings) -> torch.Tensor:
    """Logits [R, J, V] of a teacher-forced pass over each row's `x_<t` then its first tail_len_r tokens of tail_rn.

    The rows are right-padded to the longest; read_rj are tail offsets and entry j holds the logits after the tail
    token at offset read_rj[r, j] (the prediction of the token that follows it). Only those positions are projected.
    """
    doc_r, t_r = _rows(positions_bk, rs.group_size)
    S, N = documents_bs.shape[1], tail_rn.shape[1]
    col_t = torch.arange(int((t_r + tail_len_r).max()))
    from_doc_rt = documents_bs[doc_r[:, None], col_t.clamp(max=S - 1)[None, :]]
    from_tail_rt = tail_rn.gather(1, (col_t[None, :] - t_r[:, None]).clamp(0, N - 1))
    tokens_rt = torch.where(col_t < t_r[:, None], from_doc_rt, from_tail_rt)
    tokens_rt = torch.where(col_t < (t_r + tail_len_r)[:, None], tokens_rt, rs.pad_id)
    hidden_rtd = model.model(input_ids=tokens_rt, use_cache=False).last_hidden_state
    read_index_rj = t_r[:, None] + read_rj
    hidden_rjd = hidden_rtd.gather(1, read_index_rj[..., None].expand(-1, -1, hidden_rtd.shape[-1]))
    return model.lm_head(hidden_rjd)


def teacher_scores(teacher, documents_bs: torch.Tensor, positions_bk: torch.Tensor,
                   horizon: int) -> tuple[torch.Tensor, torch.Tensor]:
    """S_ema_j = log p_phi(x_{t+j} | x_<{t+j}) for j < h at every chosen t, from one pass over the documents.

    Returns (s_ema_bkh float32, horizon_mask_bkh bool: False where t + j is past the document, its score garbage).
    """
    B, S = documents_bs.shape
    target_bkh = positions_bk[..., None] + torch.arange(horizon)
    mask_bkh = target_bkh < S
    target_bkh = target_bkh.clamp(max=S - 1)
    hidden_bsd = teacher.model(input_ids=documents_bs, use_cache=False).last_hidden_state
    doc_b11 = torch.arange(B)[:, None, None]
    logits_bkhv = teacher.lm_head(hidden_bsd[doc_b11, target_bkh - 1])
    return _token_logprobs(logits_bkhv, documents_bs[doc_b11, target_bkh]), mask_bkh


def sample_thoughts(policy, documents_bs: torch.Tensor, positions_bk: torch.Tensor, rs: RolloutSettings) -> Thoughts:
    """G thoughts per position: every row `x_<t <think>` left-padded and sampled by `policy.generate` (naive layout)."""
    doc_r, t_r = _rows(positions_bk, rs.group_size)
    P, L = int(t_r.max()) + 1, rs.max_thought_tokens
    source_rp = torch.arange(P)[None, :] - (P - 1 - t_r)[:, None]  # document index of each prompt slot (< 0: pad)
    prompt_rp = torch.where(source_rp < 0, rs.pad_id, documents_bs[doc_r[:, None], source_rp.clamp(min=0)])
    prompt_rp[:, -1] = rs.think_id
    sampling = (dict(do_sample=True, temperature=rs.temperature, top_p=rs.top_p, top_k=rs.top_k)
                if rs.temperature > 0 else dict(do_sample=False))
    out = policy.generate(input_ids=prompt_rp, attention_mask=(source_rp >= 0).long(), max_new_tokens=L,
                          min_new_tokens=rs.min_thought_tokens, eos_token_id=rs.end_think_id, pad_token_id=rs.pad_id,
                          output_logits=True, return_dict_in_generate=True, **sampling)
    generated_rn = out.sequences[:, P:]
    n = generated_rn.shape[1]  # < L when every row stopped early
    is_stop_rn = generated_rn == rs.end_think_id
    stopped_r = is_stop_rn.any(dim=1)
    lengths_r = torch.where(stopped_r, is_stop_rn.int().argmax(dim=1) + 1, n)
    valid_rn = torch.arange(n)[None, :] < lengths_r[:, None]
    logp_rn = _token_logprobs(torch.stack(out.logits, dim=1), generated_rn, temperature=rs.logprob_temperature,
                              banned_x=(torch.arange(n) < rs.min_thought_tokens)[None, :].expand(len(t_r), n),
                              banned_id=rs.end_think_id)
    pad = (0, L - n)
    return Thoughts(tokens_rl=torch.nn.functional.pad(torch.where(valid_rn, generated_rn, rs.pad_id), pad,
                                                      value=rs.pad_id),
                    lengths_r=lengths_r, stopped_r=stopped_r,
                    logp_old_rl=torch.nn.functional.pad(torch.where(valid_rn, logp_rn, 0.0), pad))


def thought_logprobs(model, documents_bs: torch.Tensor, positions_bk: torch.Tensor, thoughts_rl: torch.Tensor,
                     rs: RolloutSettings) -> torch.Tensor:
    """[R, L] teacher-forced log pi(c_u | x_<t, <think>, c_<u) at `rs.logprob_temperature` (with gradient if enabled).

    One forward per row over `x_<t <think> c_1 .. c_{L-1}`, `</think>` banned before `rs.min_thought_tokens` as the
    sampler bans it: rlpjax's `branches.thought_logprobs` in the naive layout.
    """
    rows, L = thoughts_rl.shape
    tail_rl = torch.cat([torch.full((rows, 1), rs.think_id), thoughts_rl[:, :-1]], dim=1)
    offsets_rl = torch.arange(L).expand(rows, L)
    logits_rlv = _branch_logits(model, documents_bs, positions_bk, tail_rl, torch.full((rows,), L), offsets_rl, rs)
    return _token_logprobs(logits_rlv, thoughts_rl, temperature=rs.logprob_temperature,
                           banned_x=offsets_rl < rs.min_thought_tokens, banned_id=rs.end_think_id)


def score_thoughts(model, documents_bs: torch.Tensor, positions_bk: torch.Tensor, thoughts: Thoughts,
                   rs: RolloutSettings) -> torch.Tensor:
    """S_pred [R, h]: log p(x_{t+j} | x_<t, <think> c </think>, x_t .. x_{t+j-1}) per row, teacher-forced.

    c is the thought without a sampled `</think>` (which is re-appended, so cut and finished thoughts are scored
    alike, as rlpjax's `score_branches` does). Targets past the document end are clamped to its last token (their
    terms are masked by `teacher_scores`' horizon mask).
    """
    doc_r, t_r = _rows(positions_bk, rs.group_size)
    rows, L = thoughts.tokens_rl.shape
    S, h = documents_bs.shape[1], rs.horizon
    c_len_r = thoughts.lengths_r - thoughts.stopped_r.long()
    target_rh = documents_bs[doc_r[:, None], (t_r[:, None] + torch.arange(h)).clamp(max=S - 1)]
    # tail: <think> c_1 .. c_n </think> x_t .. x_{t+h-2}, padded to N = L + h + 1 columns
    col_n = torch.arange(L + h + 1)[None, :]
    from_thought_rn = thoughts.tokens_rl.gather(1, (col_n - 1).clamp(0, L - 1).expand(rows, -1))
    from_target_rn = target_rh.gather(1, (col_n - c_len_r[:, None] - 2).clamp(0, h - 1))
    tail_rn = torch.where(col_n <= c_len_r[:, None], from_thought_rn, from_target_rn)
    tail_rn = torch.where(col_n == c_len_r[:, None] + 1, rs.end_think_id, tail_rn)
    tail_rn[:, 0] = rs.think_id
    read_rh = c_len_r[:, None] + 1 + torch.arange(h)
    logits_rhv = _branch_logits(model, documents_bs, positions_bk, tail_rn, c_len_r + 1 + h, read_rh, rs)
    return _token_logprobs(logits_rhv, target_rh)


def rlp_loss(logp_new_rl: torch.Tensor, logp_old_rl: torch.Tensor, thought_mask_rl: torch.Tensor,
             s_pred_rh: torch.Tensor, s_ema_rh: torch.Tensor, horizon_mask_rh: torch.Tensor, *, group_size: int,
             gamma: float, eps_low: float, eps_high: float) -> torch.Tensor:
    """rlpjax's RLP loss (objectives/rlp.py) on R = X*G rows grouped by G (all positions valid).

    r_i = sum_{j<h, mask} gamma^j (S_pred_ij - S_ema_ij); A_i = G/(G-1) (r_i - mean_group r); per token
    rho_u = exp(logp_new_u - logp_old_u); loss = mean over thoughts of -(1/|c_i|) sum_u min(rho_u A_i,
    clip(rho_u, 1 - eps_low, 1 + eps_high) A_i). Only logp_new carries gradient.
    """
    discount_h = gamma ** torch.arange(s_pred_rh.shape[1], dtype=torch.float32)
    gain_rh = torch.where(horizon_mask_rh, (s_pred_rh - s_ema_rh) * discount_h, 0.0)
    rewards_xg = gain_rh.sum(dim=1).reshape(-1, group_size).detach()
    advantages_xg = (rewards_xg - rewards_xg.mean(dim=1, keepdim=True)) * (group_size / (group_size - 1))
    advantages_r1 = advantages_xg.reshape(-1, 1)
    ratio_rl = torch.exp(torch.where(thought_mask_rl, logp_new_rl - logp_old_rl.detach(), 0.0))
    clipped_rl = ratio_rl.clamp(1.0 - eps_low, 1.0 + eps_high)
    pg_rl = -torch.minimum(ratio_rl * advantages_r1, clipped_rl * advantages_r1)
    lengths_r = thought_mask_rl.sum(dim=1)
    per_thought_r = torch.where(thought_mask_rl, pg_rl, 0.0).sum(dim=1) / lengths_r.clamp(min=1)
    return per_thought_r[lengths_r > 0].mean()


@torch.no_grad()
def ema_update_(teacher: torch.nn.Module, policy: torch.nn.Module, tau: float) -> None:
    """phi <- tau * phi + (1 - tau) * theta, in place, parameter by parameter."""
    for phi, theta in zip(teacher.parameters(), policy.parameters(), strict=True):
        phi.lerp_(theta, 1.0 - tau)


def rlp_step(policy, teacher, optimizer, documents_bs: torch.Tensor, positions_bk: torch.Tensor,
             rs: RolloutSettings, rlp: RLPConfig) -> dict:
    """One RLP step (module docstring); returns each stage's seconds and the sampled thought tokens."""
    clock = [time.perf_counter()]

    def lap() -> float:
        clock.append(time.perf_counter())
        return clock[-1] - clock[-2]

    with torch.no_grad():
        s_ema_bkh, horizon_mask_bkh = teacher_scores(teacher, documents_bs, positions_bk, rs.horizon)
        teacher_s = lap()
        thoughts = sample_thoughts(policy, documents_bs, positions_bk, rs)
        sample_s = lap()
        s_pred_rh = score_thoughts(policy, documents_bs, positions_bk, thoughts, rs)
        score_s = lap()
    L = thoughts.tokens_rl.shape[1]
    thought_mask_rl = torch.arange(L)[None, :] < thoughts.lengths_r[:, None]
    per_row = lambda x_bkh: x_bkh.reshape(-1, x_bkh.shape[-1]).repeat_interleave(rs.group_size, dim=0)  # noqa: E731
    logp_new_rl = thought_logprobs(policy, documents_bs, positions_bk, thoughts.tokens_rl, rs)
    loss = rlp_loss(logp_new_rl, thoughts.logp_old_rl, thought_mask_rl, s_pred_rh, per_row(s_ema_bkh),
                    per_row(horizon_mask_bkh), group_size=rs.group_size, gamma=rlp.gamma, eps_low=rlp.pg.eps_low,
                    eps_high=rlp.pg.eps_high)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    ema_update_(teacher, policy, rlp.ema_tau)
    update_s = lap()
    return {"teacher_s": teacher_s, "sample_s": sample_s, "score_s": score_s, "update_s": update_s,
            "thought_tokens": int(thoughts.lengths_r.sum()), "decode_steps": int(thoughts.lengths_r.max())}


def _check_inputs(cfg: Config, documents_bs: np.ndarray, positions_bk: np.ndarray) -> None:
    """One-sentence errors for options the peer lacks and for documents / positions it cannot score."""
    for name, value in UNSUPPORTED.items():
        got = functools.reduce(getattr, name.split("."), cfg.rlp)
        if got != value:
            raise ConfigError(f"the torch peer implements rlp.{name}={value!r} only (got {got!r}); "
                              "drop the override for `--peer torch`")
    if documents_bs.ndim != 2 or positions_bk.ndim != 2 or positions_bk.shape[0] != documents_bs.shape[0]:
        raise ValueError(f"documents must be [B, S] and positions [B, K]; got {documents_bs.shape} and "
                         f"{positions_bk.shape}")
    if positions_bk.min() < 1 or positions_bk.max() >= documents_bs.shape[1]:
        raise ValueError(f"positions must lie in 1 .. {documents_bs.shape[1] - 1} (a context and a next token)")


def time_torch_rlp_step(cfg: Config, rs: RolloutSettings, documents_bs: np.ndarray, positions_bk: np.ndarray, *,
                        repeats: int = 3, threads: int | None = None) -> dict:
    """Seconds per stage and thought tokens per second of the torch peer's RLP step, keyed as `time_jax_step`'s.

    documents_bs [B, S] token ids (every document full length), positions_bk [B, K] the positions t (pass the ones
    rlpjax's step chose, so both think on the same prefixes). One warm-up step, then `repeats` timed steps on the
    evolving model. Figures are means per step: `teacher_s`, `sample_s` (generate), `score_s`, their sum
    `rollout_s`, `update_s`, `step_s` = rollout + update, `thought_tokens` (sampled, a `</think>` included, as
    rlpjax's `lengths_b`), `decode_steps` (the longest thought: generate's steps) and `ms_per_decode_step`;
    `thought_tokens_per_s` is their total over the total step time. Runs on `threads` CPU threads (default: every
    core), restored afterwards.
    """
    _check_inputs(cfg, documents_bs, positions_bk)
    previous_threads = torch.get_num_threads()
    torch.set_num_threads(threads or os.cpu_count())
    try:
        torch.manual_seed(cfg.run.seed)
        policy = hf_model_from_decoder(cfg.model, Decoder(cfg.model, rngs=nnx.Rngs(cfg.run.seed)))
        teacher = copy.deepcopy(policy).requires_grad_(False)
        optimizer = torch.optim.AdamW(policy.parameters(), lr=cfg.optimizer.learning_rate, betas=(0.9, 0.999),
                                      eps=1e-8, weight_decay=1e-4)  # optax.adamw's defaults, as the JAX step's
        documents = torch.tensor(np.asarray(documents_bs), dtype=torch.long)
        positions = torch.tensor(np.asarray(positions_bk), dtype=torch.long)
        rlp_step(policy, teacher, optimizer, documents, positions, rs, cfg.rlp)  # warm-up
        steps = [rlp_step(policy, teacher, optimizer, documents, positions, rs, cfg.rlp) for _ in range(repeats)]
        used_threads = torch.get_num_threads()
    finally:
        torch.set_num_threads(previous_threads)
    mean = {key: sum(step[key] for step in steps) / repeats for key in steps[0]}
    rollout_s = mean["teacher_s"] + mean["sample_s"] + mean["score_s"]
    step_s = rollout_s + mean["update_s"]
    return {**mean, "rollout_s": rollout_s, "step_s": step_s, "thought_tokens_per_s": mean["thought_tokens"] / step_s,
            "ms_per_decode_step": 1e3 * mean["sample_s"] / max(mean["decode_steps"], 1), "threads": used_threads,
            "torch_version": torch.__version__, "transformers_version": transformers.__version__}
