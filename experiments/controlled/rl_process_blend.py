"""GRPO as rl_edge with the reward the paper's process-verified runs used: the authors' authors_gated,
R_out * (a + (1-a) * R_pv') with R_pv' = max(0, 1 - penalties / |V|), a = 0.2.

Paper scale; the recipe and its arithmetic are in experiments/controlled/_grid.py.

    rlpjax train --config experiments/controlled/rl_process_blend.py
"""

import pathlib
import runpy

CONFIG = runpy.run_path(str(pathlib.Path(__file__).with_name("_grid.py")))["preset"](__file__)
