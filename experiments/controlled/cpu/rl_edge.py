"""GRPO from pretrain at the edge of competence (ops 11-14), outcome reward, the whole budget (split 0 : 1).

CPU scale; the recipe and its arithmetic are in experiments/controlled/_grid.py.

    rlpjax train --config experiments/controlled/cpu/rl_edge.py
"""

import pathlib
import runpy

CONFIG = runpy.run_path(str(pathlib.Path(__file__).parents[1].joinpath("_grid.py")))["preset"](__file__)
