"""Pre-training headroom: the rl_edge GRPO run (ops 11-14) from pre-training with the hard ops 8-10 at 0.1, 1, 10 and
50% of the problems (headroom_h0p1, headroom_h1, headroom_h10 and pretrain; train those first)."""

BASE = "experiments/controlled/rl_edge.py"
POINTS = {f"from-{stem}": [f"run.init_from=runs/controlled/{stem}"]
          for stem in ("headroom_h0p1", "headroom_h1", "headroom_h10", "pretrain")}
