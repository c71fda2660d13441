"""Pre-training headroom: the pretrain mixture with the hard ops 8-10 at 10%; corpus preset headroom-h10.

Paper scale; the recipe and its arithmetic are in experiments/controlled/_grid.py.

    rlpjax train --config experiments/controlled/headroom_h10.py
"""

import pathlib
import runpy

CONFIG = runpy.run_path(str(pathlib.Path(__file__).with_name("_grid.py")))["preset"](__file__)
