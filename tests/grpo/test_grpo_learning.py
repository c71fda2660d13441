"""Learning signal: GRPO with the outcome reward raises the mean reward of a briefly pre-trained tiny model.

Marked slow: on the shared 2-core CPU a byte-level model needs far more than two minutes of pre-training before any
of its temperature-1 samples reaches a right answer (observed: 150 NTP steps on op-2 problems, loss 1.35 nats/byte,
209 s; then 10 GRPO steps of 4 prompts x 8 rollouts, 446 s, reward 0.0 at every step: no group had any signal).
"""

import json

import numpy as np
import pytest

from rlpjax.config import (CheckpointConfig, Config, DataConfig, GRPOConfig, ModelConfig, OptimizerConfig, RunConfig,
                           SourceConfig)
from rlpjax.reasoning import corpora
from rlpjax.train.loop import train

MODEL = ModelConfig(family="qwen2", vocab_size=264, hidden_size=64, intermediate_size=192, num_layers=2, num_heads=4,
                    num_kv_heads=2, head_dim=16, qkv_bias=True, max_seq_len=1024)
RUN = dict(progress=False, peak_tflops=1.0)


@pytest.mark.slow(reason="needs ~thousands of CPU NTP steps before outcome rewards are ever non-zero")
def test_grpo_outcome_reward_rises(tmp_path, monkeypatch):
    monkeypatch.setitem(corpora.PRESETS, "easy", corpora.Mixture(((2, 4, 1.0),), (("A", 1.0),), ("forward",)))
    pre = Config(model=MODEL,
                 data=DataConfig(sources=(SourceConfig(name="easy", path="easy", format="controlled"),),
                                 tokenizer="byte", seq_len=512, global_batch_size=8),
                 optimizer=OptimizerConfig(learning_rate=3e-3, warmup_steps=50, min_lr_ratio=0.1),
                 checkpoint=CheckpointConfig(every_steps=0, async_save=False),
                 run=RunConfig(run_dir=str(tmp_path / "pre"), objective="ntp", steps=2000, log_every=100, **RUN))
    train(pre)
    steps = 30
    rl = Config(model=MODEL, data=DataConfig(tokenizer="byte"),
                optimizer=OptimizerConfig(learning_rate=1e-4, schedule="constant", warmup_steps=0, weight_decay=0.0),
                grpo=GRPOConfig(ops=(2, 3, 4), templates=("A",), modes=("forward",), prompts_per_step=8,
                                num_rollouts=8, max_prompt_tokens=896, max_new_tokens=384, kl_beta=0.0,
                                reward="outcome", seed=1),
                checkpoint=CheckpointConfig(every_steps=0, async_save=False),
                run=RunConfig(run_dir=str(tmp_path / "rl"), objective="grpo", steps=steps,
                              init_from=str(tmp_path / "pre"), **RUN))
    train(rl)
    rewards = [json.loads(line)["reward_mean"] for line in (tmp_path / "rl" / "metrics.jsonl").open()]
    first, last = np.mean(rewards[:5]), np.mean(rewards[-5:])
    # Each mean covers 5 steps x 64 Bernoulli rewards = 320 samples: its standard error is at most
    # sqrt(0.25 / 320) = 0.028, so the difference of two means has s.e. <= 0.04; 0.1 is 2.5 s.e.
    assert last - first > 0.1, (first, last, rewards)
