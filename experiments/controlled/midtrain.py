"""Mid-training from pretrain: NTP on the `midtrain` mixture (20% ops 2-10, 80% ops 11-14), warmup 15%,
the whole budget (split 1 : 0).

Paper scale; the recipe and its arithmetic are in experiments/controlled/_grid.py.

    rlpjax train --config experiments/controlled/midtrain.py
"""

import pathlib
import runpy

CONFIG = runpy.run_path(str(pathlib.Path(__file__).with_name("_grid.py")))["preset"](__file__)
