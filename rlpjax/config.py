"""Frozen, typed run configuration.

A run is described by one `Config`, made of one frozen dataclass per concern (model, mesh, data, optimizer, each
objective, checkpoint, run). Every field has a docstring directly below it. Presets are small Python files in
`experiments/` that define `CONFIG = Config(...)`; the command line adds dotted overrides such as
`model.num_layers=4 rlp.group_size=8`, parsed by the field's declared type (never `eval`). The resolved config is
written as JSON with every run and `Config.from_json` reloads it.

Fields with a fixed set of values are typed `Literal[...]` (the aliases below): `config_io` refuses any other value
when it parses an override or a JSON / YAML file, and `config_checks.validate` when a preset builds one in Python,
with one line naming the field and the choices. The modules that act on a choice take their tuple of names from
here (`typing.get_args(Schedule)`), so a new value is added in one place.

The machinery (parsing, overrides, JSON) lives in `rlpjax/config_io.py`; this file holds only the schema.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Literal

Family = Literal["llama", "llama3", "qwen2", "qwen3"]
"""The built-in architecture families (`rlpjax/model/families/<name>.py`); `model.family` may also name a family
registered at run time (`rlpjax.family_registry`), so the field is checked against the registry."""
DType = Literal["float32", "bfloat16"]
"""Parameter and compute dtypes."""
RematPolicy = Literal["none", "full", "dots"]
"""Activation rematerialisation policies per block."""
DataMode = Literal["packed", "packed_whole", "padded", "documents"]
"""How documents become rows (`data.mode`)."""
Schedule = Literal["constant", "cosine", "linear", "wsd"]
"""Learning-rate schedules."""
PositionStrategy = Literal["uniform", "stride", "surprisal", "last", "after_token"]
"""Where RLP thinks (`rlp.positions.select_positions`)."""
RatioLogprobs = Literal["sampling", "model"]
"""Distribution of the old / new / reference log-probs of RLP and GRPO."""
Aggregation = Literal["token_mean", "seq_mean", "constant_length"]
"""Reductions of per-token losses (`objectives.aggregation.AGGREGATIONS`)."""
Advantage = Literal["group_mean", "leave_one_out"]
"""Group advantage estimators (`objectives.advantages.ADVANTAGES`)."""
PolicyLoss = Literal["ppo_clip", "gspo"]
"""Policy-gradient surrogates (`objectives.policy_gradient.POLICY_LOSSES`): token ratio or sequence ratio."""
PromptKind = Literal["controlled", "documents"]
"""What GRPO's prompts are (`train.tasks.grpo_prompts.PROMPT_KINDS`): controlled reasoning problems, or document
prefixes whose next tokens the response predicts (RPT)."""
EdgePass = Literal["verified", "answer"]
"""What the GRPO edge filter counts as a pass."""
LogMode = Literal["bar", "lines"]
"""Console progress styles."""
Tracker = Literal["tensorboard", "wandb", "trackio"]
"""Experiment trackers."""


@dataclass(frozen=True)
class RopeScalingConfig:
    """Llama 3.1's RoPE frequency scaling, read by model.family="llama3" (Hugging Face rope_type "llama3"): with
    wavelength w = 2 pi / f of each frequency f and L = original_max_position_embeddings, frequencies with
    w < L / high_freq_factor are kept, those with w > L / low_freq_factor divided by factor, and the band between
    blended linearly in L / w. The defaults are Llama 3.1's."""

    factor: float = 8.0
    """Divisor of the low frequencies (>= 1)."""
    low_freq_factor: float = 1.0
    """L / low_freq_factor is the wavelength above which frequencies are divided by factor."""
    high_freq_factor: float = 4.0
    """L / high_freq_factor is the wavelength below which frequencies are kept (> low_freq_factor)."""
    original_max_position_embeddings: int = 8192
    """L: the context length the model was pre-trained at before the scaling."""


