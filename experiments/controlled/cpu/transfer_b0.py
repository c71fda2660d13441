"""Pre-training where the new context B is absent (0%); A and C share the rest.

CPU scale; the recipe and its arithmetic are in experiments/controlled/_grid.py.

    rlpjax train --config experiments/controlled/cpu/transfer_b0.py
"""

import pathlib
import runpy

CONFIG = runpy.run_path(str(pathlib.Path(__file__).parents[1].joinpath("_grid.py")))["preset"](__file__)
