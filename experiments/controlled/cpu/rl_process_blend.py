"""GRPO as rl_edge with the paper's blended reward a*R_out + (1-a)*ProcessAcc, a = 0.2.

CPU scale; the recipe and its arithmetic are in experiments/controlled/_grid.py.

    rlpjax train --config experiments/controlled/cpu/rl_process_blend.py
"""

import pathlib
import runpy

CONFIG = runpy.run_path(str(pathlib.Path(__file__).parents[1].joinpath("_grid.py")))["preset"](__file__)