@dataclass(frozen=True)
class ModelConfig:
    """A decoder of the Llama / Qwen2 / Qwen3 family (the flags below select the family's features)."""

    family: str = "qwen3"
    """Architecture family: a built-in `Family` ("llama", "llama3", "qwen2", "qwen3") or a registered one; picks the blocks and
    the Hugging Face mapping (`rlpjax/model/families/`)."""
    vocab_size: int = 512
    """Number of token ids (embedding rows)."""
    hidden_size: int = 64
    """Width of the residual stream."""
    intermediate_size: int = 192
    """Width of the SwiGLU MLP's hidden layer."""
    num_layers: int = 2
    """Number of decoder blocks."""
    num_heads: int = 4
    """Number of query heads."""
    num_kv_heads: int = 2
    """Number of key/value heads (grouped-query attention); must divide num_heads."""
    head_dim: int = 16
    """Width of one attention head (explicit, as in Qwen3; need not equal hidden_size / num_heads)."""
    rope_theta: float = 10000.0
    """RoPE base frequency."""
    rope_scaling: RopeScalingConfig = field(default_factory=RopeScalingConfig)
    """RoPE frequency scaling of family "llama3" (Llama 3.1 / 3.2); the other families take none and refuse a
    changed value."""
    rms_norm_eps: float = 1e-6
    """Epsilon inside every RMSNorm."""
    tie_embeddings: bool = True
    """Share the input embedding with the output projection."""
    qkv_bias: bool = False
    """Bias on the q/k/v projections (Qwen2 / Qwen2.5)."""
    qk_norm: bool = False
    """RMSNorm on each query and key head before RoPE (Qwen3)."""
    max_seq_len: int = 2048
    """Longest position the model is used at (documents, thoughts and caches are checked against it)."""
    param_dtype: DType = "float32"
    """Storage dtype of the parameters: "float32" or "bfloat16"."""
    compute_dtype: DType = "float32"
    """Dtype of activations and matmuls: "float32" or "bfloat16" (softmax and norms accumulate in float32)."""
    scan_layers: bool = False
    """Run the decoder blocks under `jax.lax.scan` (one compiled block, faster compiles for deep models)."""
    remat_policy: RematPolicy = "none"
    """Activation rematerialisation per block: "none", "full" (save nothing) or "dots" (save matmul outputs)."""
    init_std: float = 0.02
    """Standard deviation of the normal initialiser of all weight matrices and embeddings."""


@dataclass(frozen=True)
class MeshConfig:
    """The device mesh: axes `data`, `fsdp`, `tensor`; one size may be -1 to take the remaining devices."""

    data: int = 1
    """Pure data-parallel replicas (parameters replicated across this axis)."""
    fsdp: int = -1
    """Fully sharded data-parallel axis: batch and parameters are both split across it."""
    tensor: int = 1
    """Tensor-parallel axis: heads and MLP width are split across it."""


@dataclass(frozen=True)
class SourceConfig:
    """One named data source of a mixture."""

    name: str = "builtin"
    """Name of the source (used in metrics and mixture weights)."""
    path: str = ""
    """A file, a directory or a glob of shards (local or gs://); empty for the built-in sources."""
    format: str = "auto"
    """"auto" (from the file suffix; "builtin" when path is empty) or a registered format (rlpjax.data.sources):
    "jsonl", "parquet", "arrayrecord" (records are JSON objects), "hf_disk" (a Hugging Face dataset saved with
    save_to_disk), "tokens" (a token cache written by `rlpjax data tokenize`), "builtin" (generated English-like
    text) or "controlled" (path = the reasoning corpus preset)."""
    text_field: str = "text"
    """Field of each record holding the document text."""
    weight: float = 1.0
    """Relative sampling weight in the mixture."""


