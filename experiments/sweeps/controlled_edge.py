"""Edge of competence (paper): GRPO from pretrain on the op ranges 7-10, 9-12, 11-14 and 17-20, outcome reward.

Add `grpo.edge_filter=true` to COMMON (or `--` a point) to keep only the groups the current policy sometimes
solves. `launch/sweep.py experiments/sweeps/controlled_edge.py` reads this.
"""

BASE = "experiments/controlled/rl_edge.py"
POINTS = {f"ops{low}-{high}": [f"grpo.ops={','.join(str(op) for op in range(low, high + 1))}"]
          for low, high in ((7, 10), (9, 12), (11, 14), (17, 20))}
