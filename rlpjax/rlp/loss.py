"""The RLP update's loss: recompute thought log-probs with gradient in the rollout's layout, then the objective."""

from __future__ import annotations

from rlpjax.config import RLPConfig
from rlpjax.objectives.ntp import ntp_loss
from rlpjax.objectives.rlp import rlp_loss
from rlpjax.rlp.branches import thought_logprobs
from rlpjax.rlp.settings import RolloutSettings


def make_rlp_loss_fn(rs: RolloutSettings, rlp: RLPConfig):
    """`loss_fn(model, rollout_batch, rng) -> (loss, metrics)` for `train.update.make_update_step`.

    The document is encoded once with gradient (unless `rlp.stop_prefix_grad`), every branch attends to it, and
    the gradient reaches the parameters through both the thought tokens and the prefix activations. Thought
    log-probs and entropies are reduced from hidden states in chunks (`rs.logits_chunk_tokens`, rematerialised in
    the backward), so no [R, L, V] logits exist. `metrics["loss_weight"]` is the denominator of the loss's
    aggregation (with the paper's "seq_mean", the number of valid thoughts), so gradient accumulation
    (`optimizer.grad_accum_steps`) equals one big batch.
    """

    def loss_fn(model, rb: dict, rng):
        del rng
        B, K, G, L = rb["thoughts_bkgl"].shape
        logp_rl, entropy_rl, doc_hidden_bsd = thought_logprobs(
            model, rb, rb["positions_bk"], rb["thoughts_bkgl"].reshape(B * K * G, L), rs,
            stop_prefix_grad=rlp.stop_prefix_grad)
        to_bkg = lambda x: x.reshape((B, K, G) + x.shape[1:])  # noqa: E731
        loss, metrics = rlp_loss(
            to_bkg(logp_rl), rb["logp_old_bkgl"], rb["thought_mask_bkgl"], rb["s_pred_bkgh"], rb["s_ema_bkh"],
            gamma=rlp.gamma, eps_low=rlp.pg.eps_low, eps_high=rlp.pg.eps_high, kl_beta=rlp.pg.kl_beta,
            normalize_adv_std=rlp.pg.normalize_adv_std, advantage=rlp.pg.advantage, aggregation=rlp.pg.aggregation,
            policy_loss=rlp.pg.policy_loss, length_cap=rlp.max_thought_tokens, logp_ref_xgl=rb.get("logp_ref_bkgl"),
            entropy_xgl=to_bkg(entropy_rl), truncated_xg=rb["truncated_bkg"], horizon_mask_xh=rb["horizon_mask_bkh"],
            position_valid_x=rb["position_valid_bk"])
        if rlp.ntp_weight > 0:  # a full [B, S, V] projection: the auxiliary loss is off in the paper
            doc_logits_bsv = (model(rb["tokens"], rb["positions"], rb["segment_ids"]) if doc_hidden_bsd is None
                              else model.logits_from_hidden(doc_hidden_bsd))
            nll, ntp_metrics = ntp_loss(doc_logits_bsv, rb["tokens"], rb["segment_ids"])
            loss = loss + rlp.ntp_weight * nll
            metrics["ntp_loss"] = ntp_metrics["loss"]
        return loss, metrics

    return loss_fn