@dataclass(frozen=True)
class DataConfig:
    """Where training text comes from and how it becomes batches."""

    sources: tuple[SourceConfig, ...] = (SourceConfig(),)
    """The mixture: one or more named, weighted sources."""
    eval_sources: tuple[SourceConfig, ...] = ()
    """Held-out sources read by the eval iterator (one pass, in order, no shuffle); empty: no eval data."""
    tokenizer: str = "byte"
    """"byte" (built-in byte-level tokenizer, no file) or a path to a tokenizer.json or a directory holding one."""
    seq_len: int = 128
    """Tokens per row (packed rows, padded rows, or the maximum document length for RLP)."""
    global_batch_size: int = 8
    """Rows per step across all hosts (each host reads and tokenizes only its global_batch_size / process_count)."""
    lanes: int = 0
    """Independent packing lanes the global batch is cut into (a divisor of global_batch_size and a multiple of the
    process count): each lane reads its own share of every source, so a step's batch does not depend on how many
    processes read it. 0: the largest divisor of global_batch_size up to 64."""
    mode: DataMode = "packed"
    """"packed" (documents concatenated with segment ids), "packed_whole" (packed, but a document that does not fit
    in the rest of a row starts the next one: never split unless longer than a row), "padded" (one document per
    row, truncated), or
    "documents" (one document per row with its length; long documents split into windows: the RLP layout)."""
    shuffle: bool = True
    """Shuffle documents (globally for indexable sources, with a window for streams)."""
    shuffle_window: int = 1000
    """Window size of the streaming shuffle."""
    num_epochs: int = 0
    """Passes over the data; 0 repeats forever."""
    add_bos: bool | None = None
    """Prepend BOS to every document: true, false, or None (on the command line also "auto"): as the tokenizer's
    config says."""
    add_eos: bool | None = None
    """Append EOS to every document: true, false, or None ("auto"): as the tokenizer's config says."""
    prefetch_batches: int = 2
    """Batches prepared ahead in a background thread (grain thread prefetch); 0: on demand in the calling thread."""
    workers: int = 0
    """Processes that build this host's lanes (reading and tokenizing on that many cores; the batches are the same
    for any number, and a run may resume with another). 0: in the training process. Up to the host's lane count."""
    seed: int = 0
    """Seed of the shuffle and mixture order (independent of the model's seed)."""
    strict: bool = False
    """Stop with an error at the first unreadable shard (truncated or non-gzip .gz, corrupt Parquet) instead of
    skipping the rest of it, counting it as `unreadable_shard` and logging its path."""


@dataclass(frozen=True)
class OptimizerConfig:
    """AdamW with a learning-rate schedule, clipping and gradient accumulation (optax)."""

    learning_rate: float = 3e-3
    """Peak learning rate."""
    schedule: Schedule = "cosine"
    """"constant", "cosine" or "linear" (decay after warmup to min_lr_ratio * learning_rate), or "wsd"
    (warmup-stable-decay: constant at the peak, then linear to min_lr_ratio * peak over the last decay_fraction of
    the steps)."""
    warmup_steps: int = 10
    """Linear warmup steps from 0 to the peak."""
    min_lr_ratio: float = 0.1
    """Final learning rate of the cosine / linear / wsd decay, as a fraction of the peak."""
    decay_fraction: float = 0.2
    """"wsd" only: share of the run's steps spent in the final linear decay (in (0, 1])."""
    b1: float = 0.9
    """Adam beta1."""
    b2: float = 0.95
    """Adam beta2."""
    eps: float = 1e-8
    """Adam epsilon."""
    weight_decay: float = 0.1
    """Decoupled weight decay on weight matrices (never norms or biases; embeddings only with decay_embeddings)."""
    decay_embeddings: bool = False
    """Also apply weight decay to the embedding matrix."""
    grad_clip_norm: float = 1.0
    """Clip the global gradient norm to this value (0 disables)."""
    grad_accum_steps: int = 1
    """Micro-batches accumulated per optimizer step (the global batch is split into this many)."""


@dataclass(frozen=True)
class NTPConfig:
    """Next-token prediction (pretraining, continued pretraining, mid-training)."""

    z_loss_weight: float = 0.0
    """Weight of the z-loss (log-partition squared), 0 disables."""


@dataclass(frozen=True)
class SamplingConfig:
    """How rollouts are sampled: RLP's thoughts (`rlp.sampling`) and GRPO's responses (`grpo.sampling`)."""

    temperature: float = 1.0
    """Sampling temperature (RLP's default 0.7, GRPO's 1.0)."""
    top_p: float = 1.0
    """Nucleus sampling mass (1.0 disables)."""
    top_k: int = 0
    """Top-k sampling (0 disables)."""


