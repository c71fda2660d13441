"""report.md of the main job: what ran, the compute of each arm, pass@k of base / CPT / RLP, the curves, where
thoughts helped, sample thoughts, and a reading of the numbers generated from the numbers themselves.

Everything is read back from the run directory (main_state.json, each arm's metrics.jsonl, eval/*/results.json,
eval/thoughts_*.jsonl), so the report can be rewritten from a finished run without running anything again.
"""

from __future__ import annotations

import json
import pathlib

import numpy as np

from rlpjax import compute
from rlpjax.eval.report import ESTIMATOR_DOCS, aggregate
from rlpjax.main import plots
from rlpjax.main.evaluate import outcome_by_op, read_results
from rlpjax.main.reading import reading
from rlpjax.train.metrics import read_metrics

SHOWN_THOUGHTS = 3
"""Thoughts shown in each of the best, worst and sample lists."""


def _cell(text: str) -> str:
    """Text safe inside a markdown table cell, as code."""
    return "`" + text.replace("`", "'").replace("|", "\\|").replace("\n", "⏎") + "`" if text else "(empty)"


def _minutes(seconds: float) -> str:
    return f"{int(seconds // 60)}m{seconds % 60:04.1f}s"


def paired_pass1_diff(a, b) -> tuple[float, float]:
    """Mean and standard error over problems of pass@1(a) - pass@1(b) (same problems, same order), in points."""
    diffs = np.array([sum(x.flags) / len(x.flags) - sum(y.flags) / len(y.flags) for x, y in zip(a, b, strict=True)])
    se = diffs.std(ddof=1) / np.sqrt(len(diffs)) if len(diffs) > 1 else float("nan")
    return 100 * float(diffs.mean()), 100 * float(se)


