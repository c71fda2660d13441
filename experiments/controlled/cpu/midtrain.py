"""Mid-training from pretrain: NTP on the `midtrain` mixture (20% ops 2-10, 80% ops 11-14), warmup 15%,
the whole budget (split 1 : 0).

CPU scale; the recipe and its arithmetic are in experiments/controlled/_grid.py.

    rlpjax train --config experiments/controlled/cpu/midtrain.py
"""

import pathlib
import runpy

CONFIG = runpy.run_path(str(pathlib.Path(__file__).parents[1].joinpath("_grid.py")))["preset"](__file__)
