"""GRPO as rl_edge with the authors' process reward authors_gated, R_out*(a + (1-a)*R_pv'), a = 0.5
(the paper's other blend weight).

CPU scale; the recipe and its arithmetic are in experiments/controlled/_grid.py.

    rlpjax train --config experiments/controlled/cpu/rl_process_blend_a05.py
"""

import pathlib
import runpy

CONFIG = runpy.run_path(str(pathlib.Path(__file__).parents[1].joinpath("_grid.py")))["preset"](__file__)
