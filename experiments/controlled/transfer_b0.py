"""Pre-training where the new context B is absent (0%); A and C share the rest.

Paper scale; the recipe and its arithmetic are in experiments/controlled/_grid.py.

    rlpjax train --config experiments/controlled/transfer_b0.py
"""

import pathlib
import runpy

CONFIG = runpy.run_path(str(pathlib.Path(__file__).with_name("_grid.py")))["preset"](__file__)
