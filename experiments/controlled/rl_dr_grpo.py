"""GRPO as rl_edge, trained as Dr.GRPO (Liu et al. 2025): advantages r - mean without the std division, and token
sums divided by responses x max_new_tokens (grpo.pg.aggregation=constant_length), so neither a group's spread nor a
response's length rescales its gradient.

Paper scale; the recipe and its arithmetic are in experiments/controlled/_grid.py.

    rlpjax train --config experiments/controlled/rl_dr_grpo.py
"""

import pathlib
import runpy

CONFIG = runpy.run_path(str(pathlib.Path(__file__).with_name("_grid.py")))["preset"](__file__)
