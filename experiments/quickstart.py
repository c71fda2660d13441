"""CPU smoke run: a tiny Qwen3-style model trained with NTP on the built-in corpus (no files needed).

    rlpjax train --config experiments/quickstart.py
"""

from rlpjax.config import CheckpointConfig, Config, DataConfig, ModelConfig, OptimizerConfig, RunConfig, SourceConfig

CONFIG = Config(
    model=ModelConfig(family="qwen3", vocab_size=264, hidden_size=64, intermediate_size=192, num_layers=2,
                      num_heads=4, num_kv_heads=2, head_dim=16, qk_norm=True, max_seq_len=512),
    data=DataConfig(sources=(SourceConfig(name="builtin", format="builtin"),), tokenizer="byte", seq_len=128,
                    global_batch_size=8),
    optimizer=OptimizerConfig(learning_rate=3e-3, schedule="cosine", warmup_steps=5),
    checkpoint=CheckpointConfig(every_steps=25, keep_last=2),
    run=RunConfig(name="quickstart", objective="ntp", steps=50),
)