@dataclass(frozen=True)
class PolicyGradientConfig:
    """The clipped policy-gradient update of group RL, shared by RLP (`rlp.pg`) and GRPO (`grpo.pg`): advantage
    estimator, surrogate, token aggregation, KL, and the PPO passes over a rollout batch. The class defaults are
    GRPO's; RLP's section overrides them with the paper's choices (`RLP_POLICY_GRADIENT`)."""

    advantage: Advantage = "group_mean"
    """Group advantage estimator: "group_mean" (GRPO: r_i minus the group mean) or "leave_one_out" (RLP, RLOO: r_i
    minus the mean of the group's other members)."""
    normalize_adv_std: bool = True
    """Divide group advantages by the group's standard deviation (GRPO; off in RLP, RLOO and Dr.GRPO)."""
    policy_loss: PolicyLoss = "ppo_clip"
    """Surrogate: "ppo_clip" (token-level ratio, clipped per token: RLP, GRPO, DAPO) or "gspo" (GSPO: each
    sequence's ratio exp(mean log ratio), clipped per sequence; with aggregation=seq_mean and clip ranges of about
    3e-4 / 4e-4)."""
    eps_low: float = 0.2
    """Lower clip range of the importance ratio."""
    eps_high: float = 0.2
    """Upper clip range of the importance ratio (DAPO's clip-higher: 0.28)."""
    aggregation: Aggregation = "token_mean"
    """Reduction of per-token losses: "token_mean" (every sampled token of the global batch alike: GRPO as TRL,
    DAPO), "seq_mean" (each sequence's token mean, then the mean over sequences: RLP's paper), or
    "constant_length" (Dr.GRPO: token sums over sequences x the length cap, so no length rescales a token)."""
    kl_beta: float = 1e-3
    """Weight of the k3 KL to the frozen reference (0: no reference is kept; RLP's paper uses 0)."""
    ratio_logprobs: RatioLogprobs = "sampling"
    """Old / new / reference log-probs: "sampling" = softmax(logits / sampling temperature) over the full
    vocabulary, the sampled distribution as TRL scores it (top-k / top-p not applied), so the ratio is exactly 1 at
    the first update; or "model" = the model at temperature 1."""
    ppo_epochs: int = 1
    """Passes over each rollout batch."""
    minibatches: int = 1
    """Optimizer updates per pass over the rollout batch."""
    logits_chunk_tokens: int = 4096
    """Tokens per chunk when reducing hidden states to log-probs / entropies (rollout scoring, update, recomputed
    old and reference log-probs): each chunk's [chunk, V] logits are rematerialised in the backward, so no
    [rows, T, V] logits exist; 0 projects all tokens at once."""


RLP_POLICY_GRADIENT = PolicyGradientConfig(advantage="leave_one_out", normalize_adv_std=False,
                                           aggregation="seq_mean", kl_beta=0.0)
"""RLP's paper: leave-one-out advantages without std division, per-thought means, no KL."""


@dataclass(frozen=True)
class RLPConfig:
    """RLP: reinforcement as a pretraining objective (see ../shared/spec/RLP.md)."""

    group_size: int = 16
    """G: thoughts sampled per chosen position."""
    positions_per_doc: int = 1
    """K: positions per document at which to think."""
    position_strategy: PositionStrategy = "uniform"
    """"uniform" (random), "stride" (evenly spaced), "surprisal" (top-K EMA-teacher loss), "last", or
    "after_token" (the first K positions right after `position_token`, e.g. think before the answer)."""
    position_token: str = ""
    """The marker token of "after_token" (one token of data.tokenizer, e.g. "<answer>"); unused otherwise."""
    max_thought_tokens: int = 2048
    """Thought length cap (tokens after <think>, </think> included)."""
    sampling: SamplingConfig = field(default_factory=lambda: SamplingConfig(temperature=0.7))
    """How thoughts are sampled (temperature 0.7 as the paper)."""
    pg: PolicyGradientConfig = field(default_factory=lambda: RLP_POLICY_GRADIENT)
    """The clipped policy-gradient update (the paper's defaults: leave-one-out, seq_mean, ppo_clip 0.2, no KL)."""
    ema_tau: float = 0.999
    """EMA teacher decay: phi <- tau * phi + (1 - tau) * theta after every optimizer step."""
    horizon: int = 1
    """h: number of future tokens scored after the thought (1 is the paper)."""
    gamma: float = 1.0
    """Discount over the horizon."""
    ntp_weight: float = 0.0
    """Weight of an added next-token loss on the documents (0 in the paper)."""
    stop_prefix_grad: bool = False
    """Stop the gradient through the document prefix's activations in the update (default: exact gradient)."""
    min_thought_tokens: int = 1
    """Thought tokens before </think> may be sampled (it is masked out until then; Algorithm 1 asks |c| >= 1)."""
    rollout_microbatch_rows: int = 0
    """Branch rows per rollout micro-batch (a multiple of positions_per_doc * group_size: whole documents); the
    teacher pass, sampling, scoring and reference run micro-batch by micro-batch. 0: all rows at once."""
    think_ids: tuple[int, ...] = ()
    """(<think> id, </think> id) stated by the config, so the step (and compile-check) needs no tokenizer files;
    () looks them up in data.tokenizer (adding two ids past the vocabulary when it lacks them)."""


