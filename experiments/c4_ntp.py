"""NTP on the C4 sample (../shared/data) with the 512-piece stories260K tokenizer and a tiny model: the trainer's CPU smoke test
on real web text.

    rlpjax train --config experiments/c4_ntp.py data.sources.0.path=../shared/data/web/c4_en_sample_1000.jsonl
"""

from rlpjax.config import CheckpointConfig, Config, DataConfig, ModelConfig, OptimizerConfig, RunConfig, SourceConfig

CONFIG = Config(
    model=ModelConfig(family="qwen3", vocab_size=512, hidden_size=64, intermediate_size=192, num_layers=2,
                      num_heads=4, num_kv_heads=2, head_dim=16, qk_norm=True, tie_embeddings=True, max_seq_len=512),
    data=DataConfig(sources=(SourceConfig(name="c4", path="../shared/data/web/c4_en_sample_1000.jsonl",
                                          format="jsonl"),),
                    tokenizer="../shared/data/models/stories260K", seq_len=128, global_batch_size=8),
    optimizer=OptimizerConfig(learning_rate=3e-3, schedule="cosine", warmup_steps=5),
    checkpoint=CheckpointConfig(every_steps=25, keep_last=2),
    run=RunConfig(name="c4_ntp", objective="ntp", steps=50),
)
