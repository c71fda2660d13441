"""The report's reading, generated from the measured numbers (nothing in it is written by hand).

It says whether the base learned to solve anything checkable, then for each compute-matched pair (RLP vs CPT,
GRPO vs mid-training) and each arm against the base whether the paired pass@k difference is significant (more than
`comparison.SIGNIFICANCE_SE` standard errors) or indistinguishable, and claims nothing beyond that; then where the
RL rewards went over training and whether RLP's thoughts carry more information than the base model's.
"""

from __future__ import annotations

import math


def _trend(values: list[float]) -> tuple[float, float]:
    """Means of the first and the last quarter of a curve (at least one point each)."""
    quarter = max(1, len(values) // 4)
    return sum(values[:quarter]) / quarter, sum(values[-quarter:]) / quarter


def _pct(p: float) -> str:
    return f"{100 * p:.1f}%"


def _comparison(p: dict) -> str:
    name = f"{p['a'].upper()} - {p['b'].upper()}"
    if p["significant"]:
        return f"{name} = {100 * p['diff']:+.1f} points at pass@{p['k']} (significant, SE {100 * p['se']:.1f})"
    return f"{name} = {100 * p['diff']:+.1f} points at pass@{p['k']} (indistinguishable, SE {100 * p['se']:.1f})"


def reading(n: dict) -> str:
    """The paragraph for the numbers of `report.summarize` (see summary.json for the keys)."""
    k_max = str(n["ks"][-1])
    base = n["by_op"]["base"]
    easiest = sorted(n["split_ops"]["train"])[:2]
    parts = [f"At this scale ({n['params']:,} parameters, a base trained on {n['base_tokens']:,} tokens, "
             f"{n['problems_per_op']} held-out problems per op)"]
    solved = ", ".join(f"op {op} {_pct(base[str(op)][k_max])}" for op in easiest if str(op) in base)
    if all(n["overall"][arm][k_max] == 0 for arm in n["arms"]):
        parts[0] += (f", no model produced a single verified-correct solution in {k_max} samples, so pass@k ranks "
                     "nothing in this run; train the base longer (--pretrain-steps, --scale medium).")
    else:
        split = n["by_split"]["base"]
        parts[0] += (f", the base solves the easiest train ops at pass@{k_max} ({solved}); over the splits its "
                     f"pass@1 / pass@{k_max} is " + ", ".join(
                         f"{name} {_pct(split[name]['1'])} / {_pct(split[name][k_max])}" for name in split) + ".")
    significant = [p for p in n["paired"] if p["significant"]]
    matched = [p for p in n["paired"] if (p["a"], p["b"]) in (("rlp", "cpt"), ("grpo", "mid"))]
    parts.append("At equal compute: " + "; ".join(_comparison(p) for p in matched) + ".")
    versus_base = [p for p in n["paired"] if p["b"] == "base"]
    if any(p["significant"] for p in versus_base):
        parts.append("Against the base, the significant changes are: " + "; ".join(
            _comparison(p) for p in versus_base if p["significant"]) + "; every other arm-vs-base difference is "
            "within two standard errors.")
    else:
        parts.append("No arm differs significantly from the base at pass@1 or pass@" + k_max + ".")
    if not significant:
        parts.append("With no significant difference anywhere, this run supports no ranking of the arms.")
    first, last = _trend(n["rewards"]["rlp"])
    sign = "above zero (thoughts made the answer more likely than the EMA teacher without a thought did)" \
        if last > 0 else "at or below zero (thoughts did not make the answer more likely than the EMA teacher did)"
    parts.append(f"The RLP reward went from {first:+.3f} to {last:+.3f} nats (first vs last quarter of steps), ending "
                 f"{sign}; {_pct(n['truncated_frac'])} of the sampled thoughts ran to the length cap without "
                 "closing `</think>`.")
    g_first, g_last = _trend(n["rewards"]["grpo"])
    parts.append(f"The GRPO reward went from {g_first:.3f} to {g_last:.3f} (first vs last quarter of steps).")
    gain, helped, se = n["probe"]["gain"], n["probe"]["helped"], n["probe"]["diff_se"]
    delta = gain["rlp"] - gain["base"]
    if math.isnan(se) or abs(delta) <= 2 * se:
        verdict = "no measurable change (within two standard errors)"
    else:
        verdict = "thinking became more useful after RLP" if delta > 0 else "thinking became less useful after RLP"
    parts.append(f"On held-out problems RLP's thoughts before the answer changed its log-probability by "
                 f"{gain['rlp']:+.3f} nats on average ({_pct(helped['rlp'])} helped), against {gain['base']:+.3f} "
                 f"({_pct(helped['base'])}) for the base model's thoughts: {verdict}.")
    return " ".join(parts)