@dataclass(frozen=True)
class GRPOConfig:
    """GRPO post-training with verifier rewards (see ../shared/spec/CONTROLLED.md)."""

    prompts: PromptKind = "controlled"
    """"controlled": the controlled reasoning problems below, scored by a verifier reward; "documents": RPT
    (next-token reasoning, Dong et al. 2025) on the documents of data.sources (data.mode=documents, one per prompt):
    the prompt is a document's prefix up to a random position plus `document_instruction`, the response reasons
    and writes its prediction of the next token(s) in \\boxed{}, and reward "prefix_match" is 1 when the prediction
    is a byte-exact prefix of the true continuation ending on a token boundary."""
    document_instruction: str = ("\n\nThink about what comes next in the text above, then write the next word(s) "
                                 "in \\boxed{}.\n")
    """prompts=documents: text appended after the document's prefix (tokenized separately, so the prefix keeps its
    own tokens)."""
    document_min_context: int = 8
    """prompts=documents: fewest document tokens before the predicted position (shorter documents predict their
    last token)."""
    document_continuation_tokens: int = 8
    """prompts=documents: true next tokens the prediction may cover (a longer correct prediction scores 0)."""
    ops: tuple[int, ...] = (11, 12, 13, 14)
    """Op counts of the RL problems (drawn uniformly with the templates and modes); the paper's edge is 11-14."""
    templates: tuple[str, ...] = ("A", "B", "C")
    """Contexts of the RL problems (A zoos, B schools, C festivals)."""
    modes: tuple[str, ...] = ("forward", "reverse")
    """Problem modes of the RL problems."""
    prompts_per_step: int = 1024
    """N: prompts per training step (each gets num_rollouts responses)."""
    seed: int = 0
    """Seed of the RL problem stream (problem i depends only on this seed, the op/template/mode grid and i)."""
    problem_pool: int = 0
    """Distinct RL problems: 0 draws a fresh problem for every prompt; N > 0 cycles through the stream's first N
    problems (an RL data set of N prompts read in epochs, as TRL and verl read theirs)."""
    num_rollouts: int = 6
    """r: rollouts per prompt."""
    sampling: SamplingConfig = field(default_factory=SamplingConfig)
    """How responses are sampled (temperature 1)."""
    pg: PolicyGradientConfig = field(default_factory=PolicyGradientConfig)
    """The clipped policy-gradient update (GRPO's defaults: group_mean with std division, token_mean, ppo_clip
    0.2, k3 KL 1e-3)."""
    max_prompt_tokens: int = 1024
    """Longest prompt; longer prompts are an error."""
    max_new_tokens: int = 1024
    """Response length cap."""
    entropy_coef: float = 0.0
    """Weight of the entropy bonus."""
    reward: str = "outcome"
    """Reward by name. prompts=controlled: a verifier reward (`rlpjax.reasoning.rewards`): the spec's "outcome",
    "process_blend", "strict", "gated_blend", or the authors' code's "authors_process", "authors_gated" (the
    paper's process-reward runs), "authors_strict". prompts=documents: "prefix_match" (RPT's binary reward)."""
    reward_alpha: float = 0.2
    """a in the blended rewards (weight of the outcome term)."""
    dynamic_sampling: bool = False
    """DAPO's dynamic sampling: drop the groups whose rewards are all equal (no advantage, no gradient) and any the
    edge filter drops, and sample further prompts of the stream until prompts_per_step groups are kept or
    dynamic_sampling_rounds rounds are spent (a short batch is filled with dropped groups, masked out)."""
    dynamic_sampling_rounds: int = 3
    """Most sampling rounds of prompts_per_step prompts per step under dynamic_sampling (DAPO's
    max_num_gen_batches)."""
    overlong_buffer: int = 0
    """DAPO's soft overlong punishment: a response longer than max_new_tokens - overlong_buffer tokens gets a
    penalty growing linearly to -overlong_penalty at max_new_tokens (a cut-off response gets all of it); 0 off."""
    overlong_penalty: float = 1.0
    """Largest overlong penalty, added to the reward of a response of max_new_tokens tokens."""
    edge_filter: bool = False
    """Edge-of-competence filter: drop from the update every group (the rollouts of one prompt) whose pass rate
    under the current policy lies outside the open band (edge_pass_low, edge_pass_high); the pass rate is measured
    on the rollouts the step already samples. Dropped groups get no gradient (their rows are masked out)."""
    edge_pass: EdgePass = "verified"
    """What counts as a pass for the filter and its metrics: "verified" (VerifiedCorrect) or "answer" (R_out)."""
    edge_pass_low: float = 0.0
    """Lower end of the kept band: a group is kept only if its pass rate is strictly greater."""
    edge_pass_high: float = 1.0
    """Upper end of the kept band: a group is kept only if its pass rate is strictly smaller."""
    recompute_old_logprobs: bool = False
    """Recompute behaviour log-probs with a forward pass instead of taking the sampler's."""


