"""RLP ablation: thoughts per position G in {4, 8, 16, 32} on the paper recipe (launch/sweep.py reads this)."""

BASE = "experiments/rlp_qwen3_1p7b.py"
GRID = {"rlp.group_size": [4, 8, 16, 32]}
