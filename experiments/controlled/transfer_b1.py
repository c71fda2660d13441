"""Context transfer: pre-training on context A at ops 2-20 plus context B only at op 2 as a 1% seed
(corpus preset transfer-b1).

Paper scale; the recipe and its arithmetic are in experiments/controlled/_grid.py.

    rlpjax train --config experiments/controlled/transfer_b1.py
"""

import pathlib
import runpy

CONFIG = runpy.run_path(str(pathlib.Path(__file__).with_name("_grid.py")))["preset"](__file__)