def passk_table(reports: dict[str, dict], ks: list[int]) -> str:
    """Rows: ops and all; columns: pass@k of each arm for the smallest and largest k."""
    shown = sorted({ks[0], ks[-1]})
    arms = list(reports)
    head = "| op | problems | " + " | ".join(f"pass@{k} {arm.upper()}" for k in shown for arm in arms) + " |"
    lines = [head, "|---|---:|" + "---:|" * (len(shown) * len(arms))]
    first = reports[arms[0]]
    rows = [(str(op), lambda r, op=op: r["by_op"][op]) for op in first["by_op"]] + [("**all**", lambda r: r["overall"])]
    for name, pick in rows:
        cells = [f"{100 * pick(reports[arm])['unbiased'][k]:.1f}" for k in shown for arm in arms]
        lines.append(f"| {name} | {pick(first)['problems']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def outcome_table(outcomes: dict[str, dict]) -> str:
    """Rows: ops and all; columns: share of samples with the right answer, and mean ProcessAcc, of each arm."""
    arms = list(outcomes)
    columns = {"format_ok": "answer tag", "answer_correct": "answer right", "process_acc": "ProcessAcc"}
    lines = ["| op | " + " | ".join(f"{title} {a.upper()}" for title in columns.values() for a in arms) + " |",
             "|---|" + "---:|" * (len(columns) * len(arms))]
    for key in [k for k in outcomes[arms[0]] if k != "all"] + ["all"]:
        cells = [f"{100 * outcomes[a][key][column]:.1f}" for column in columns for a in arms]
        lines.append(f"| {'**all**' if key == 'all' else key} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _thought_rows(items: list[dict]) -> list[str]:
    lines = ["| gain (nats) | context tail | thought | next token | where |", "|---:|---|---|---|---|"]
    lines += [f"| {p['gain']:+.3f} | {_cell(p['context_tail'])} | {_cell(p['thought'])} | {_cell(p['next_token'])} "
              f"| {p['section']} / {p['kind']} |" for p in items]
    return lines


def _read_jsonl(path: pathlib.Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def write_main_report(job) -> pathlib.Path:
    """Write report.md and the three PNGs into the run directory; returns the report's path."""
    s, root, stages = job.settings, job.root, job.state["stages"]
    metrics = {arm: read_metrics(job.arm_dir(arm)) for arm in ("base", "cpt", "rlp")}
    results = {arm: read_results(job.eval_dir(arm)) for arm in ("base", "cpt", "rlp")}
    reports = {arm: aggregate(results[arm]) for arm in results}
    outcomes = {arm: outcome_by_op(job.eval_dir(arm)) for arm in results}
    ks = reports["base"]["ks"]
    cost = stages["cpt"]["compute"]
    model = job.model()
    params = compute.count_params(model)
    figures = {"loss": plots.loss_curves(metrics["base"], metrics["cpt"], root / "loss_curves.png"),
               "reward": plots.reward_curve(metrics["rlp"], root / "rlp_reward.png"),
               "passk": plots.passk_by_op(reports, sorted({ks[0], ks[-1]}), root / "passk_by_op.png")}
    probed = {arm: _read_jsonl(root / "eval" / f"thoughts_{arm}.jsonl") for arm in ("base", "rlp")}
    probe = stages["probe"]
    diff, se = paired_pass1_diff(results["rlp"], results["cpt"])
    numbers = {
        "ks": ks, "overall": {arm: reports[arm]["overall"]["unbiased"] for arm in reports},
        "problems": len(results["base"]),
        "format_ok": {arm: outcomes[arm]["all"]["format_ok"] for arm in outcomes},
        "answer_correct": {arm: outcomes[arm]["all"]["answer_correct"] for arm in outcomes},
        "process_acc": {arm: outcomes[arm]["all"]["process_acc"] for arm in outcomes}, "rlp_minus_cpt_pass1": diff, "rlp_minus_cpt_se": se,
        "nll": {arm: stages["eval"][arm]["heldout_nll"] for arm in reports},
        "reward": [m["reward_mean"] for m in metrics["rlp"]],
        "truncated_frac": float(np.mean([m["truncated_frac"] for m in metrics["rlp"]])),
        "probe_gain": {arm: probe[arm]["overall"]["mean_gain"] for arm in ("base", "rlp")},
        "probe_helped": {arm: probe[arm]["overall"]["helped_frac"] for arm in ("base", "rlp")},
        "probe_diff_se": float(np.sqrt(sum(np.var([p["gain"] for p in probed[arm]], ddof=1) / len(probed[arm])
                                           for arm in ("base", "rlp")))),
        "params": params.total, "base_tokens": cost["base_tokens"],
    }
    (root / "summary.json").write_text(json.dumps(numbers, indent=1) + "\n")

    stage_seconds = {name: info["seconds"] for name, info in stages.items() if name != "report"}
    lines = ["# rlpjax main job: RLP vs FLOP-matched continued pretraining on controlled reasoning", "",
             "## Reading", "", reading(numbers), "",
             "## What was run", "",
             f"- corpus: {stages['corpus']['problems']} synthetic problems, ops {_ops(s.train_ops)}, templates "
             f"{','.join(s.templates)}, modes {','.join(s.modes)} (`corpus/`); held-out evaluation problems are "
             "drawn from a separate stream and every id found in the corpus is excluded",
             f"- tokenizer: byte-level BPE trained on the corpus, {stages['tokenizer']['vocab_size']} ids, digits "
             "split, `<think>`/`</think>` and the section tags as special tokens (`tokenizer/`)",
             f"- model: Qwen3-style decoder, {model.num_layers} layers, hidden {model.hidden_size}, "
             f"{model.num_heads} heads ({model.num_kv_heads} KV), {params.total:,} parameters "
             f"({params.matmul:,} in matmuls, the P of 6P)",
             f"- base: NTP from scratch, {stages['base']['steps']} steps x {s.batch_size} packed rows x {s.seq_len} "
             f"tokens = {cost['base_tokens']:,} tokens, lr {s.pretrain_lr:g} cosine",
             f"- RLP arm: {stages['rlp']['steps']} steps from the base, {s.rlp_docs} documents x {s.rlp_positions} "
             f"positions x {s.rlp_group} thoughts of at most {s.rlp_thought_tokens} tokens (temperature "
             f"{s.rlp_temperature}), EMA tau {s.rlp_ema_tau}, lr {s.arm_lr:g} constant",
             f"- CPT arm: {stages['cpt']['steps']} NTP steps from the base on the same data order as RLP, lr "
             f"{s.arm_lr:g} constant",
             f"- evaluation: {numbers['problems']} held-out problems (ops {_ops(s.eval_ops)}, {s.eval_per_op} per "
             f"op), {s.samples} samples each at temperature {s.eval_temperature}, at most {s.eval_max_new_tokens} "
             "new tokens; a sample counts only when VerifiedCorrect (every gold step and the answer right)",
             "", "| stage | wall time |", "|---|---:|"]
    lines += [f"| {name} | {_minutes(sec)} |" for name, sec in stage_seconds.items()]
    lines += [f"| **total** | {_minutes(sum(stage_seconds.values()))} |", "",
              "## Compute of each arm", "",
              "| arm | steps | tokens read | FLOPs | FLOPs / RLP |", "|---|---:|---:|---:|---:|",
              f"| base (NTP) | {stages['base']['steps']} | {cost['base_tokens']:,} | {cost['base_flops']:.3e} | "
              f"{cost['base_flops'] / cost['rlp_flops']:.2f} |",
              f"| RLP | {stages['rlp']['steps']} | {cost['rlp_doc_tokens']:,} (+ thoughts) | "
              f"{cost['rlp_flops']:.3e} | 1.00 |",
              f"| CPT (NTP) | {stages['cpt']['steps']} | {cost['cpt_tokens']:,} | {cost['cpt_flops']:.3e} | "
              f"{cost['cpt_flops'] / cost['rlp_flops']:.2f} |", "",
              f"FLOPs count dense matmuls and attention, forward and backward (`rlpjax.compute`). The RLP step is "
              f"counted at the **{cost['thought_len_source']}** mean thought length of the RLP run "
              f"({cost['thought_len']:.2f} tokens, `</think>` included; the cap is {s.rlp_thought_tokens}: "
              f"{cost['rlp_flops_at_cap']:.3e} FLOPs if every thought ran to it), with EMA pass, prefix encoding, "
              "sampling, scoring and the update; CPT got the whole number of NTP steps closest to that budget.", "",
              "## pass@k on held-out problems", "",
              f"Estimator: {ESTIMATOR_DOCS['unbiased']}, averaged over problems (percent). Full tables per arm, "
              "both estimators: `eval/<arm>/report.md`.", "", passk_table(reports, ks), "",
              f"RLP minus CPT, pass@1: {diff:+.1f} points (standard error {se:.1f} over {numbers['problems']} paired "
              "problems).", "",
              "Weaker checks of the same samples (percent of all samples): the answer format (a closed `<answer>` "
              "tag the parser reads), the final answer alone (outcome reward R_out), and ProcessAcc (share of gold "
              "steps reproduced with the right parents and value):",
              "", outcome_table(outcomes), "",
              "Held-out next-token loss (nats/token on the evaluation problems' full documents): " + ", ".join(
                  f"{arm.upper()} {numbers['nll'][arm]:.4f}" for arm in ("base", "cpt", "rlp")) + ".", "",
              f"![pass@k by op]({figures['passk'].name})", "",
              "## Curves", "", f"![loss curves]({figures['loss'].name})", "", f"![RLP reward]({figures['reward'].name})",
              "", "## Where RLP's thoughts helped and where they did not", "",
              f"Probe: on {s.probe_docs} held-out documents, each model thinks at evenly spaced positions "
              f"({s.rlp_group} thoughts each) and every thought is scored by its information gain log p(x_t | "
              "context, thought) - log p(x_t | context), both terms from the same model (files "
              "`eval/thoughts_{base,rlp}.jsonl`).", "",
              "| where (section / next token) | thoughts | base: mean gain | base: helped | RLP: mean gain | "
              "RLP: helped |", "|---|---:|---:|---:|---:|---:|"]
    for place in sorted(set(probe["base"]["by_place"]) | set(probe["rlp"]["by_place"])) + ["overall"]:
        b = probe["base"]["overall"] if place == "overall" else probe["base"]["by_place"].get(place)
        r = probe["rlp"]["overall"] if place == "overall" else probe["rlp"]["by_place"].get(place)
        count = (r or b)["thoughts"]
        cells = [f"{x['mean_gain']:+.3f} | {100 * x['helped_frac']:.0f}%" if x else "- | -" for x in (b, r)]
        lines.append(f"| {'**overall**' if place == 'overall' else place} | {count} | {cells[0]} | {cells[1]} |")
    ranked = sorted(probed["rlp"], key=lambda p: p["gain"])
    lines += ["", "Where RLP's thoughts helped most (highest gain):", ""] + _thought_rows(ranked[::-1][:SHOWN_THOUGHTS])
    lines += ["", "Where they hurt most (lowest gain):", ""] + _thought_rows(ranked[:SHOWN_THOUGHTS])
    samples = [p for p in probed["rlp"] if p["group"] == 0][::max(1, len(probed["rlp"]) // (4 * SHOWN_THOUGHTS))]
    lines += ["", "## Sample thoughts (RLP, first thought at spread-out positions)", ""]
    lines += _thought_rows(samples[:SHOWN_THOUGHTS + 1])
    lines += ["", "## Files", "",
              "- `main_state.json`: the settings and what each stage recorded (wall time, steps, compute, eval summaries)",
              "- `base/`, `rlp/`, `cpt/`: run directories (config.json, metrics.jsonl, checkpoints/, tensorboard/)",
              "- `eval/<arm>/`: results.json, report.md/json, examples.jsonl, PNGs; `eval/thoughts_*.jsonl`: probe",
              "- `summary.json`: the numbers the reading above was generated from", ""]
    path = root / "report.md"
    path.write_text("\n".join(lines))
    return path


def _ops(ops) -> str:
    ops = sorted(ops)
    return f"{ops[0]}-{ops[-1]}" if ops == list(range(ops[0], ops[-1] + 1)) else ",".join(map(str, ops))
