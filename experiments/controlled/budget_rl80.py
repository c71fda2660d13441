"""Budget split 0.2 : 0.8, stage 2: GRPO from budget_mid20.

Paper scale; the recipe and its arithmetic are in experiments/controlled/_grid.py.

    rlpjax train --config experiments/controlled/budget_rl80.py
"""

import pathlib
import runpy

CONFIG = runpy.run_path(str(pathlib.Path(__file__).with_name("_grid.py")))["preset"](__file__)
