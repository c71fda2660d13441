"""The run behind test_grpo_learning.py, in its own process on one CPU device: main-job base, then GRPO.

Usage: python grpo_learning_run.py WORKDIR -> prints the per-step mean outcome rewards as JSON on its last line.
"""

import dataclasses
import json
import pathlib
import sys

from rlpjax.config import CheckpointConfig, Config, DataConfig, GRPOConfig, OptimizerConfig, RunConfig
from rlpjax.main.settings import MainSettings
from rlpjax.main.stages import prepare_run_dir, stage_base, stage_corpus, stage_tokenizer
from rlpjax.train.loop import train
from rlpjax.train.metrics import read_metrics

STEPS = 40


def main(workdir: pathlib.Path) -> list[float]:
    settings = dataclasses.replace(MainSettings(), train_ops=(2, 3, 4), per_op=1500, pretrain_steps=250)
    job = prepare_run_dir(workdir / "main", settings, fresh=False, progress=False)
    for name, stage in (("corpus", stage_corpus), ("tokenizer", stage_tokenizer), ("base", stage_base)):
        job.state["stages"][name] = stage(job)
    rl = Config(model=job.model(), mesh=job.config("base").mesh,
                data=DataConfig(tokenizer=str(job.tokenizer / "tokenizer.json")),
                optimizer=OptimizerConfig(learning_rate=1e-4, schedule="constant", warmup_steps=0, weight_decay=0.0),
                grpo=GRPOConfig(ops=(2, 3, 4), templates=("A", "B", "C"), modes=("forward", "reverse"),
                                prompts_per_step=8, num_rollouts=8, temperature=0.7, max_prompt_tokens=256,
                                max_new_tokens=160, kl_beta=0.0, reward="outcome", seed=1,
                                ratio_logprobs="model"),  # the ratio the test's figures were measured with
                checkpoint=CheckpointConfig(every_steps=0, async_save=False),
                run=RunConfig(name="grpo", run_dir=str(workdir / "grpo"), objective="grpo", steps=STEPS,
                              init_from=str(job.arm_dir("base")), progress=False, peak_tflops=1.0))
    train(rl)
    return [r["reward_mean"] for r in read_metrics(workdir / "grpo") if "reward_mean" in r]


if __name__ == "__main__":
    print(json.dumps(main(pathlib.Path(sys.argv[1]))))
