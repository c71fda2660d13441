"""What the main job runs: one frozen `MainSettings`, named scales, and the flags that change them.

The default scale ("small") is sized so the whole job (corpus, tokenizer, NTP base, RLP and CPT arms, three
evaluations, the thought probe, the report) finishes in well under 15 minutes on a 2-core CPU; "medium" and "large"
trade time for a model and step counts whose numbers mean more; "tiny" exists for the end-to-end test.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass


@dataclass(frozen=True)
class MainSettings:
    """Every knob of the main job (written to main_state.json; a rerun with other settings is refused)."""

    # --- corpus and tokenizer
    train_ops: tuple[int, ...] = (2, 3, 4, 5)
    """Op counts of the training corpus (equal problems per op)."""
    per_op: int = 1500
    """Training problems per op count (templates x modes round-robin)."""
    templates: tuple[str, ...] = ("A", "B", "C")
    """Contexts of the corpus and of the held-out problems."""
    modes: tuple[str, ...] = ("forward", "reverse")
    """Problem modes of the corpus and of the held-out problems."""
    vocab_size: int = 1024
    """Requested BPE vocabulary (the trainer stops earlier when the corpus has no more merges)."""
    # --- model
    hidden_size: int = 128
    """Width of the residual stream."""
    num_layers: int = 4
    """Decoder blocks."""
    num_heads: int = 4
    """Query heads (head_dim = hidden_size / num_heads)."""
    num_kv_heads: int = 2
    """Key/value heads."""
    seq_len: int = 256
    """Packed row length of NTP (base and CPT) and the document window of RLP."""
    # --- NTP base
    batch_size: int = 16
    """Rows per NTP step (base and CPT)."""
    pretrain_steps: int = 250
    """NTP steps of the base model."""
    pretrain_lr: float = 3e-3
    """Peak learning rate of the base (cosine to 10%)."""
    # --- the two continuations (RLP, and CPT at the RLP arm's FLOPs)
    rlp_steps: int = 20
    """RLP steps; the CPT arm gets as many NTP steps as cost the same FLOPs."""
    rlp_docs: int = 4
    """Documents per RLP step."""
    rlp_positions: int = 2
    """K: positions per document at which the model thinks."""
    rlp_group: int = 4
    """G: thoughts per position."""
    rlp_thought_tokens: int = 12
    """Thought length cap (tokens after <think>, </think> included)."""
    rlp_temperature: float = 0.7
    """Sampling temperature of thoughts."""
    rlp_ema_tau: float = 0.9
    """EMA teacher decay (the paper's 0.999 would leave the teacher at the base over a few dozen steps)."""
    arm_lr: float = 1e-4
    """Constant learning rate of both continuations (the same for RLP and CPT)."""
    # --- evaluation
    eval_ops: tuple[int, ...] = (2, 3, 4, 5)
    """Op counts of the held-out problems."""
    eval_per_op: int = 12
    """Held-out problems per op count (none of them in the corpus, checked by id)."""
    samples: int = 8
    """Samples per problem (n of pass@k)."""
    eval_temperature: float = 0.7
    """Sampling temperature of the evaluation."""
    eval_max_new_tokens: int = 192
    """Completion length cap (an op-5 gold completion is about 130 tokens with the trained tokenizer)."""
    eval_batch_size: int = 64
    """Rows per sampler call."""
    probe_docs: int = 16
    """Held-out documents on which the thought probe samples thoughts."""
    seed: int = 0
    """Seed of the corpus, the models, the held-out set and sampling."""

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_heads


SCALES: dict[str, dict] = {
    "tiny": dict(train_ops=(2, 3), per_op=24, vocab_size=320, hidden_size=32, num_layers=1, num_heads=2,
                 num_kv_heads=1, seq_len=96, batch_size=8, pretrain_steps=3, rlp_steps=2, rlp_docs=8,
                 rlp_positions=1, rlp_group=2, rlp_thought_tokens=4, eval_ops=(2, 3), eval_per_op=2, samples=2,
                 eval_max_new_tokens=8, eval_batch_size=8, probe_docs=2),
    "small": {},
    "medium": dict(per_op=4000, hidden_size=256, num_layers=6, pretrain_steps=2000, rlp_steps=100, rlp_docs=8,
                   rlp_group=8, rlp_thought_tokens=32, eval_ops=(2, 3, 4, 5, 6, 7), eval_per_op=50, samples=16),
    "large": dict(train_ops=tuple(range(2, 11)), per_op=20000, hidden_size=512, num_layers=8, num_heads=8,
                  seq_len=512, batch_size=32, pretrain_steps=10000, pretrain_lr=1e-3, rlp_steps=200, rlp_docs=16,
                  rlp_group=16, rlp_thought_tokens=64, eval_ops=tuple(range(2, 11)), eval_per_op=100, samples=32,
                  eval_max_new_tokens=512),
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
