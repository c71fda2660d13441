"""The run behind test_grpo_learning.py, in its own process on one CPU device: the main job's base, then GRPO.

Usage: python grpo_learning_run.py WORKDIR -> prints, on its last line, JSON with the base's and the GRPO model's
per-problem VerifiedCorrect flags on GRPO's problems (`results`), and GRPO's per-step metrics.
"""

import json
import pathlib
import sys

from rlpjax.config import (CheckpointConfig, Config, DataConfig, GRPOConfig, OptimizerConfig, PolicyGradientConfig,
                           RunConfig)
from rlpjax.eval.generate import generate
from rlpjax.eval.harness import CONTROLLED_STOP
from rlpjax.eval.loading import load_for_eval
from rlpjax.main.settings import MainSettings
from rlpjax.main.stages import prepare_run_dir, stage_base, stage_corpus, stage_tokenizer
from rlpjax.reasoning.format import prompt_text
from rlpjax.reasoning.verify import verify
from rlpjax.sampling import SamplingSettings
from rlpjax.train.loop import train
from rlpjax.train.metrics import read_metrics
from rlpjax.data.rl_problems import ProblemStream

STEPS = 30
"""GRPO steps: 8 prompts a step, so about 7 epochs over the pool."""
POOL = 32
"""Distinct op-3 problems GRPO trains on (`grpo.problem_pool`), and the problems both models are evaluated on."""
SAMPLES = 16
"""Samples per problem at the main job's evaluation temperature."""


def verified_flags(run_dir: pathlib.Path, problems: list[dict], settings: MainSettings) -> list[list[bool]]:
    """VerifiedCorrect of SAMPLES samples per problem from the newest checkpoint of `run_dir`."""
    loaded = load_for_eval(run_dir)
    completions = generate(loaded.graphdef, loaded.params, loaded.tokenizer, [prompt_text(p) for p in problems],
                           samples=SAMPLES, batch_size=settings.eval_batch_size, seed=settings.seed,
                           stop_strings=CONTROLLED_STOP, add_bos=loaded.add_bos, progress=False,
                           settings=SamplingSettings(max_new_tokens=settings.eval_max_new_tokens,
                                                     temperature=settings.eval_temperature))
    return [[verify(text, problem).verified_correct for text in texts] for problem, texts in zip(problems, completions)]


def main(workdir: pathlib.Path) -> dict:
    settings = MainSettings()  # the main job's default base: it solves most op-2 and some op-3 problems
    job = prepare_run_dir(workdir / "main", settings, fresh=False, progress=False)
    for name, stage in (("corpus", stage_corpus), ("tokenizer", stage_tokenizer), ("base", stage_base)):
        job.state["stages"][name] = stage(job)
    rows = job.state["stages"]["tokenizer"]["grpo_rows"]
    grpo = GRPOConfig(ops=(3,), templates=settings.templates, modes=settings.modes, prompts_per_step=8,
                      num_rollouts=8, problem_pool=POOL, max_prompt_tokens=rows["max_prompt_tokens"],
                      max_new_tokens=rows["max_new_tokens"], pg=PolicyGradientConfig(kl_beta=0.0),
                      reward="authors_gated", seed=1)
    rl = Config(model=job.model(), mesh=job.config("base").mesh,
                data=DataConfig(tokenizer=str(job.tokenizer / "tokenizer.json")),
                optimizer=OptimizerConfig(learning_rate=3e-4, schedule="constant", warmup_steps=0, weight_decay=0.0),
                grpo=grpo, checkpoint=CheckpointConfig(every_steps=STEPS, async_save=False),
                run=RunConfig(name="grpo", run_dir=str(workdir / "grpo"), objective="grpo", steps=STEPS,
                              init_from=str(job.arm_dir("base")), progress=False, peak_tflops=1.0))
    train(rl)
    stream = ProblemStream(grpo)
    problems = [stream.problem(i) for i in range(POOL)]
    results = {arm: verified_flags(run_dir, problems, settings)
               for arm, run_dir in (("base", job.arm_dir("base")), ("grpo", workdir / "grpo"))}
    metrics = [{k: m[k] for k in ("reward_mean", "verified_accuracy") if k in m} for m in read_metrics(workdir / "grpo")]
    return {"results": results, "metrics": metrics}


if __name__ == "__main__":
    print(json.dumps(main(pathlib.Path(sys.argv[1]))))
