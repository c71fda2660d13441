"""Budget split 0.8 : 0.2, stage 1: mid-training from pretrain (steps from compute.plan_mid_rl_budget).

Paper scale; the recipe and its arithmetic are in experiments/controlled/_grid.py.

    rlpjax train --config experiments/controlled/budget_mid80.py
"""

import pathlib
import runpy

CONFIG = runpy.run_path(str(pathlib.Path(__file__).with_name("_grid.py")))["preset"](__file__)
