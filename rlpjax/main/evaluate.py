"""Evaluate one arm of the main job: pass@k on held-out controlled problems and next-token loss on their documents.

The held-out set is `build_eval_set(...)` with the corpus's ids excluded, so no evaluated problem was trained on;
every arm gets the same problems and the same sampling seed. The steps are those of
`rlpjax.eval.harness.evaluate_controlled` (generate, then `score_controlled`), taken apart so every sample's verdict
is kept, not only its VerifiedCorrect flag. Results land in eval/<arm>/: the eval package's own
report (report.md/json, PNGs), results.json (each problem's VerifiedCorrect flags, re-read by the main report) and
examples.jsonl.
"""

from __future__ import annotations

import dataclasses
import json
import pathlib

import numpy as np

from rlpjax.eval.generate import generate
from rlpjax.eval.harness import CONTROLLED_STOP, score_controlled
from rlpjax.eval.nll import nll_by_op
from rlpjax.eval.report import ProblemResult, write_report
from rlpjax.main.settings import MainSettings
from rlpjax.reasoning.corpora import build_eval_set
from rlpjax.reasoning.format import prompt_text
from rlpjax.reasoning.verify import verify
from rlpjax.sampling import SamplingSettings


def heldout_problems(s: MainSettings, exclude_ids) -> list[dict]:
    """The held-out problems (the same list `evaluate_controlled` samples)."""
    return build_eval_set(list(s.eval_ops), list(s.templates), list(s.modes), s.eval_per_op, s.seed, exclude_ids)


def evaluate_arm(arm: str, run_dir: pathlib.Path, out_dir: pathlib.Path, s: MainSettings, exclude_ids,
                 progress: bool = True) -> dict:
    """Sample and verify the held-out problems with the arm's newest checkpoint; a summary dict.

    Besides VerifiedCorrect (what pass@k counts), every sample's outcome-only answer check and ProcessAcc are kept
    (`answer_flags`, `process_acc` in results.json): at small scale they show progress pass@k cannot yet see.
    """
    from rlpjax.eval.loading import load_for_eval

    loaded = load_for_eval(run_dir)
    problems = heldout_problems(s, exclude_ids)
    completions = generate(loaded.graphdef, loaded.params, loaded.tokenizer, [prompt_text(p) for p in problems],
                           samples=s.samples, batch_size=s.eval_batch_size, seed=s.seed, stop_strings=CONTROLLED_STOP,
                           settings=SamplingSettings(max_new_tokens=s.eval_max_new_tokens,
                                                     temperature=s.eval_temperature),
                           add_bos=loaded.add_bos, progress=progress, desc=f"eval {arm}")
    output = score_controlled(problems, completions)
    verdicts = [[verify(text, problem) for text in texts] for problem, texts in zip(problems, completions)]
    nll, nll_ops = nll_by_op(loaded, problems, s.seq_len)
    meta = {"arm": arm, "checkpoint": loaded.source, "samples": s.samples, "temperature": s.eval_temperature,
            "max_new_tokens": s.eval_max_new_tokens, "heldout_nll": round(nll, 4)}
    out_dir.mkdir(parents=True, exist_ok=True)
    write_report(output.results, out_dir, meta=meta, nll_by_op=nll_ops)
    rows = [{**dataclasses.asdict(result), "answer_flags": [v.answer_correct for v in vs],
             "process_acc": [v.process_acc for v in vs], "format_flags": [v.predicted_answer is not None for v in vs]} for result, vs in zip(output.results, verdicts)]
    (out_dir / "results.json").write_text(json.dumps(rows))
    with (out_dir / "examples.jsonl").open("w") as handle:
        handle.writelines(json.dumps(example) + "\n" for example in output.examples)
    return {"heldout_nll": nll, "heldout_nll_by_op": {str(op): v for op, v in nll_ops.items()},
            "problems": len(output.results), "source": loaded.source}


def outcome_by_op(out_dir: pathlib.Path) -> dict:
    """{op: {"format_ok", "answer_correct": fractions of samples, "process_acc": mean}} of an arm, plus "all".

    format_ok: the sample closed with an `<answer> ... </answer>` tag the parser reads."""
    rows = json.loads((out_dir / "results.json").read_text())
    groups: dict = {}
    for row in rows:
        for key in (row["op"], "all"):
            group = groups.setdefault(key, {"format": [], "answers": [], "process": []})
            group["format"] += row["format_flags"]
            group["answers"] += row["answer_flags"]
            group["process"] += row["process_acc"]
    return {key: {"format_ok": float(np.mean(g["format"])), "answer_correct": float(np.mean(g["answers"])),
                  "process_acc": float(np.mean(g["process"]))}
            for key, g in groups.items()}


def read_results(out_dir: pathlib.Path) -> list[ProblemResult]:
    """The per-problem results an `evaluate_arm` call wrote."""
    return [ProblemResult(r["op"], r["template"], r["mode"], tuple(r["flags"]))
            for r in json.loads((out_dir / "results.json").read_text())]
