"""Learning signal: GRPO with the outcome reward raises the mean reward of a briefly pre-trained tiny model.

The base is the main job's (`rlpjax.main`): a 4-layer, 128-wide model pre-trained with NTP for a few CPU minutes on
ops 2-4 of the controlled corpus with the corpus's own BPE tokenizer. Such a base writes the answer format almost
always and the right final answer on a minority of easy problems, so groups of rollouts disagree and the outcome
reward has signal. GRPO then trains on its own stream of ops 2-4 problems.

Observed with this seed: the mean outcome reward of the first 5 GRPO steps is 0.147 and of the last 5 is 0.300 (40
steps at learning rate 1e-4). A learning rate of 3e-4 over 16 steps gave only +0.05, and 1e-3 collapsed (the policy's
entropy rose from 0.6 to 4 nats and every response ran to the length cap): small models want small RL steps.

Marked slow (about 7 minutes on a quiet 2-core CPU: 3 of pre-training, then 40 GRPO steps of about 10 s); the GRPO
task's code path is covered in the default run by tests/grpo/test_grpo_task_loss.py and every CPU-scale preset in
test_controlled_presets.py.
"""

import json
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

RUNNER = pathlib.Path(__file__).with_name("grpo_learning_run.py")


@pytest.mark.slow
def test_grpo_outcome_reward_rises(tmp_path):
    """The run (grpo_learning_run.py) goes in a child process on one CPU device, as a user's CPU run would: the
    suite's 8 virtual devices would make every step several times slower on 2 cores."""
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=1", JAX_NUM_CPU_DEVICES="1")
    proc = subprocess.run([sys.executable, str(RUNNER), str(tmp_path)], capture_output=True, text=True, env=env,
                          timeout=1800)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rewards = json.loads(proc.stdout.strip().splitlines()[-1])
    assert len(rewards) == 40
    first, last = np.mean(rewards[:5]), np.mean(rewards[-5:])
    # Each mean covers 5 steps x 64 Bernoulli rewards = 320 samples: its standard error is at most
    # sqrt(0.25 / 320) = 0.028, so the difference of two means has s.e. <= 0.04; 0.1 is 2.5 s.e.
    assert first > 0.0, f"the base never reached a right answer: no signal ({rewards})"
    assert last - first > 0.1, f"GRPO did not raise the outcome reward: first {first:.3f}, last {last:.3f} ({rewards})"
