"""RLP ablation: thought length cap from 64 to 4096 tokens on the paper recipe (launch/sweep.py reads this)."""

BASE = "experiments/rlp_qwen3_1p7b.py"
GRID = {"rlp.max_thought_tokens": [64, 128, 256, 512, 1024, 2048, 4096]}
