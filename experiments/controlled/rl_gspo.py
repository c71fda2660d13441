"""GRPO as rl_edge, trained as GSPO (Zheng et al. 2025): the importance ratio of a whole response,
exp(mean log ratio), clipped per response at 3e-4 / 4e-4 (grpo.pg.policy_loss=gspo), the loss a mean over responses
(aggregation=seq_mean), no KL term.

Paper scale; the recipe and its arithmetic are in experiments/controlled/_grid.py.

    rlpjax train --config experiments/controlled/rl_gspo.py
"""

import pathlib
import runpy

CONFIG = runpy.run_path(str(pathlib.Path(__file__).with_name("_grid.py")))["preset"](__file__)
