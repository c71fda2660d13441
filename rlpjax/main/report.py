"""report.md and summary.json of the main job: what ran, each arm's compute, pass@k of every arm by op and split,
paired differences with standard errors, the curves, where thoughts helped, and a reading generated from the numbers.

Everything is read back from the run directory (main_state.json, each arm's metrics.jsonl, eval/*/results.json,
eval/thoughts_*.jsonl), so the report can be rewritten from a finished run without running anything again.

summary.json (a reader script depends on these keys): `arms` (names, base first), `problems_per_op` (int), `by_op`
= {arm: {op: {"1": p, "2": p, ...}}} and `overall` = {arm: {"1": p, ...}} (unbiased pass@k as fractions in [0, 1]),
`truncated_frac` (share of RLP thoughts cut at the cap), `flops` = {arm: FLOPs of its training}, `wall_s`; besides
them `ks`, `by_split`, `paired` (the comparisons of `PAIRS` at pass@1 and pass@k_max), `nll`, `outcomes`, `rewards`,
`probe` and `estimator`.
"""

from __future__ import annotations

import json
import pathlib

import numpy as np

from rlpjax import compute
from rlpjax.eval.report import ESTIMATOR_DOCS, aggregate
from rlpjax.main import plots
from rlpjax.main.comparison import SIGNIFICANCE_SE, paired_difference
from rlpjax.main.evaluate import outcome_by_op, read_results
from rlpjax.main.reading import reading
from rlpjax.main.settings import ARMS
from rlpjax.train.metrics import read_metrics

SHOWN_THOUGHTS = 3
"""Thoughts shown in each of the best, worst and sample lists."""
PAIRS = (("rlp", "cpt"), ("grpo", "mid"), ("rlp", "base"), ("cpt", "base"), ("grpo", "base"), ("mid", "base"))
"""The paired comparisons reported: the two compute-matched pairs first, then every arm against the base."""


def _cell(text: str) -> str:
    """Text safe inside a markdown table cell, as code."""
    return "`" + text.replace("`", "'").replace("|", "\\|").replace("\n", "⏎") + "`" if text else "(empty)"


def _minutes(seconds: float) -> str:
    return f"{int(seconds // 60)}m{seconds % 60:04.1f}s"


def _ops(ops) -> str:
    ops = sorted(ops)
    if not ops:
        return "none"
    if len(ops) > 1 and ops == list(range(ops[0], ops[-1] + 1)):
        return f"{ops[0]}-{ops[-1]}"
    return ",".join(map(str, ops))


