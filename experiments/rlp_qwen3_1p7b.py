"""The paper's RLP recipe on Qwen3-1.7B-Base (../shared/spec/RLP.md, "The paper's recipe").

G = 16 thoughts of at most 2048 tokens at temperature 0.7, one position per context of 2048 tokens, 512 contexts per
step, tau = 0.999, lr 1e-6 constant (AdamW), no KL (beta = 0), no NTP term, 1 PPO epoch. The model and its
tokenizer load from a local Hugging Face directory (default `checkpoints/Qwen3-1.7B-Base`, e.g. from
`huggingface-cli download Qwen/Qwen3-1.7B-Base --local-dir checkpoints/Qwen3-1.7B-Base`):

    rlpjax train --config experiments/rlp_qwen3_1p7b.py run.init_from=/path/to/Qwen3-1.7B-Base \
        data.sources.0.path='gs://bucket/web/*.jsonl' data.tokenizer=/path/to/Qwen3-1.7B-Base

Qwen3's tokenizer has <think> = 151667 and </think> = 151668 (stated in rlp.think_ids, so compile-check needs no
files), and the vocabulary is not grown. Memory bounds for a v5p-128 pod (64 chips, fsdp=64; see README, "Will
it fit?"): the rollout runs 1024 branch rows (64 documents x G) at a time, the update accumulates gradients over
8 micro-batches of 64 documents, and log-probs are reduced in vocabulary-projection chunks of 4096 tokens.
"""

from rlpjax.config import (CheckpointConfig, Config, DataConfig, MeshConfig, ModelConfig, OptimizerConfig,
                           PolicyGradientConfig, RLPConfig, RunConfig, SamplingConfig, SourceConfig)

CONFIG = Config(
    model=ModelConfig(family="qwen3", vocab_size=151936, hidden_size=2048, intermediate_size=6144, num_layers=28,
                      num_heads=16, num_kv_heads=8, head_dim=128, rope_theta=1000000.0, rms_norm_eps=1e-6,
                      tie_embeddings=True, qk_norm=True, max_seq_len=4096 + 2048 + 2, param_dtype="float32",
                      compute_dtype="bfloat16", scan_layers=True, remat_policy="full"),
    mesh=MeshConfig(data=1, fsdp=-1, tensor=1),
    data=DataConfig(sources=(SourceConfig(name="web", path="data/web/*.jsonl", format="jsonl"),),
                    tokenizer="checkpoints/Qwen3-1.7B-Base", seq_len=2048, global_batch_size=512, mode="documents"),
    optimizer=OptimizerConfig(learning_rate=1e-6, schedule="constant", warmup_steps=0, weight_decay=0.0,
                              grad_clip_norm=1.0, grad_accum_steps=8),
    rlp=RLPConfig(group_size=16, positions_per_doc=1, position_strategy="last", max_thought_tokens=2048,
                  sampling=SamplingConfig(temperature=0.7, top_p=1.0, top_k=0), ema_tau=0.999, ntp_weight=0.0,
                  pg=PolicyGradientConfig(advantage="leave_one_out", normalize_adv_std=False, aggregation="seq_mean",
                                          kl_beta=0.0, eps_low=0.2, eps_high=0.2, ppo_epochs=1, minibatches=1,
                                          logits_chunk_tokens=4096),
                  think_ids=(151667, 151668), rollout_microbatch_rows=1024),
    checkpoint=CheckpointConfig(every_steps=20, keep_last=3, keep_every=100),
    run=RunConfig(name="rlp_qwen3_1p7b", objective="rlp", steps=200, init_from="checkpoints/Qwen3-1.7B-Base",
                  log_every=1),
)
