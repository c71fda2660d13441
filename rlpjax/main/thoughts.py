"""The thought probe: where do a model's thoughts raise the log-likelihood of the next token, and where not?

On held-out documents (never trained on), a model thinks at evenly spaced positions (`stride`, PROBE_POSITIONS per
document, G thoughts each) with RLP's own rollout code, and every thought gets the information gain

    gain(c) = log p(x_t | x_<t, <think> c </think>) - log p(x_t | x_<t)

where both terms come from the *same* model (the probe's baseline is the model without a thought, not the RLP
run's EMA teacher, so base and RLP are measured alike and on the same positions). Each thought is kept with its
decoded context tail, next token, the document section it sits in (question, solution, answer) and the kind of the
next token (number, tag, text), so the report can say where thinking helped.
"""

from __future__ import annotations

import dataclasses
import functools

import jax
import numpy as np
from tqdm.auto import tqdm

from rlpjax.data.packing import rows_to_batch
from rlpjax.rlp.rollout import RolloutSettings, rollout
from rlpjax.rlp.thoughts import thought_tokens

PROBE_POSITIONS = 8
"""Positions per probed document (evenly spaced over the document)."""
PROBE_BATCH = 4
"""Documents per rollout call (one compile; the last call is padded with copies)."""
CONTEXT_TAIL = 12
"""Context tokens shown before each thought."""


@dataclasses.dataclass(frozen=True)
class ProbedThought:
    """One sampled thought and what it did to the next token's log-probability."""

    doc: int
    position: int
    group: int
    gain: float
    """log p(x_t | x_<t, thought) - log p(x_t | x_<t), nats."""
    context_tail: str
    thought: str
    next_token: str
    section: str
    """"question", "solution" or "answer": the part of the document x_t belongs to."""
    kind: str
    """"number", "tag" or "text": what x_t is."""


def _section(tokens: np.ndarray, t: int, tag_ids: dict[str, int | None]) -> str:
    """The last section tag opened before position t."""
    seen = {name: np.nonzero(tokens[:t] == tid)[0] for name, tid in tag_ids.items() if tid is not None}
    opened = {name: int(idx[-1]) for name, idx in seen.items() if idx.size}
    return max(opened, key=opened.get) if opened else "question"


def _kind(token_text: str, is_special: bool) -> str:
    if is_special:
        return "tag"
    stripped = token_text.strip()
    return "number" if stripped and stripped.isdigit() else "text"


def probe(loaded, documents: list[str], *, seq_len: int, group: int, thought_cap: int, temperature: float,
          seed: int, progress: bool = True, desc: str = "probe") -> list[ProbedThought]:
    """Sample G thoughts at PROBE_POSITIONS positions of every document; one ProbedThought per valid thought."""
    tok = loaded.tokenizer
    thoughts_ids = thought_tokens(tok, loaded.model_cfg.vocab_size)
    rs = RolloutSettings(positions_per_doc=PROBE_POSITIONS, group_size=group, position_strategy="stride",
                         max_thought_tokens=thought_cap, temperature=temperature, top_p=1.0, top_k=0, horizon=1,
                         think_id=thoughts_ids.think_id, end_think_id=thoughts_ids.end_think_id,
                         pad_id=tok.pad_id or 0)
    run = jax.jit(functools.partial(rollout, loaded.graphdef, rs=rs))
    bos = [tok.bos_id] if loaded.add_bos and tok.bos_id is not None else []
    eos = [tok.eos_id] if tok.eos_id is not None else []
    rows = [np.asarray((bos + ids + eos)[:seq_len], np.int32) for ids in tok.encode_batch(documents)]
    tag_ids = {name: tok.token_to_id(f"<{name}>") for name in ("solution", "answer")}
    specials = {i for i in (tok.bos_id, tok.eos_id, tok.pad_id, *tag_ids.values()) if i is not None}
    specials |= {tok.token_to_id(t) for t in ("<question>", "</question>", "</solution>", "</answer>")} - {None}
    probed: list[ProbedThought] = []
    for start in tqdm(range(0, len(rows), PROBE_BATCH), desc=desc, unit="batch", disable=not progress):
        chunk = rows[start:start + PROBE_BATCH]
        padded = chunk + [chunk[0]] * (PROBE_BATCH - len(chunk))
        batch = rows_to_batch([[row] for row in padded], seq_len, tok.pad_id or 0, with_lengths=True)
        out = jax.device_get(run(loaded.params, loaded.params, None, batch, jax.random.PRNGKey(seed + start)))
        gain_bkg = out["s_pred_bkgh"][..., 0] - out["s_ema_bkh"][:, :, None, 0]
        lengths_bkg = out["thought_mask_bkgl"].sum(-1)
        for b, row in enumerate(chunk):
            for k in range(PROBE_POSITIONS):
                if not out["position_valid_bk"][b, k]:
                    continue
                t = int(out["positions_bk"][b, k])
                tail = tok.decode(row[max(0, t - CONTEXT_TAIL):t].tolist())
                next_id = int(row[t])
                next_text = tok.decode([next_id])
                for g in range(group):
                    thought = tok.decode(out["thoughts_bkgl"][b, k, g, :lengths_bkg[b, k, g]].tolist())
                    probed.append(ProbedThought(start + b, t, g, float(gain_bkg[b, k, g]), tail, thought, next_text,
                                                _section(row, t, tag_ids), _kind(next_text, next_id in specials)))
    return probed


def summarize(probed: list[ProbedThought]) -> dict:
    """Mean gain, share of helpful thoughts (gain > 0) and counts, overall and by (section, kind)."""
    def stats(items: list[ProbedThought]) -> dict:
        gains = np.array([p.gain for p in items], np.float64)
        return {"thoughts": len(items), "mean_gain": float(gains.mean()) if items else 0.0,
                "helped_frac": float((gains > 0).mean()) if items else 0.0}

    groups: dict[str, list[ProbedThought]] = {}
    for p in probed:
        groups.setdefault(f"{p.section} / {p.kind}", []).append(p)
    return {"overall": stats(probed), "by_place": {name: stats(groups[name]) for name in sorted(groups)}}
