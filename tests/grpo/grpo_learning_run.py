"""The run behind test_grpo_learning.py, in its own process on one CPU device: the main job's base, then GRPO.

Usage: python grpo_learning_run.py WORKDIR -> prints, on its last line, JSON with the base's and the GRPO model's
per-problem VerifiedCorrect flags on the same held-out problems (`results`), and GRPO's per-step metrics.
"""

import dataclasses
import json
import pathlib
import sys

from rlpjax.config import CheckpointConfig, Config, DataConfig, GRPOConfig, OptimizerConfig, RunConfig
from rlpjax.main.evaluate import evaluate_arm, read_results
from rlpjax.main.settings import MainSettings
from rlpjax.main.stages import prepare_run_dir, stage_base, stage_corpus, stage_tokenizer, training_ids
from rlpjax.train.loop import train
from rlpjax.train.metrics import read_metrics

STEPS = 30
EVAL_OPS = (3,)
"""Held-out op of the comparison: the base solves some op-3 problems (pass@16 about 20%), not most."""


def main(workdir: pathlib.Path) -> dict:
    settings = MainSettings()  # the main job's default base: it solves most op-2 and some op-3 problems
    job = prepare_run_dir(workdir / "main", settings, fresh=False, progress=False)
    for name, stage in (("corpus", stage_corpus), ("tokenizer", stage_tokenizer), ("base", stage_base)):
        job.state["stages"][name] = stage(job)
    rows = job.state["stages"]["tokenizer"]["grpo_rows"]
    rl = Config(model=job.model(), mesh=job.config("base").mesh,
                data=DataConfig(tokenizer=str(job.tokenizer / "tokenizer.json")),
                optimizer=OptimizerConfig(learning_rate=1e-4, schedule="constant", warmup_steps=0, weight_decay=0.0),
                grpo=GRPOConfig(ops=settings.train_ops, templates=settings.templates, modes=settings.modes,
                                prompts_per_step=8, num_rollouts=8, temperature=1.0,
                                max_prompt_tokens=rows["max_prompt_tokens"], max_new_tokens=rows["max_new_tokens"],
                                kl_beta=0.0, reward="authors_gated", seed=1),
                checkpoint=CheckpointConfig(every_steps=STEPS, async_save=False),
                run=RunConfig(name="grpo", run_dir=str(workdir / "grpo"), objective="grpo", steps=STEPS,
                              init_from=str(job.arm_dir("base")), progress=False, peak_tflops=1.0))
    train(rl)
    heldout = dataclasses.replace(settings, train_ops=EVAL_OPS, edge_ops=(), hard_ops=())
    results = {}
    for arm, run_dir in (("base", job.arm_dir("base")), ("grpo", workdir / "grpo")):
        evaluate_arm(arm, run_dir, workdir / "eval" / arm, heldout, training_ids(job), progress=False)
        results[arm] = [list(r.flags) for r in read_results(workdir / "eval" / arm)]
    metrics = [{k: m[k] for k in ("reward_mean", "verified_accuracy") if k in m} for m in read_metrics(workdir / "grpo")]
    return {"results": results, "metrics": metrics}


if __name__ == "__main__":
    print(json.dumps(main(pathlib.Path(sys.argv[1]))))
