"""RLP on CPU in about a minute: a tiny model thinks before tokens of the built-in corpus.

    rlpjax train --config experiments/rlp_cpu.py
"""

from rlpjax.config import (CheckpointConfig, Config, DataConfig, ModelConfig, OptimizerConfig, RLPConfig, RunConfig,
                           SamplingConfig, SourceConfig)

CONFIG = Config(
    model=ModelConfig(family="qwen3", vocab_size=264, hidden_size=64, intermediate_size=192, num_layers=2,
                      num_heads=4, num_kv_heads=2, head_dim=16, qk_norm=True, max_seq_len=512),
    data=DataConfig(sources=(SourceConfig(name="builtin", format="builtin"),), tokenizer="byte", seq_len=64,
                    global_batch_size=4, mode="documents"),
    optimizer=OptimizerConfig(learning_rate=1e-4, schedule="constant", warmup_steps=0, weight_decay=0.0),
    rlp=RLPConfig(group_size=4, positions_per_doc=2, max_thought_tokens=16,
                  sampling=SamplingConfig(temperature=0.7), ema_tau=0.9),
    checkpoint=CheckpointConfig(every_steps=10, keep_last=2),
    run=RunConfig(name="rlp_cpu", objective="rlp", steps=10),
)
