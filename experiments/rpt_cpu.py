"""RPT on CPU in about a minute: GRPO on next-token prompts from the built-in corpus, the RLP paper's baseline, with
rlp_cpu.py's model, data and optimizer.

    rlpjax train --config experiments/rpt_cpu.py

Each step takes 8 documents, one random position in each, and samples 4 responses per prompt; a response earns 1
when the text in its \\boxed{} is the document's next token(s) (a byte-exact prefix ending on a token boundary).
"""

import dataclasses
import pathlib

from rlpjax.config import CheckpointConfig, GRPOConfig, PolicyGradientConfig, RLPConfig, RunConfig, SamplingConfig
from rlpjax.config_io import load_preset

RLP_CPU = load_preset(pathlib.Path(__file__).with_name("rlp_cpu.py"))

CONFIG = RLP_CPU.replace(
    model=dataclasses.replace(RLP_CPU.model, max_seq_len=256),
    data=dataclasses.replace(RLP_CPU.data, seq_len=128, global_batch_size=8),
    rlp=RLPConfig(),  # the RLP section is not read
    grpo=GRPOConfig(prompts="documents", reward="prefix_match", document_instruction="\nNext, in \\boxed{}: ",
                    prompts_per_step=8, num_rollouts=4, max_prompt_tokens=64, max_new_tokens=24,
                    sampling=SamplingConfig(temperature=1.0), pg=PolicyGradientConfig(kl_beta=0.0)),
    checkpoint=CheckpointConfig(every_steps=10, keep_last=2),
    run=RunConfig(name="rpt_cpu", objective="grpo", steps=10),
)