def _read_jsonl(path: pathlib.Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _by_k(table: dict) -> dict:
    """{k: p} with string keys (JSON) from an aggregate table's unbiased pass@k."""
    return {str(k): float(p) for k, p in table["unbiased"].items()}


def read_probed(job) -> dict[str, list[dict]]:
    """The probe's thoughts of base and RLP (eval/thoughts_{arm}.jsonl)."""
    return {arm: _read_jsonl(job.root / "eval" / f"thoughts_{arm}.jsonl") for arm in ("base", "rlp")}


def summarize(job, results: dict, reports: dict, metrics: dict, probed: dict) -> dict:
    """The numbers of summary.json (see the module docstring)."""
    s, stages = job.settings, job.state["stages"]
    ks = reports["base"]["ks"]
    split_ops = {"train": s.train_ops, "edge": s.edge_ops, "hard": s.hard_ops}
    by_split = {}
    for arm in ARMS:
        by_split[arm] = {}
        for split, ops in split_ops.items():
            members = [r for r in results[arm] if r.op in ops]
            if members:
                by_split[arm][split] = _by_k(aggregate(members, ks)["overall"])
    paired = [paired_difference(a, results[a], b, results[b], k).as_json() for a, b in PAIRS
              for k in sorted({ks[0], ks[-1]})]
    cpt, mid = stages["cpt"]["compute"], stages["mid"]["compute"]
    probe = stages["probe"]
    return {
        "arms": list(ARMS), "problems_per_op": s.eval_per_op, "ks": ks, "estimator": "unbiased",
        "by_op": {arm: {str(op): _by_k(table) for op, table in reports[arm]["by_op"].items()} for arm in ARMS},
        "overall": {arm: _by_k(reports[arm]["overall"]) for arm in ARMS},
        "by_split": by_split, "split_ops": {k: list(v) for k, v in split_ops.items()},
        "paired": paired, "significance_se": SIGNIFICANCE_SE,
        "truncated_frac": float(np.mean([m["truncated_frac"] for m in metrics["rlp"]])),
        "flops": {"base": cpt["base_flops"], "rlp": cpt["rlp_flops"], "cpt": cpt["cpt_flops"],
                  "grpo": mid["grpo_flops"], "mid": mid["mid_flops"]},
        "wall_s": float(sum(info["seconds"] for name, info in stages.items() if name != "report")),
        "nll": {arm: stages["eval"][arm]["heldout_nll"] for arm in ARMS},
        "nll_by_op": {arm: stages["eval"][arm]["heldout_nll_by_op"] for arm in ARMS},
        "outcomes": {arm: outcome_by_op(job.eval_dir(arm))["all"] for arm in ARMS},
        "rewards": {"rlp": [m["reward_mean"] for m in metrics["rlp"]],
                    "grpo": [m["reward_mean"] for m in metrics["grpo"]]},
        "probe": {"gain": {arm: probe[arm]["overall"]["mean_gain"] for arm in probed},
                  "helped": {arm: probe[arm]["overall"]["helped_frac"] for arm in probed},
                  "diff_se": float(np.sqrt(sum(np.var([p["gain"] for p in probed[arm]], ddof=1) / len(probed[arm])
                                               for arm in probed)))},
        "params": compute.count_params(job.model()).total, "base_tokens": cpt["base_tokens"],
    }


def passk_table(numbers: dict, k_shown: list[int]) -> str:
    """Rows: ops (with their split) and the splits; columns: pass@k of every arm at the shown k (percent)."""
    head = "| op | split | " + " | ".join(f"pass@{k} {arm.upper()}" for k in k_shown for arm in ARMS) + " |"
    lines = [head, "|---|---|" + "---:|" * (len(k_shown) * len(ARMS))]
    split_of = {str(op): split for split, ops in numbers["split_ops"].items() for op in ops}
    for op in numbers["by_op"]["base"]:
        cells = [f"{100 * numbers['by_op'][arm][op][str(k)]:.1f}" for k in k_shown for arm in ARMS]
        lines.append(f"| {op} | {split_of.get(op, '')} | " + " | ".join(cells) + " |")
    for split in numbers["by_split"]["base"]:
        cells = [f"{100 * numbers['by_split'][arm][split][str(k)]:.1f}" for k in k_shown for arm in ARMS]
        lines.append(f"| **{split}** | {_ops(numbers['split_ops'][split])} | " + " | ".join(cells) + " |")
    cells = [f"{100 * numbers['overall'][arm][str(k)]:.1f}" for k in k_shown for arm in ARMS]
    lines.append("| **all** | | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def paired_table(numbers: dict) -> str:
    lines = ["| comparison | k | difference (points) | standard error | significant (> 2 SE) |",
             "|---|---:|---:|---:|---|"]
    for p in numbers["paired"]:
        lines.append(f"| {p['a'].upper()} - {p['b'].upper()} | {p['k']} | {100 * p['diff']:+.1f} | "
                     f"{100 * p['se']:.1f} | {'yes' if p['significant'] else 'no'} |")
    return "\n".join(lines)


def nll_table(numbers: dict) -> str:
    """Rows: ops and all; columns: every arm's held-out next-token loss (nats / token)."""
    lines = ["| op | " + " | ".join(arm.upper() for arm in ARMS) + " |", "|---|" + "---:|" * len(ARMS)]
    for op in numbers["nll_by_op"]["base"]:
        lines.append(f"| {op} | " + " | ".join(f"{numbers['nll_by_op'][arm][op]:.4f}" for arm in ARMS) + " |")
    lines.append("| **all** | " + " | ".join(f"{numbers['nll'][arm]:.4f}" for arm in ARMS) + " |")
    return "\n".join(lines)


def outcome_table(outcomes: dict[str, dict]) -> str:
    """Rows: arms; columns: share of samples with an answer tag, the right answer, and mean ProcessAcc."""
    lines = ["| arm | answer tag | answer right | ProcessAcc |", "|---|---:|---:|---:|"]
    lines += [f"| {arm.upper()} | {100 * o['format_ok']:.1f} | {100 * o['answer_correct']:.1f} | "
              f"{100 * o['process_acc']:.1f} |" for arm, o in outcomes.items()]
    return "\n".join(lines)


def _thought_rows(items: list[dict], split_of) -> list[str]:
    lines = ["| gain (nats) | op | thought | scored after it | closed |", "|---:|---|---|---|---|"]
    lines += [f"| {p['gain']:+.3f} | {p['op']} ({split_of(p['op'])}) | {_cell(p['thought'])} | {_cell(p['scored'])} "
              f"| {'yes' if p['closed'] else 'no'} |" for p in items]
    return lines


def _what_ran(job, numbers: dict) -> list[str]:
    s, stages = job.settings, job.state["stages"]
    model, corpus = job.model(), stages["corpus"]
    cpt, mid, rows = stages["cpt"]["compute"], stages["mid"]["compute"], stages["tokenizer"]["grpo_rows"]
    renders = corpus["renders"]
    return [
        f"- corpora (`corpus/`): {corpus['problems']['pretrain']:,} pre-training and {corpus['problems']['continue']:,} "
        f"continuation problems at ops {_ops(s.train_ops)}; {corpus['problems']['mid']:,} mid-training problems, "
        f"{100 * s.mid_edge_share:.0f}% at the edge ops ({_ops(s.edge_ops)}); templates {','.join(s.templates)}, modes "
        f"{','.join(s.modes)}. Renders (`reasoning.thinking`): {renders['solution']:,} with the worked solution, "
        f"{renders['think']:,} with the worked steps in a `<think>` span before the answer, {renders['direct']:,} "
        "with the answer alone (pre-training); the continuation problems (train and edge ops) all with the answer "
        "alone, where a thought before it can help",
        f"- held-out evaluation: {s.eval_per_op} problems per op at ops {_ops(s.eval_ops)} (train {_ops(s.train_ops)}, "
        f"edge {_ops(s.edge_ops)}, hard {_ops(s.hard_ops)}), none of them in any corpus or the GRPO stream; "
        f"{s.samples} samples each at temperature {s.eval_temperature}, at most {s.eval_max_new_tokens} new tokens; "
        "a sample counts only when VerifiedCorrect (every gold step and the answer right)",
        f"- tokenizer: byte-level BPE trained on the corpora, {stages['tokenizer']['vocab_size']} ids, digits split",
        f"- model: Qwen3-style decoder, {model.num_layers} layers, hidden {model.hidden_size}, {model.num_heads} heads "
        f"({model.num_kv_heads} KV), {numbers['params']:,} parameters",
        f"- base: NTP from scratch, {stages['base']['steps']} steps x {s.batch_size} rows x {s.seq_len} tokens "
        f"(whole documents packed, none split), lr {s.pretrain_lr:g} warmup-stable-decay (last "
        f"{100 * s.decay_fraction:.0f}% linear decay)",
        f"- RLP: {stages['rlp']['steps']} steps, {s.rlp_docs} continuation documents x {s.rlp_group} thoughts right "
        f"after `</question>`, at most {s.rlp_thought_tokens} tokens (temperature {s.rlp_temperature}), scored on "
        f"the next {s.rlp_horizon} tokens (through the answer), EMA tau {s.rlp_ema_tau}, lr {s.arm_lr:g} constant",
        f"- CPT: {stages['cpt']['steps']} NTP steps on the continuation corpus (RLP's FLOPs at the "
        f"{cpt['thought_len_source']} thought length {cpt['thought_len']:.1f}), lr {s.arm_lr:g} constant",
        f"- GRPO: {stages['grpo']['steps']} steps on ops {_ops(s.edge_ops)}, {s.grpo_prompts} prompts x "
        f"{s.grpo_rollouts} rollouts (temperature 1, rows {rows['max_prompt_tokens']} + {rows['max_new_tokens']} "
        f"tokens), reward `{s.grpo_reward}`, lr {s.grpo_lr:g} constant",
        f"- mid-training: {stages['mid']['steps']} NTP steps on the mid-training corpus, planned by "
        f"`compute.plan_mid_rl_budget` for the GRPO arm's {mid['grpo_equivalent_tokens']:,.0f} NTP-equivalent tokens",
    ]


def write_main_report(job) -> pathlib.Path:
    """Write report.md, summary.json and the PNGs into the run directory; returns the report's path."""
    root, stages = job.root, job.state["stages"]
    metrics = {arm: read_metrics(job.arm_dir(arm)) for arm in ARMS}
    results = {arm: read_results(job.eval_dir(arm)) for arm in ARMS}
    reports = {arm: aggregate(results[arm]) for arm in ARMS}
    probed = read_probed(job)
    numbers = summarize(job, results, reports, metrics, probed)
    (root / "summary.json").write_text(json.dumps(numbers, indent=1) + "\n")
    ks = numbers["ks"]
    k_shown = sorted({ks[0], ks[-1]})
    figures = {"loss": plots.loss_curves({a: metrics[a] for a in ("base", "cpt", "mid")}, root / "loss_curves.png"),
               "reward": plots.reward_curves(metrics["rlp"], metrics["grpo"], root / "rl_rewards.png"),
               "passk": plots.passk_by_op(reports, k_shown, root / "passk_by_op.png")}
    flops = numbers["flops"]
    stage_seconds = {name: info["seconds"] for name, info in stages.items() if name != "report"}
    lines = ["# rlpjax main job: where reasoning is learned, RLP / CPT / GRPO / mid-training from one base", "",
             "## Reading", "", reading(numbers), "", "## What was run", "", *_what_ran(job, numbers), "",
             "| stage | wall time |", "|---|---:|"]
    lines += [f"| {name} | {_minutes(sec)} |" for name, sec in stage_seconds.items()]
    lines += [f"| **total** | {_minutes(numbers['wall_s'])} |", "", "## Compute of each arm", "",
              "| arm | steps | FLOPs | matched to | ratio |", "|---|---:|---:|---|---:|",
              f"| base (NTP) | {stages['base']['steps']} | {flops['base']:.3e} | | |",
              f"| RLP | {stages['rlp']['steps']} | {flops['rlp']:.3e} | | |",
              f"| CPT (NTP) | {stages['cpt']['steps']} | {flops['cpt']:.3e} | RLP | {flops['cpt'] / flops['rlp']:.2f} |",
              f"| GRPO | {stages['grpo']['steps']} | {flops['grpo']:.3e} | | |",
              f"| mid-training (NTP) | {stages['mid']['steps']} | {flops['mid']:.3e} | GRPO | "
              f"{flops['mid'] / flops['grpo']:.2f} |", "",
              "FLOPs count dense matmuls and attention, forward and backward (`rlpjax.compute`). RLP is counted at its "
              "measured mean thought length with the EMA pass, prefix encoding, sampling, scoring and the update; "
              "GRPO over the padded rows its step computes on (sampling, forward and backward); each matched arm got "
              "the whole number of NTP steps closest to (CPT) or within (mid-training, the planner rounds down) "
              "that budget.", "",
              "## pass@k on held-out problems", "",
              f"Estimator: {ESTIMATOR_DOCS['unbiased']}, averaged over problems (percent). All k and the first-k "
              "estimator: `eval/<arm>/report.md`.", "", passk_table(numbers, k_shown), "",
              f"![pass@k by op]({figures['passk'].name})", "",
              "### Paired differences", "",
              f"Per problem, pass@k of one arm minus the other's, averaged over the {len(results['base'])} problems; "
              f"significant when it exceeds {SIGNIFICANCE_SE:g} standard errors (`rlpjax.main.comparison`).", "",
              paired_table(numbers), "",
              "### Weaker checks of the same samples", "",
              "Share of all samples with a closed `<answer>` tag the parser reads, with the right final answer "
              "(outcome reward R_out), and the mean ProcessAcc (share of gold steps with the right parents and value):",
              "", outcome_table(numbers["outcomes"]), "",
              "Held-out next-token loss (nats/token on the evaluation problems' solution documents), by op:", "",
              nll_table(numbers), "",
              "## Curves", "", f"![loss curves]({figures['loss'].name})", "",
              f"![RL rewards]({figures['reward'].name})", ""]
    lines += _probe_section(job, probed)
    lines += ["", "## Files", "",
              "- `main_state.json`: the settings and what each stage recorded (wall time, steps, compute, eval summaries)",
              "- `corpus/`: the generated problems and their training documents",
              "- `base/`, `rlp/`, `cpt/`, `grpo/`, `mid/`: run directories (config.json, metrics.jsonl, checkpoints/)",
              "- `eval/<arm>/`: results.json, report.md/json, examples.jsonl, PNGs; `eval/thoughts_*.jsonl`: probe",
              "- `summary.json`: the numbers the reading above was generated from", ""]
    path = root / "report.md"
    path.write_text("\n".join(lines))
    return path


def _probe_section(job, probed: dict[str, list[dict]]) -> list[str]:
    s, probe = job.settings, job.state["stages"]["probe"]
    lines = ["## Where RLP's thoughts helped and where they did not", "",
             f"Probe: on {s.probe_docs} held-out problems per op, rendered question then answer, each model thinks "
             f"where the RLP arm thinks (right after `</question>`, {s.rlp_group} thoughts each, at most "
             f"{s.rlp_thought_tokens} tokens) and every thought is scored by its information gain on the next "
             f"{s.rlp_horizon} tokens (through the answer), log p(x | context, thought) - log p(x | context), both "
             "terms from the same model (files `eval/thoughts_{base,rlp}.jsonl`). helped: share of thoughts with a "
             "positive gain; closed: share that ended with `</think>` within the cap.", "",
             "| op | split | thoughts | base: mean gain | base: helped | base: closed | RLP: mean gain | RLP: helped "
             "| RLP: closed |", "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for op in sorted(set(probe["base"]["by_op"]) | set(probe["rlp"]["by_op"]), key=int) + ["overall"]:
        b = probe["base"]["overall"] if op == "overall" else probe["base"]["by_op"].get(op)
        r = probe["rlp"]["overall"] if op == "overall" else probe["rlp"]["by_op"].get(op)
        cells = [f"{x['mean_gain']:+.3f} | {100 * x['helped_frac']:.0f}% | {100 * x['closed_frac']:.0f}%" if x
                 else "- | - | -" for x in (b, r)]
        where = "**all** | " if op == "overall" else f"{op} | {s.split_of(int(op))}"
        lines.append(f"| {where} | {(r or b)['thoughts']} | {cells[0]} | {cells[1]} |")
    ranked = sorted(probed["rlp"], key=lambda p: p["gain"])
    lines += ["", "Where RLP's thoughts helped most (highest gain):", ""]
    lines += _thought_rows(ranked[::-1][:SHOWN_THOUGHTS], s.split_of)
    lines += ["", "Where they hurt most (lowest gain):", ""] + _thought_rows(ranked[:SHOWN_THOUGHTS], s.split_of)
    first_of_op = {p["op"]: p for p in reversed(probed["rlp"]) if p["group"] == 0}
    lines += ["", "## Sample thoughts (RLP, the first thought at each op)", ""]
    return lines + _thought_rows([first_of_op[op] for op in sorted(first_of_op)], s.split_of)
