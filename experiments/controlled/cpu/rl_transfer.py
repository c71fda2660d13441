"""Context-transfer RL (paper section 4): GRPO on 50% context A / 50% context B over ops 2-20 from transfer_b1;
experiments/sweeps/controlled_transfer.py runs it from every transfer_b* seed.

CPU scale; the recipe and its arithmetic are in experiments/controlled/_grid.py.

    rlpjax train --config experiments/controlled/cpu/rl_transfer.py
"""

import pathlib
import runpy

CONFIG = runpy.run_path(str(pathlib.Path(__file__).parents[1].joinpath("_grid.py")))["preset"](__file__)
