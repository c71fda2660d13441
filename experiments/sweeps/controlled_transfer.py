"""Context transfer (paper section 4): the rl_transfer GRPO run (50% A / 50% B, ops 2-20) from each pre-training
seed of context B (transfer_b0, transfer_b0p1, transfer_b1, transfer_b10; train those first)."""

BASE = "experiments/controlled/rl_transfer.py"
POINTS = {f"from-{stem}": [f"run.init_from=runs/controlled/{stem}"]
          for stem in ("transfer_b0", "transfer_b0p1", "transfer_b1", "transfer_b10")}
