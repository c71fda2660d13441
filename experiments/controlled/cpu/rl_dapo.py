"""GRPO as rl_edge, trained as DAPO (Yu et al. 2025): clip-higher (eps 0.2 / 0.28), dynamic sampling (groups
whose rewards are all equal are dropped and more prompts sampled, grpo.dynamic_sampling), soft overlong shaping over
the last fifth of the response cap (grpo.overlong_buffer), the token-level loss over the global batch
(aggregation=token_mean, weighted by tokens across gradient accumulation) and no KL term.

CPU scale; the recipe and its arithmetic are in experiments/controlled/_grid.py.

    rlpjax train --config experiments/controlled/cpu/rl_dapo.py
"""

import pathlib
import runpy

CONFIG = runpy.run_path(str(pathlib.Path(__file__).parents[1].joinpath("_grid.py")))["preset"](__file__)
