"""The NTP benchmark's model: a ~15M-parameter Llama (6 layers x 384, V = 8192) at 8 rows x 512 tokens.

    rlpjax bench ntp                      # this preset is the default of `bench ntp` and of `bench all`'s NTP part
    rlpjax bench ntp --config experiments/bench/ntp_15m.py model.num_layers=12

Big enough that the step is matmul-bound on a CPU core (so MFU against the measured matmul peak means something),
small enough that a step takes seconds on 2 cores. Random tokens are fed; no data is read.
"""

from rlpjax.config import Config, DataConfig, ModelConfig, RunConfig

CONFIG = Config(
    model=ModelConfig(family="llama", vocab_size=8192, hidden_size=384, intermediate_size=1024, num_layers=6,
                      num_heads=6, num_kv_heads=2, head_dim=64, max_seq_len=512),
    data=DataConfig(seq_len=512, global_batch_size=8),
    run=RunConfig(name="bench_ntp", objective="ntp"),
)
