"""The RLP benchmark's step: a Llama of 4 layers x 256 (V = 2048), 4 documents x 512 tokens, K = G = 4, thoughts
up to 64 tokens.

    rlpjax bench rlp --peer torch             # this preset is the default of `bench rlp`
    rlpjax bench rlp --kg 4x4,8x8 --layouts shared,naive

The documents are random tokens and the benchmark takes the last two ids as `<think>` / `</think>` (unless
`rlp.think_ids` names others), so no tokenizer or data is read.
"""

from rlpjax.config import Config, DataConfig, ModelConfig, RLPConfig, RunConfig, SamplingConfig

CONFIG = Config(
    model=ModelConfig(family="llama", vocab_size=2048, hidden_size=256, intermediate_size=768, num_layers=4,
                      num_heads=4, num_kv_heads=2, head_dim=64, max_seq_len=640),
    data=DataConfig(seq_len=512, global_batch_size=4, mode="documents"),
    rlp=RLPConfig(positions_per_doc=4, group_size=4, max_thought_tokens=64,
                  sampling=SamplingConfig(temperature=0.7)),
    run=RunConfig(name="bench_rlp", objective="rlp"),
)
