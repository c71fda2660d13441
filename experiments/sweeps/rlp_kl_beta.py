"""RLP ablation: KL weight to the frozen reference, beta in {0, 1e-4, 1e-3}, on the paper recipe (0 is the paper's)."""

BASE = "experiments/rlp_qwen3_1p7b.py"
GRID = {"rlp.pg.kl_beta": [0.0, 1e-4, 1e-3]}