@dataclass(frozen=True)
class CheckpointConfig:
    """Orbax checkpoints of the full training state."""

    every_steps: int = 100
    """Save every N steps (0: only at the end and on preemption)."""
    keep_last: int = 3
    """Keep the newest K checkpoints."""
    keep_every: int = 0
    """Also keep every M-th step forever (0 disables)."""
    async_save: bool = True
    """Write checkpoints in the background while training continues."""


@dataclass(frozen=True)
class RunConfig:
    """What to run, for how long, and where it writes."""

    name: str = "run"
    """Name of the run (the default run directory is runs/<name>)."""
    run_dir: str = ""
    """Directory for the config, metrics, checkpoints and reports; empty means runs/<name>."""
    objective: str = "ntp"
    """Objective by registered name: "ntp", "rlp" or "grpo"."""
    steps: int = 50
    """Optimizer steps to train."""
    seed: int = 0
    """Seed of parameter initialisation and sampling."""
    init_from: str = ""
    """Start from a checkpoint directory (rlpjax) or a Hugging Face model directory; empty: random init."""
    log_every: int = 1
    """Write metrics every N steps."""
    eval_every: int = 0
    """Run the evaluation hook every N steps (0 disables)."""
    eval_batches: int = 4
    """Batches per evaluation."""
    peak_tflops: float = 0.0
    """Peak device TFLOP/s for MFU; 0 measures a matmul on the device at start-up."""
    max_nonfinite_steps: int = 5
    """Stop after this many consecutive steps with a non-finite loss or gradient (each one is skipped)."""
    progress: bool = True
    """Show progress (see log_mode)."""
    log_mode: LogMode = "bar"
    """How progress is shown: "bar" (a tqdm bar with ETA) or "lines" (one plain line every log_every steps, for
    nohup logs and log collectors)."""
    trackers: tuple[Tracker, ...] = ("tensorboard",)
    """Experiment trackers fed with every logged step beside metrics.jsonl: any of "tensorboard", "wandb" (offline
    with WANDB_MODE=offline), "trackio"; empty for none."""
    tracker_project: str = "rlpjax"
    """Project name in W&B / trackio (the run name is run.name)."""
    samples_every: int = 0
    """Log a table of sample generations every N steps (RLP: thoughts with their context, next tokens and reward;
    GRPO: prompts, responses, reward and verdict) to <run_dir>/samples.jsonl and the trackers; 0: never."""
    samples_rows: int = 8
    """Rows of each sample table (RLP: thoughts of the first documents' valid positions; GRPO: the first
    responses)."""


@dataclass(frozen=True)
class Config:
    """Everything a run needs; the sections mirror the concerns of the framework."""

    model: ModelConfig = field(default_factory=ModelConfig)
    """The network."""
    mesh: MeshConfig = field(default_factory=MeshConfig)
    """The device mesh."""
    data: DataConfig = field(default_factory=DataConfig)
    """Training data."""
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    """The optimizer."""
    ntp: NTPConfig = field(default_factory=NTPConfig)
    """Next-token prediction settings."""
    rlp: RLPConfig = field(default_factory=RLPConfig)
    """RLP settings."""
    grpo: GRPOConfig = field(default_factory=GRPOConfig)
    """GRPO settings."""
    checkpoint: CheckpointConfig = field(default_factory=CheckpointConfig)
    """Checkpointing."""
    run: RunConfig = field(default_factory=RunConfig)
    """The run itself."""

    def replace(self, **sections) -> "Config":
        """A copy with whole sections replaced (`cfg.replace(model=...)`)."""
        return dataclasses.replace(self, **sections)
