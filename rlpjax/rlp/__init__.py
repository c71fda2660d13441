"""RLP machinery on top of the model and sampler.

- `thoughts.py`: the `<think>` / `</think>` token ids (the tokenizer's own, or added with a grown vocabulary).
- `rollout.py`:  positions, shared-prefix branch sampling, S_pred / S_ema scoring (no gradient), and the naive
  re-encoding layout for the benchmark.
- `loss.py`:     the update's loss: thought log-probs recomputed with gradient in the same layout, then the pure
  objective of `rlpjax/objectives/rlp.py`.
The task that plugs this into `rlpjax train` is `rlpjax/train/tasks/rlp.py`.
"""
