"""The objectives `run.objective` may name: a plain table, importable without JAX, so the config pass can check a
name before anything heavy loads (`train.task.get_task` imports the chosen module only when it builds the task)."""

TASKS: dict[str, str] = {
    "ntp": "rlpjax.train.tasks.ntp:NTPTask",
    "rlp": "rlpjax.train.tasks.rlp:RLPTask",
    "grpo": "rlpjax.train.tasks.grpo:GRPOTask",
}
"""Objective name -> "module:class" of its Task (imported only when used)."""
