"""GRPO from pretrain at the edge of competence (ops 11-14), outcome reward, the whole budget (split 0 : 1).

Paper scale; the recipe and its arithmetic are in experiments/controlled/_grid.py.

    rlpjax train --config experiments/controlled/rl_edge.py
"""

import pathlib
import runpy

CONFIG = runpy.run_path(str(pathlib.Path(__file__).with_name("_grid.py")))["preset"](__file__)
