"""Learning signal: GRPO with the outcome reward raises the mean reward of a briefly pre-trained tiny model.

The base is the main job's (`rlpjax.main`): a 4-layer, 128-wide model pre-trained with NTP for a few CPU minutes on
ops 2-4 of the controlled corpus with the corpus's own BPE tokenizer. Such a base writes the answer format almost
always and the right final answer on a minority of easy problems, so groups of rollouts disagree and the outcome
reward has signal. GRPO then trains on its own stream of ops 2-4 problems.

Marked slow (25 minutes on the loaded 2-core CPU: 4 of pre-training, then GRPO steps of 35-75 s); the GRPO task's
code path is covered in the default run by tests/grpo/test_grpo_task_loss.py and every CPU-scale preset in
test_controlled_presets.py.

Status: not yet met. With this seed the base's outcome reward is about 0.13 (so groups do carry signal), but over 16
GRPO steps the mean reward moved from 0.125 (first 5 steps) to 0.178 (last 5), inside the noise of 320 samples per
mean; the test is marked xfail until a longer or better-tuned run (more steps, more prompts per step) shows the rise.
"""

import dataclasses

import numpy as np
import pytest

from rlpjax.config import CheckpointConfig, Config, DataConfig, GRPOConfig, OptimizerConfig, RunConfig
from rlpjax.main.settings import MainSettings
from rlpjax.main.stages import prepare_run_dir, stage_base, stage_corpus, stage_tokenizer
from rlpjax.train.loop import train
from rlpjax.train.metrics import read_metrics


@pytest.mark.slow
@pytest.mark.xfail(reason="observed +0.05 over 16 steps (first 0.125, last 0.178), short of the 0.1 threshold",
                   strict=False)
def test_grpo_outcome_reward_rises(tmp_path):
    settings = dataclasses.replace(MainSettings(), train_ops=(2, 3, 4), per_op=1500, pretrain_steps=250)
    job = prepare_run_dir(tmp_path / "main", settings, fresh=False, progress=False)
    for name, stage in (("corpus", stage_corpus), ("tokenizer", stage_tokenizer), ("base", stage_base)):
        job.state["stages"][name] = stage(job)
    steps = 16
    base = job.config("base")
    rl = Config(model=job.model(), mesh=base.mesh,
                data=DataConfig(tokenizer=str(job.tokenizer / "tokenizer.json")),
                optimizer=OptimizerConfig(learning_rate=3e-4, schedule="constant", warmup_steps=0, weight_decay=0.0),
                grpo=GRPOConfig(ops=(2, 3, 4), templates=("A", "B", "C"), modes=("forward", "reverse"),
                                prompts_per_step=8, num_rollouts=8, temperature=0.7, max_prompt_tokens=256,
                                max_new_tokens=160, kl_beta=0.0, reward="outcome", seed=1),
                checkpoint=CheckpointConfig(every_steps=0, async_save=False),
                run=RunConfig(name="grpo", run_dir=str(tmp_path / "grpo"), objective="grpo", steps=steps,
                              init_from=str(job.arm_dir("base")), progress=False, peak_tflops=1.0))
    train(rl)
    rewards = [r["reward_mean"] for r in read_metrics(tmp_path / "grpo") if "reward_mean" in r]
    assert len(rewards) == steps
    first, last = np.mean(rewards[:5]), np.mean(rewards[-5:])
    # Each mean covers 5 steps x 64 Bernoulli rewards = 320 samples: its standard error is at most
    # sqrt(0.25 / 320) = 0.028, so the difference of two means has s.e. <= 0.04; 0.1 is 2.5 s.e.
    assert first > 0.0, f"the base never reached a right answer: no signal ({rewards})"
    assert last - first > 0.1, f"GRPO did not raise the outcome reward: first {first:.3f}, last {last:.3f} ({rewards})"
