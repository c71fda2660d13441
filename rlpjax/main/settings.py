"""What the main job runs: one frozen `MainSettings`, named scales, and the flags that change them.

The default scale ("small") is sized so the whole job (corpora, tokenizer, NTP base, the four arms, five
evaluations, the thought probe, the report) finishes in at most 15 minutes on a 2-core CPU; "medium" and "large"
trade time for a model and step counts whose numbers mean more; "tiny" exists for the end-to-end test.

Op counts come in three groups, as in the Interplay paper's splits scaled down: `train_ops` are pre-trained on (in
distribution), `edge_ops` lie just beyond them (the GRPO arm trains there, the mid-training arm shifts its mixture
toward them), `hard_ops` are never trained on. All three are evaluated.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

ARMS = ("base", "rlp", "cpt", "grpo", "mid")
"""Every model the job evaluates: the base and its four continuations."""
THINK_AFTER = "</question>"
"""Where the RLP arm and the thought probe think: right after the question, as the "think" documents do."""


@dataclass(frozen=True)
class MainSettings:
    """Every knob of the main job (written to main_state.json; a rerun with other settings is refused)."""

    # --- corpora and tokenizer
    train_ops: tuple[int, ...] = (2, 3)
    """Op counts of the pre-training corpus (equal problems per op): the in-distribution ops."""
    edge_ops: tuple[int, ...] = (4,)
    """Edge-of-competence ops: GRPO's problems and the mid-training mixture's focus; never pre-trained on."""
    hard_ops: tuple[int, ...] = (5,)
    """Ops beyond the edge, only evaluated."""
    per_op: int = 12000
    """Pre-training problems per train op (templates x modes round-robin)."""
    continue_per_op: int = 1000
    """Fresh problems per op (train and edge ops) that the RLP and CPT arms read, every one rendered "direct"
    (question, then answer): in a solution document the answer is copied from the last step with near certainty, so
    a thought before it has nothing to add; before a bare answer it has, most of all at the edge ops."""
    mid_per_op: int = 1500
    """Problems per op of the mid-training corpus (train ops and edge ops; see mid_edge_share)."""
    mid_edge_share: float = 0.8
    """Share of the mid-training corpus on the edge ops (the paper's mid-training mixture is 80% edge)."""
    think_share: float = 0.1
    """Share of documents rendered as question, `<think>` worked steps `</think>`, answer (`reasoning.thinking`)."""
    direct_share: float = 0.1
    """Share rendered as question then answer with no visible work (where an RLP thought before the answer helps);
    the rest are standard solution documents."""
    templates: tuple[str, ...] = ("A", "B", "C")
    """Contexts of the corpora and of the held-out problems."""
    modes: tuple[str, ...] = ("forward", "reverse")
    """Problem modes of the corpora and of the held-out problems."""
    vocab_size: int = 1024
    """Requested BPE vocabulary (the trainer stops earlier when the corpus has no more merges)."""
    # --- model
    hidden_size: int = 128
    """Width of the residual stream."""
    num_layers: int = 3
    """Decoder blocks (3 keeps the job within 15 minutes: decoding, a third of the job, costs per layer)."""
    num_heads: int = 4
    """Query heads (head_dim = hidden_size / num_heads)."""
    num_kv_heads: int = 2
    """Key/value heads."""
    seq_len: int = 256
    """Row length of NTP (whole documents packed, never split: data.mode=packed_whole) and RLP's document window."""
    # --- NTP base
    batch_size: int = 16
    """Rows per NTP step (base, CPT, mid-training)."""
    pretrain_steps: int = 1400
    """NTP steps of the base model."""
    pretrain_lr: float = 3e-3
    """Peak learning rate of the base: warmup, constant, then a linear decay over the last `decay_fraction`."""
    decay_fraction: float = 0.25
    """Share of the base's steps in the final decay (warmup-stable-decay schedule)."""
    # --- RLP (and CPT at its FLOPs)
    rlp_steps: int = 10
    """RLP steps; the CPT arm gets as many NTP steps as cost the same FLOPs."""
    rlp_docs: int = 16
    """Documents per RLP step."""
    rlp_group: int = 4
    """G: thoughts per position (one position per document: right after `</question>`)."""
    rlp_horizon: int = 5
    """h: tokens scored after the thought. RLP thinks right after `</question>`, so they are " ", `<answer>`, " ",
    the answer's first token and the one after it: the three before the number are near-certain with or without a
    thought, so the reward is what the thought adds to the answer (h = 1, the paper's, would score only the space)."""
    rlp_thought_tokens: int = 160
    """Thought length cap (tokens after <think>, </think> included); the worked steps of an edge op fit in it."""
    rlp_temperature: float = 0.7
    """Sampling temperature of thoughts."""
    rlp_ema_tau: float = 0.9
    """EMA teacher decay (the paper's 0.999 would leave the teacher at the base over a few dozen steps)."""
    arm_lr: float = 1e-4
    """Constant learning rate of the RLP, CPT and mid-training continuations (GRPO's too, as grpo_lr): at 3e-4 all
    three lost ground on the train ops against the base (RLP -8 points of op-2 pass@1, CPT -9, measured); at 1e-4
    RLP stayed within noise of it."""
    # --- GRPO (and mid-training at its FLOPs)
    grpo_steps: int = 6
    """GRPO steps on the edge ops; the mid-training arm gets the same FLOPs."""
    grpo_prompts: int = 16
    """Prompts per GRPO step."""
    grpo_rollouts: int = 4
    """Responses per prompt (the group)."""
    grpo_reward: str = "authors_gated"
    """Process-verified reward of the GRPO arm (`rlpjax.reasoning.rewards`): the authors' gated form, as the paper's
    process-reward runs used."""
    grpo_lr: float = 1e-4
    """Constant learning rate of GRPO."""
    # --- evaluation
    eval_per_op: int = 40
    """Held-out problems per evaluated op (none of them in any training corpus)."""
    samples: int = 16
    """Samples per problem (n of pass@k; pass@1 .. pass@n are reported)."""
    eval_temperature: float = 0.7
    """Sampling temperature of the evaluation (the paper's)."""
    eval_max_new_tokens: int = 176
    """Completion length cap (the longest gold completion of the hard op 5 is about 150 tokens with the trained
    tokenizer)."""
    eval_batch_size: int = 32
    """Rows per sampler call: two problems' 16 samples. A call runs until its longest row stops, so small calls stop
    sooner; on the 2-core CPU 32 rows evaluated 31% faster than 256 (measured on the base, op 4)."""
    probe_docs: int = 8
    """Held-out problems per evaluated op on which the thought probe samples thoughts (where RLP thinks)."""
    seed: int = 0
    """Seed of the corpora, the models, the held-out set and sampling."""

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_heads

    @property
    def eval_ops(self) -> tuple[int, ...]:
        """Every evaluated op: train, edge and hard, ascending."""
        return tuple(sorted({*self.train_ops, *self.edge_ops, *self.hard_ops}))

    def split_of(self, op: int) -> str:
        """"train", "edge" or "hard": the group an evaluated op belongs to."""
        return "train" if op in self.train_ops else "edge" if op in self.edge_ops else "hard"


SCALES: dict[str, dict] = {
    "tiny": dict(train_ops=(2,), edge_ops=(3,), hard_ops=(), per_op=24, continue_per_op=12, mid_per_op=12,
                 vocab_size=320, hidden_size=32, num_layers=1, num_heads=2, num_kv_heads=1, seq_len=192,
                 batch_size=8, pretrain_steps=3, rlp_steps=2, rlp_docs=8, rlp_group=2, rlp_thought_tokens=6,
                 grpo_steps=2, grpo_prompts=2, grpo_rollouts=2, eval_per_op=2, samples=2, eval_max_new_tokens=8,
                 eval_batch_size=8, probe_docs=2),
    "small": {},
    "medium": dict(per_op=8000, continue_per_op=3000, mid_per_op=4000, hidden_size=256, num_layers=6,
                   pretrain_steps=3000, rlp_steps=100, rlp_docs=16, rlp_group=8, grpo_steps=60, grpo_prompts=32,
                   grpo_rollouts=8, eval_per_op=100, samples=32),
    "large": dict(train_ops=tuple(range(2, 9)), edge_ops=(9, 10), hard_ops=(11, 12), per_op=20000,
                  continue_per_op=5000, mid_per_op=8000, hidden_size=512, num_layers=8, num_heads=8, seq_len=512,
                  batch_size=32, pretrain_steps=10000, pretrain_lr=1e-3, rlp_steps=200, rlp_docs=16, rlp_group=16,
                  rlp_thought_tokens=256, grpo_steps=200, grpo_prompts=64, grpo_rollouts=8, eval_per_op=200,
                  samples=64, eval_max_new_tokens=512),
}
"""Named scales: field overrides of the defaults ("small" is the default itself)."""


def settings_for(scale: str, **overrides) -> MainSettings:
    """The settings of a named scale with the given fields replaced (None values are ignored)."""
    if scale not in SCALES:
        raise ValueError(f"unknown scale {scale!r}; choose one of {', '.join(SCALES)}")
    values = {**SCALES[scale], **{k: v for k, v in overrides.items() if v is not None}}
    return dataclasses.replace(MainSettings(), **values)


def to_json_dict(settings: MainSettings) -> dict:
    """The settings as JSON-ready values (tuples become lists)."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(settings).items()}
