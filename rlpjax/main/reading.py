"""The report's one-paragraph reading, generated from the measured numbers (nothing in it is written by hand).

It says plainly whether the base learned anything checkable, whether RLP beat FLOP-matched CPT (a pass@1 gap
within two paired standard errors is called indistinguishable), which arm changed the held-out loss, where the RLP
reward went over training, and whether RLP's thoughts carry more information than the base model's.
"""

from __future__ import annotations

import math


def _trend(values: list[float]) -> tuple[float, float]:
    """Means of the first and the last quarter of a curve (at least one point each)."""
    quarter = max(1, len(values) // 4)
    return sum(values[:quarter]) / quarter, sum(values[-quarter:]) / quarter


def reading(n: dict) -> str:
    """The paragraph for the numbers of `report.write_main_report` (see summary.json for the keys)."""
    k_max = n["ks"][-1]
    p1 = {arm: 100 * n["overall"][arm][1] for arm in n["overall"]}
    pk = {arm: 100 * n["overall"][arm][k_max] for arm in n["overall"]}
    diff, se = n["rlp_minus_cpt_pass1"], n["rlp_minus_cpt_se"]
    parts = [f"At this scale ({n['params']:,} parameters, a base trained on {n['base_tokens']:,} tokens, "
             f"{n['problems']} held-out problems)"]
    if pk["base"] == 0 and pk["cpt"] == 0 and pk["rlp"] == 0:
        answers, process, form = n["answer_correct"], n["process_acc"], n["format_ok"]
        parts[0] += (f", no model produced a single verified-correct solution in {k_max} samples, so pass@k cannot "
                     "rank RLP against CPT in this run; train the base longer (--pretrain-steps, --scale medium). "
                     f"The weaker checks: {100 * form['base']:.0f}% of the base's samples had the answer format "
                     "(a closed answer tag), the final answer was right in "
                     f"{100 * answers['base']:.1f}% (base), {100 * answers['cpt']:.1f}% (CPT) and "
                     f"{100 * answers['rlp']:.1f}% (RLP) of the samples, and the mean ProcessAcc was "
                     f"{100 * process['base']:.1f}%, {100 * process['cpt']:.1f}% and {100 * process['rlp']:.1f}%.")
    else:
        parts[0] += (f", the base solved {p1['base']:.1f}% at pass@1 ({pk['base']:.1f}% at pass@{k_max}); CPT "
                     f"reached {p1['cpt']:.1f}% and RLP {p1['rlp']:.1f}% at pass@1 ({pk['cpt']:.1f}% and "
                     f"{pk['rlp']:.1f}% at pass@{k_max}).")
        if diff == 0 or (not math.isnan(se) and abs(diff) <= 2 * se):
            parts.append(f"RLP and FLOP-matched CPT are indistinguishable here: RLP - CPT = {diff:+.1f} points at "
                         f"pass@1, within two standard errors ({se:.1f}) over the paired problems.")
        elif diff > 0:
            parts.append(f"RLP beat FLOP-matched CPT by {diff:.1f} points at pass@1 (more than two standard errors, "
                         f"{se:.1f}).")
        else:
            parts.append(f"RLP did not beat FLOP-matched CPT: it trailed by {-diff:.1f} points at pass@1 (more than "
                         f"two standard errors, {se:.1f}).")
    nll = n["nll"]
    parts.append(f"On the held-out documents' next-token loss, the base has {nll['base']:.4f} nats/token, CPT "
                 f"{nll['cpt']:.4f} and RLP {nll['rlp']:.4f}.")
    first, last = _trend(n["reward"])
    direction = "rose" if last > first else "fell" if last < first else "stayed flat"
    sign = "below zero (thoughts made the next token less likely than the EMA teacher without a thought did)" \
        if last < 0 else "above zero (thoughts made the next token more likely than the EMA teacher did)"
    parts.append(f"The RLP reward {direction} from {first:+.4f} to {last:+.4f} nats (first vs last quarter of "
                 f"steps), ending {sign}; {100 * n['truncated_frac']:.0f}% of the sampled thoughts ran to the length "
                 "cap without closing `</think>`.")
    gain, helped = n["probe_gain"], n["probe_helped"]
    delta, delta_se = gain["rlp"] - gain["base"], n["probe_diff_se"]
    if math.isnan(delta_se) or abs(delta) <= 2 * delta_se:
        verdict = "no measurable change (within two standard errors)"
    else:
        verdict = "thinking became more useful after RLP" if delta > 0 else "thinking became less useful after RLP"
    parts.append(f"On held-out documents RLP's thoughts changed the next token's log-probability by "
                 f"{gain['rlp']:+.4f} nats on average ({100 * helped['rlp']:.0f}% helped), against {gain['base']:+.4f} "
                 f"({100 * helped['base']:.0f}%) for the base model's thoughts: {verdict}.")
    return " ".join(parts)
