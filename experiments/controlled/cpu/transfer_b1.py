"""Pre-training where the new context B is a 1% seed.

CPU scale; the recipe and its arithmetic are in experiments/controlled/_grid.py.

    rlpjax train --config experiments/controlled/cpu/transfer_b1.py
"""

import pathlib
import runpy

CONFIG = runpy.run_path(str(pathlib.Path(__file__).parents[1].joinpath("_grid.py")))["preset"](__file__)
