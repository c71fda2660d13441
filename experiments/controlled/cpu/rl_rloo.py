"""GRPO as rl_edge, trained with RLOO's baseline (Ahmadian et al. 2024): each rollout's advantage is its
reward minus the mean of the prompt's other rollouts (grpo.pg.advantage=leave_one_out), no std division, the loss a
mean over responses (aggregation=seq_mean).

CPU scale; the recipe and its arithmetic are in experiments/controlled/_grid.py.

    rlpjax train --config experiments/controlled/cpu/rl_rloo.py
"""

import pathlib
import runpy

CONFIG = runpy.run_path(str(pathlib.Path(__file__).parents[1].joinpath("_grid.py")))["preset"](__file__)
