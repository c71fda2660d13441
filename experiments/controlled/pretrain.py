"""Pre-training: NTP on the `pretrain` mixture (ops 2-4/5-7/8-10 at 20/30/50%), 10B tokens, warmup 5%.

Paper scale; the recipe and its arithmetic are in experiments/controlled/_grid.py.

    rlpjax train --config experiments/controlled/pretrain.py
"""

import pathlib
import runpy

CONFIG = runpy.run_path(str(pathlib.Path(__file__).with_name("_grid.py")))["preset"](__file__)
