"""GRPO as rl_edge, trained as Dr.GRPO (no std division of the advantages, grpo.pg.aggregation=constant_length).

CPU scale; the recipe and its arithmetic are in experiments/controlled/_grid.py.

    rlpjax train --config experiments/controlled/cpu/rl_dr_grpo.py
"""

import pathlib
import runpy

CONFIG = runpy.run_path(str(pathlib.Path(__file__).parents[1].joinpath("_grid.py")))["preset"](__file__)
