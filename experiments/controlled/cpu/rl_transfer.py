"""GRPO on context B only (ops as rl_edge) from transfer_b1; set run.init_from to another transfer_b* run
to compare seed fractions.

CPU scale; the recipe and its arithmetic are in experiments/controlled/_grid.py.

    rlpjax train --config experiments/controlled/cpu/rl_transfer.py
"""

import pathlib
import runpy

CONFIG = runpy.run_path(str(pathlib.Path(__file__).parents[1].joinpath("_grid.py")))["preset"](__file__)
