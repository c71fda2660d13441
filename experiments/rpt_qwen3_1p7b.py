"""RPT (Dong et al. 2025), the baseline of the RLP paper, on the RLP recipe's model, data and optimizer
(`rlp_qwen3_1p7b.py`).

Next-token reasoning trained with GRPO: each step takes the recipe's 512 contexts, one random position in each, and
samples G = 8 responses per prompt (RPT's group size) of at most 2048 tokens at temperature 0.7; a response earns 1
when its \\boxed{} prediction is a byte-exact prefix of the true continuation ending on a token boundary, else 0
(`grpo.reward=prefix_match`). GRPO's group-mean advantage with std division, token-level clip 0.2, no KL; lr 1e-6
constant as the recipe, so the two compare on matched data. RPT's filter of low-entropy positions by a proxy
model is not applied (positions are uniform). The model and tokenizer load from a local Hugging Face directory:

    rlpjax train --config experiments/rpt_qwen3_1p7b.py run.init_from=/path/to/Qwen3-1.7B-Base \
        data.sources.0.path='gs://bucket/web/*.jsonl' data.tokenizer=/path/to/Qwen3-1.7B-Base
"""

import dataclasses
import pathlib

from rlpjax.config import GRPOConfig, PolicyGradientConfig, RLPConfig
from rlpjax.config_io import load_preset

RLP_RECIPE = load_preset(pathlib.Path(__file__).with_name("rlp_qwen3_1p7b.py"))
PROMPT_TOKENS, RESPONSE_TOKENS = 2048 + 64, 2048
"""A context of up to 2048 document tokens plus the instruction; the thought and the boxed prediction."""

CONFIG = RLP_RECIPE.replace(
    model=dataclasses.replace(RLP_RECIPE.model, max_seq_len=PROMPT_TOKENS + RESPONSE_TOKENS),
    rlp=RLPConfig(),  # the RLP section is not read
    grpo=GRPOConfig(prompts="documents", reward="prefix_match", prompts_per_step=RLP_RECIPE.data.global_batch_size,
                    num_rollouts=8, max_prompt_tokens=PROMPT_TOKENS, max_new_tokens=RESPONSE_TOKENS,
                    sampling=RLP_RECIPE.rlp.sampling, pg=PolicyGradientConfig(kl_beta=0.0)),
    run=dataclasses.replace(RLP_RECIPE.run, name="rpt_qwen3_1p7b", objective="grpo"),
)
