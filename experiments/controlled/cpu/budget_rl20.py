"""Budget split 0.8 : 0.2, stage 2: GRPO from budget_mid80 (steps from compute.plan_mid_rl_budget).

CPU scale; the recipe and its arithmetic are in experiments/controlled/_grid.py.

    rlpjax train --config experiments/controlled/cpu/budget_rl20.py
"""

import pathlib
import runpy

CONFIG = runpy.run_path(str(pathlib.Path(__file__).parents[1].joinpath("_grid.py")))["preset"](__file__)
