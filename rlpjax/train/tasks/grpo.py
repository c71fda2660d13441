"""GRPO post-training as a `rlpjax train` objective (../shared/spec/CONTROLLED.md), on controlled reasoning problems
or, as RPT, on next-token prompts from documents (`grpo.prompts`, `grpo_prompts.PROMPT_KINDS`).

One training step:
1. the next `grpo.prompts_per_step` prompts of a resumable, deterministic prompt stream (`ProblemStream`, or
   `DocumentPrompts` for RPT);
2. `grpo.num_rollouts` responses per prompt from the shared sampler (`rlpjax.sampling.sample`, stop at EOS);
3. on the host: each response is scored by the prompt kind (a controlled problem's response is verified against
   its gold graph and scored by the named reward, `reasoning.rewards`; an RPT response by prefix match), plus
   DAPO's overlong shaping when `grpo.overlong_buffer` > 0;
4. group advantages, computed once over whole groups by the named estimator (`objectives.advantages`:
   "group_mean" is GRPO, "leave_one_out" RLOO); with `grpo.edge_filter`, groups whose pass rate lies outside the
   band (`edge_filter`) are masked out of the update (edge of competence: only problems the current policy
   sometimes, but not always, solves); with `grpo.dynamic_sampling` (DAPO), groups whose rewards are all equal are
   dropped too, and further prompts are sampled until `grpo.prompts_per_step` groups are kept (`select_groups`);
5. `grpo.pg.ppo_epochs` passes of `grpo.pg.minibatches` optimizer updates; each update recomputes the response log-probs
   teacher-forced over prompt + response with the training model and applies the policy-gradient loss with the
   named surrogate and aggregation (`objectives.policy_gradient`: "ppo_clip" or GSPO's "gspo"; "token_mean",
   "seq_mean" or Dr.GRPO's "constant_length").

    advantage  A_i = (r_i - mean_j r_j) / (std_j r_j + eps)       (group_mean; std ddof 1 as verl, or no division)
    loss       agg(-min(rho A, clip(rho, 1-eps_low, 1+eps_high) A)) + kl_beta agg(k3) - entropy_coef agg(H)

k3 = exp(d) - d - 1 with d = logp_ref - logp_new, the low-variance KL to the frozen reference. The named
algorithms are settings of these parts (README "RL algorithms"; presets in experiments/controlled/).

Rollouts live in one "sequence layout": row n (= prompt b * R + rollout r) holds the prompt's tokens, then the
response's, then padding, in T = max_prompt_tokens + max_new_tokens columns. Column t carries the prediction of
token t + 1 (`targets_nt`); `response_mask_nt` marks the columns whose target is a response token (the stop token
included), so prompt and padding never get a gradient. Behaviour (`logp_old_nt`) and reference (`logp_ref_nt`)
log-probs sit in the same columns as the recomputed ones.

All three are log-probs of one distribution (`grpo.pg.ratio_logprobs`): softmax(logits / temperature) by default, the
sampler's `score_temperature`, so that at step 0 the ratio is exactly 1. The teacher-forced passes (update,
recomputed behaviour, reference) take the decoder's hidden states and `hidden_logprobs` projects them about
`grpo.pg.logits_chunk_tokens` tokens at a time, so no [rows, T, V] logits exist when the rows hold more tokens.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from rlpjax import compute
from rlpjax.config import GRPOConfig
from rlpjax.config_io import ConfigError
from rlpjax.data import load_tokenizer
from rlpjax.objectives.advantages import group_advantages
from rlpjax.objectives.logprobs import hidden_logprobs, ratio_temperature
from rlpjax.objectives.policy_gradient import group_reward_metrics, policy_gradient_loss
from rlpjax.reasoning.rewards import overlong_shaping
from rlpjax.sampling import SamplingSettings, sample
from rlpjax.train.batches import to_device_batch
from rlpjax.train.ppo import minibatch_rows, ppo_updates
from rlpjax.train.task import SampleTable, Stage, StepContext, Task, abstract_batch
from rlpjax.train.tasks.grpo_prompts import PROMPT_KINDS, Scored, kind_metrics
from rlpjax.train.update import make_update_step

ROLLOUT_KEY_SALT = 0x475250
"""Folded into the state's key for sampling, so the update's own key split stays independent of it."""
SAMPLE_COLUMNS = ["prompt_index", "rollout", "prompt", "response", "response_tokens", "truncated", "reward"]
"""The first columns of GRPO's sample table (`GRPOTask.sample_table`); the prompt kind's `columns` follow."""


def rollout_layout(prompts_np: np.ndarray, prompt_lengths_n: np.ndarray, responses_nl: np.ndarray,
                   response_lengths_n: np.ndarray, logp_response_nl: np.ndarray, pad_id: int) -> dict:
    """Rows of prompt + response in the sequence layout of the module docstring (NumPy, on the host).

    prompts_np: [N, P] right-padded prompts; responses_nl / logp_response_nl: [N, L] sampled tokens and their
    log-probs (zero past each response's length). Returns tokens_nt, targets_nt, response_mask_nt and logp_old_nt,
    each [N, P + L].
    """
    rows, prompt_width = prompts_np.shape
    width = prompt_width + responses_nl.shape[1]
    column = np.arange(width)[None, :]
    # Token t of a row: the prompt's while t < p, then response token t - p, then padding.
    response_index_nt = column - prompt_lengths_n[:, None]
    in_prompt = column < prompt_lengths_n[:, None]
    in_response = (response_index_nt >= 0) & (response_index_nt < response_lengths_n[:, None])
    take = lambda values_nx, index_nt: np.take_along_axis(  # noqa: E731
        values_nx, np.clip(index_nt, 0, values_nx.shape[1] - 1), axis=1)
    tokens_nt = np.where(in_prompt, take(prompts_np, np.broadcast_to(column, (rows, width))),
                         np.where(in_response, take(responses_nl, response_index_nt), pad_id)).astype(np.int32)
    # Column t predicts token t + 1: its target is a response token when t + 1 - p lies in [0, length).
    targets_nt = np.concatenate([tokens_nt[:, 1:], np.full((rows, 1), pad_id, np.int32)], axis=1)
    target_index_nt = response_index_nt + 1
    response_mask_nt = (target_index_nt >= 0) & (target_index_nt < response_lengths_n[:, None])
    logp_old_nt = np.where(response_mask_nt, take(logp_response_nl, target_index_nt), 0.0).astype(np.float32)
    return {"tokens_nt": tokens_nt, "targets_nt": targets_nt, "response_mask_nt": response_mask_nt,
            "logp_old_nt": logp_old_nt}


def edge_filter(passed_br: np.ndarray, low: float, high: float) -> tuple[np.ndarray, dict]:
    """(keep_b, metrics): keep the groups whose pass rate p_b = mean_r passed_br[b, r] lies in (low, high).

    passed_br: [B, R] bool, whether rollout r of prompt b passed. Metrics: edge_kept_frac (kept groups / B),
    edge_pass_rate_mean (mean p_b over all groups, before filtering) and a histogram of p_b: the fraction of groups
    with p = 0 (edge_pass_rate_zero), 0 < p < 0.5 (_below_half), 0.5 <= p < 1 (_half_up) and p = 1 (_one)."""
    rate_b = passed_br.mean(axis=1)
    keep_b = (rate_b > low) & (rate_b < high)
    bins = {"zero": rate_b == 0, "below_half": (rate_b > 0) & (rate_b < 0.5),
            "half_up": (rate_b >= 0.5) & (rate_b < 1), "one": rate_b == 1}
    return keep_b, {"edge_kept_frac": float(keep_b.mean()), "edge_pass_rate_mean": float(rate_b.mean()),
                    **{f"edge_pass_rate_{name}": float(inside.mean()) for name, inside in bins.items()}}


@dataclasses.dataclass(frozen=True)
class SampledRound:
    """One round of sampling: prompts_per_step groups of num_rollouts responses, scored and laid out (host)."""

    batch: dict
    """The sequence layout [N, T] (`rollout_layout`) plus advantages_n and truncated_n [N]."""
    rewards_br: np.ndarray
    """[B, R] rewards (overlong shaping included)."""
    passed_br: np.ndarray
    """[B, R] bool: the response passed (grpo.edge_pass)."""
    keep_b: np.ndarray
    """[B] bool: the group survives the filters (edge band, and unequal rewards under dynamic sampling)."""
    metrics: dict
    """Verification metrics of the round (`GRPOTask.score`)."""


def select_groups(keep_g: np.ndarray, groups: int, refill: bool) -> np.ndarray:
    """Indices of the `groups` groups one update uses among all sampled ones (keep_g: [rounds * groups] bool).

    Without `refill`, the first round's groups in order (the filters only mask); with it (dynamic sampling), the
    kept groups in sampling order, then, when fewer were kept, dropped ones as fillers the update masks out.
    """
    if not refill:
        return np.arange(groups)
    return np.argsort(~keep_g, kind="stable")[:groups]


def logprob_temperature(grpo: GRPOConfig) -> float:
    """Temperature of the old / new / reference log-probs (`grpo.pg.ratio_logprobs`)."""
    return ratio_temperature(grpo.pg.ratio_logprobs, grpo.sampling.temperature)


def sequence_logprobs(model, tokens_nt: jax.Array, targets_nt: jax.Array,
                      grpo: GRPOConfig) -> tuple[jax.Array, jax.Array]:
    """([N, T] log p(targets_nt), [N, T] entropy) of one teacher-forced pass of `model` over the rows.

    Both under softmax(logits / `logprob_temperature(grpo)`), reduced from the final hidden states in chunks of
    `grpo.pg.logits_chunk_tokens`; the entropy is differentiable only when the loss has an entropy bonus.
    """
    hidden_ntd = model(tokens_nt, return_hidden=True)
    return hidden_logprobs(model.logits_from_hidden, hidden_ntd, targets_nt, chunk_tokens=grpo.pg.logits_chunk_tokens,
                           temperature=logprob_temperature(grpo), entropy_grad=grpo.entropy_coef != 0)


def make_grpo_loss_fn(cfg: GRPOConfig):
    """`loss_fn(model, batch, rng) -> (loss, metrics)` for `train.update.make_update_step`.

    batch: the sequence layout plus `advantages_n` (computed once over whole groups, so a minibatch need not hold
    whole groups), `truncated_n` and, when kl_beta > 0, `logp_ref_nt`. The loss is
    `policy_gradient.policy_gradient_loss`; its `loss_weight` metric (the aggregation's denominator) makes
    gradient accumulation equal one big batch, so "token_mean" is DAPO's token-level loss over the global batch.
    """

    def loss_fn(model, batch: dict, rng):
        del rng
        logp_new_nt, entropy_nt = sequence_logprobs(model, batch["tokens_nt"], batch["targets_nt"], cfg)
        return policy_gradient_loss(
            logp_new_nt, batch["logp_old_nt"], batch["response_mask_nt"], batch["advantages_n"],
            eps_low=cfg.pg.eps_low, eps_high=cfg.pg.eps_high, aggregation=cfg.pg.aggregation,
            policy_loss=cfg.pg.policy_loss, kl_beta=cfg.pg.kl_beta, logp_ref_xl=batch.get("logp_ref_nt"),
            entropy_xl=entropy_nt, entropy_coef=cfg.entropy_coef,
            truncated_x=batch["truncated_n"], length_cap=cfg.max_new_tokens)

    return loss_fn


class GRPOTask(Task):
    objective = "grpo"

    def __init__(self, cfg):
        super().__init__(cfg)
        grpo = cfg.grpo
        self.uses_reference = grpo.pg.kl_beta > 0
        self.tokenizer = load_tokenizer(cfg.data.tokenizer)
        if self.tokenizer.eos_id is None:
            raise ConfigError(f"tokenizer {cfg.data.tokenizer!r} has no EOS token, which GRPO responses stop at")
        add_bos = self.tokenizer.add_bos if cfg.data.add_bos is None else cfg.data.add_bos
        self._bos = [self.tokenizer.bos_id] if add_bos and self.tokenizer.bos_id is not None else []
        self.settings = SamplingSettings(max_new_tokens=grpo.max_new_tokens, temperature=grpo.sampling.temperature,
                                         top_p=grpo.sampling.top_p, top_k=grpo.sampling.top_k,
                                         stop_tokens=(self.tokenizer.eos_id,),
                                         pad_id=self.tokenizer.pad_id, score_temperature=logprob_temperature(grpo))
        self.prompts = PROMPT_KINDS[grpo.prompts](cfg, self.tokenizer, self._bos)
        self._samples: list[list] | None = None  # the last step's sample table rows, when requested
        self._stream = None  # the prompt stream `batches` gave, which dynamic sampling draws on

    def batches(self, mesh=None):
        """The prompt stream of `grpo.prompts` (`ProblemStream` or `DocumentPrompts`)."""
        del mesh  # every host reads the whole prompt stream (a batch of prompts is small)
        self._stream = self.prompts.stream()
        return self._stream

    def encode_prompts(self, records: list[dict]) -> tuple[np.ndarray, np.ndarray]:
        """([B, max_prompt_tokens] right-padded prompt ids, [B] lengths); BOS first when documents had one."""
        width = self.cfg.grpo.max_prompt_tokens
        ids = [self.prompts.prompt_ids(record) for record in records]
        too_long = max(len(row) for row in ids)
        if too_long > width:
            raise ConfigError(f"an RL prompt has {too_long} tokens but grpo.max_prompt_tokens is {width}; "
                              f"{self.prompts.too_long_fix()}")
        prompts = np.full((len(ids), width), self.tokenizer.pad_id, np.int32)
        for row, tokens in enumerate(ids):
            prompts[row, :len(tokens)] = tokens
        return prompts, np.array([len(row) for row in ids], np.int32)

    def score(self, records: list[dict], out) -> tuple[np.ndarray, dict, list[tuple[str, Scored]]]:
        """Rewards [B, R] of the sampled responses (host arrays of a `SampleOutput`), the prompt kind's metrics, and
        each row's (response text without the stop token, its `Scored`)."""
        grpo = self.cfg.grpo
        checked = []
        for n, (tokens_l, length, stopped) in enumerate(zip(out.tokens_bl, out.lengths_b, out.stopped_b)):
            text = self.tokenizer.decode(tokens_l[:int(length) - int(stopped)])  # without the stop token
            checked.append((text, self.prompts.score(text, records[n // grpo.num_rollouts])))
        rewards_n = np.asarray([scored.reward for _, scored in checked], np.float32) + overlong_shaping(
            out.lengths_b, grpo.max_new_tokens, grpo.overlong_buffer, grpo.overlong_penalty)
        metrics = kind_metrics(self.prompts, [scored for _, scored in checked])
        metrics["response_length"] = float(np.mean(out.lengths_b))
        return rewards_n.reshape(-1, grpo.num_rollouts), metrics, checked

    def rollout(self, sample_stage, state, records: list[dict]) -> tuple[dict, dict]:
        """Sample (the jitted "sample" stage), verify and lay out one step's rollouts -> (host update batch,
        rollout metrics); with `samples_requested`, the first responses are kept for `sample_table`.

        Under `grpo.dynamic_sampling` further rounds of prompts_per_step prompts are drawn from the problem stream
        (so a resumed run continues after them) until enough groups are kept; the rollout metrics (verification,
        rewards, the edge histogram) describe every sampled response, `dynamic_rounds` counts the rounds and
        `dynamic_kept_frac` is the share of the update's groups that were kept (the rest are masked fillers).
        """
        grpo = self.cfg.grpo
        key = jax.random.fold_in(state.rng, ROLLOUT_KEY_SALT)
        rounds = [self._sample_round(sample_stage, state.params, records, key, keep_samples=True)]
        while (grpo.dynamic_sampling and len(rounds) < grpo.dynamic_sampling_rounds
               and sum(int(r.keep_b.sum()) for r in rounds) < grpo.prompts_per_step):
            rounds.append(self._sample_round(sample_stage, state.params, next(self._refill_stream()),
                                             jax.random.fold_in(key, len(rounds))))
        keep_g = np.concatenate([r.keep_b for r in rounds])
        chosen_g = select_groups(keep_g, grpo.prompts_per_step, refill=grpo.dynamic_sampling)
        rows_n = (chosen_g[:, None] * grpo.num_rollouts + np.arange(grpo.num_rollouts)).reshape(-1)
        batch = {name: np.concatenate([r.batch[name] for r in rounds])[rows_n] for name in rounds[0].batch}
        keep_n = np.repeat(keep_g[chosen_g], grpo.num_rollouts)
        batch["response_mask_nt"] = batch["response_mask_nt"] & keep_n[:, None]
        batch["advantages_n"] = np.where(keep_n, batch["advantages_n"], 0.0).astype(np.float32)

        metrics = {name: float(np.mean([r.metrics[name] for r in rounds])) for name in rounds[0].metrics}
        _, edge_metrics = edge_filter(np.concatenate([r.passed_br for r in rounds]), grpo.edge_pass_low,
                                      grpo.edge_pass_high)
        if not grpo.edge_filter:
            edge_metrics.pop("edge_kept_frac")
        metrics |= edge_metrics
        if grpo.dynamic_sampling:
            metrics |= {"dynamic_rounds": float(len(rounds)), "dynamic_kept_frac": float(keep_n.mean())}
        rewards_gr = np.concatenate([r.rewards_br for r in rounds])
        metrics |= {k: float(v) for k, v in group_reward_metrics(rewards_gr).items()}
        return batch, metrics

    def _sample_round(self, sample_stage, params, records: list[dict], key, keep_samples: bool = False) -> SampledRound:
        """Sample, verify, score and lay out the rollouts of `records` (one round of prompts_per_step prompts)."""
        grpo = self.cfg.grpo
        prompts_bp, lengths_b = self.encode_prompts(records)
        prompts_np, lengths_n = np.repeat(prompts_bp, grpo.num_rollouts, 0), np.repeat(lengths_b, grpo.num_rollouts)
        out = jax.device_get(sample_stage(params, prompts_np, lengths_n, key))
        rewards_br, metrics, checked = self.score(records, out)
        if keep_samples:
            self._samples = self._sample_rows(records, out, rewards_br, checked) if self.samples_requested else None
        batch = rollout_layout(prompts_np, lengths_n, out.tokens_bl, out.lengths_b, out.logprobs_model_bl,
                               self.tokenizer.pad_id)
        batch["advantages_n"] = np.asarray(group_advantages(
            rewards_br, grpo.pg.advantage, normalize_std=grpo.pg.normalize_adv_std)).reshape(-1)
        batch["truncated_n"] = ~out.stopped_b
        passed_br = np.array([scored.passed for _text, scored in checked], bool).reshape(rewards_br.shape)
        keep_b = np.array([record.get("usable", True) for record in records], bool)
        if grpo.edge_filter:
            keep_b &= edge_filter(passed_br, grpo.edge_pass_low, grpo.edge_pass_high)[0]
        if grpo.dynamic_sampling:
            keep_b &= rewards_br.max(axis=1) > rewards_br.min(axis=1)
        return SampledRound(batch, rewards_br, passed_br, keep_b, metrics)

    def _refill_stream(self):
        if self._stream is None:
            raise RuntimeError("grpo.dynamic_sampling draws further prompts from the stream GRPOTask.batches() "
                               "returned; call batches() before stepping")
        return self._stream

    def _sample_rows(self, records: list[dict], out, rewards_br: np.ndarray,
                     checked: list[tuple[str, Scored]]) -> list[list]:
        """The first `samples_requested` rows of a step's rollouts in `sample_table`'s column order."""
        rollouts, rewards_n = self.cfg.grpo.num_rollouts, rewards_br.reshape(-1)
        return [[n // rollouts, n % rollouts, self.prompts.prompt_text(records[n // rollouts]), text,
                 int(out.lengths_b[n]), not bool(out.stopped_b[n]), float(rewards_n[n]), *scored.columns]
                for n, (text, scored) in enumerate(checked[:self.samples_requested])]

    def sample_table(self) -> SampleTable | None:
        """The last step's first responses (prompt by prompt, each prompt's rollouts in turn): the prompt, the
        response (without the stop token), its length in tokens (stop token included) and whether it was cut at
        grpo.max_new_tokens, the reward the update used, then the prompt kind's columns (controlled problems: the
        verifier's verdict, verified / answer correct, process accuracy, the predicted answer, the reason when not
        verified; RPT: the true continuation, the prediction, whether it matched)."""
        return None if self._samples is None else (SAMPLE_COLUMNS + list(self.prompts.columns), self._samples)

    def batch_rows(self) -> int:
        """The rollout rows: prompts_per_step x num_rollouts."""
        return self.cfg.grpo.prompts_per_step * self.cfg.grpo.num_rollouts

    def batch_rows_key(self) -> str:
        return "grpo.prompts_per_step x grpo.num_rollouts"

    def updates_per_step(self) -> int:
        return self.cfg.grpo.pg.ppo_epochs * self.cfg.grpo.pg.minibatches

    def stages(self, ctx: StepContext):
        """"sample": (params, prompts_np, lengths_n, key) -> SampleOutput; "logprobs" (when the behaviour or the
        reference log-probs are recomputed): (params, tokens_nt, targets_nt) -> logp_nt; "update": (state, a
        minibatch) -> (state, metrics). Verification runs on the host between sample and update."""
        graphdef, settings, grpo = ctx.graphdef, self.settings, self.cfg.grpo
        update = make_update_step(graphdef, make_grpo_loss_fn(grpo), ctx.tx, ctx.schedule,
                                  grad_accum_steps=self.cfg.optimizer.grad_accum_steps)
        stages = {"sample": Stage(lambda params, prompts_np, lengths_n, key: sample(
            graphdef, params, prompts_np, lengths_n, key, settings), state_fields=("params",))}
        if grpo.recompute_old_logprobs or self.uses_reference:
            stages["logprobs"] = Stage(lambda params, tokens_nt, targets_nt: sequence_logprobs(
                nnx.merge(graphdef, params), tokens_nt, targets_nt, grpo)[0], state_fields=("params",))
        stages["update"] = Stage(update, in_shardings=(ctx.state_shardings, None),
                                 out_shardings=(ctx.state_shardings, None), donate_argnums=(0,))
        return stages

    def abstract_inputs(self, ctx: StepContext, state):
        grpo = self.cfg.grpo
        rows, width = grpo.prompts_per_step * grpo.num_rollouts, grpo.max_prompt_tokens + grpo.max_new_tokens
        key = jax.eval_shape(lambda s: jax.random.fold_in(s.rng, ROLLOUT_KEY_SALT), state)
        prompts = abstract_batch({"prompts": ((rows, grpo.max_prompt_tokens), jnp.int32),
                                  "lengths": ((rows,), jnp.int32)}, ctx.mesh)
        sequences = abstract_batch({"tokens_nt": ((rows, width), jnp.int32),
                                    "targets_nt": ((rows, width), jnp.int32)}, ctx.mesh)
        size = minibatch_rows(rows, grpo.pg.minibatches)
        fields = {"tokens_nt": ((size, width), jnp.int32), "targets_nt": ((size, width), jnp.int32),
                  "response_mask_nt": ((size, width), jnp.bool_), "logp_old_nt": ((size, width), jnp.float32),
                  "advantages_n": ((size,), jnp.float32), "truncated_n": ((size,), jnp.bool_)}
        if self.uses_reference:
            fields["logp_ref_nt"] = ((size, width), jnp.float32)
        inputs = {"sample": (state.params, prompts["prompts"], prompts["lengths"], key),
                  "logprobs": (state.params, sequences["tokens_nt"], sequences["targets_nt"]),
                  "update": (state, abstract_batch(fields, ctx.mesh))}
        return {name: inputs[name] for name in self.stages(ctx)}

    def make_step(self, ctx: StepContext):
        grpo = self.cfg.grpo
        stages = {name: stage.jit(ctx.mesh) for name, stage in self.stages(ctx).items()}

        def step(state, records):
            host_batch, rollout_metrics = self.rollout(stages["sample"], state, records)
            batch = to_device_batch(host_batch, ctx.mesh)
            if grpo.recompute_old_logprobs:
                batch["logp_old_nt"] = stages["logprobs"](state.params, batch["tokens_nt"], batch["targets_nt"])
            if self.uses_reference:
                batch["logp_ref_nt"] = stages["logprobs"](state.ref_params, batch["tokens_nt"], batch["targets_nt"])
            state, metrics = ppo_updates(stages["update"], state, batch, epochs=grpo.pg.ppo_epochs,
                                         minibatches=grpo.pg.minibatches)
            return state, dict(metrics, **rollout_metrics)

        return step

    def passes_per_token(self) -> float:
        """Forward-pass equivalents per rollout token: sampling 1, behaviour recompute 1, reference 1, and 3 (forward +
        backward) per PPO epoch; with the defaults this is CONTROLLED.md's 8 + 2 gamma at gamma = 1."""
        grpo = self.cfg.grpo
        return 1 + grpo.recompute_old_logprobs + self.uses_reference + 3 * grpo.pg.ppo_epochs

    def flops_and_tokens_per_step(self):
        """FLOPs over the padded rows the step computes on (an upper bound for sampling, which stops early)."""
        grpo = self.cfg.grpo
        rows, width = grpo.prompts_per_step * grpo.num_rollouts, grpo.max_prompt_tokens + grpo.max_new_tokens
        flops = compute.pass_flops(self.cfg.model, rows * width, rows * compute.causal_pairs(width),
                                   passes=self.passes_per_token())
        return flops.total, rows * width
