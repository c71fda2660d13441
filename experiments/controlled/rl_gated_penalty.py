"""GRPO as rl_edge with the authors' code reward R_out*(a + (1-a)*ProcessAcc), a = 0.2.

Paper scale; the recipe and its arithmetic are in experiments/controlled/_grid.py.

    rlpjax train --config experiments/controlled/rl_gated_penalty.py
"""

import pathlib
import runpy

CONFIG = runpy.run_path(str(pathlib.Path(__file__).with_name("_grid.py")))["preset"](__file__)
