"""The training loop every objective runs in.

- `state.py`      TrainState: params, optimizer state, optional EMA / reference params, step, RNG.
- `optimizer.py`  optax AdamW with the weight-decay mask, schedules and clipping from OptimizerConfig.
- `update.py`     the generic pure update step (gradient accumulation, divergence guard, EMA).
- `checkpoint.py` orbax checkpoints: async saves, retention, atomicity, fallback past a corrupt latest step.
- `metrics.py`    JSONL + TensorBoard writers, throughput and MFU.
- `loop.py`       `train(cfg)`: mesh, model, state, data, the objective's step, checkpoints, preemption.
- `distributed.py` multi-host initialisation from the environment or flags.
- `cli.py`        `rlpjax train`.
"""
