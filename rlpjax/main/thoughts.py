"""The thought probe: at which ops do a model's thoughts make the answer more likely, and at which not?

On held-out problems (never trained on) rendered question then answer (`reasoning.thinking` "direct"), a model
thinks where the RLP arm thinks (right after `</question>`, G thoughts per problem) with RLP's own rollout code, and
every thought gets the information gain on the tokens RLP scores (the next `horizon` tokens, through the answer):

    gain(c) = sum_i log p(x_{t+i} | x_<t, <think> c </think>, x_t..x_{t+i-1}) - log p(x_{t+i} | x_<t+i)

where both terms come from the *same* model (the probe's baseline is the model without a thought, not the RLP
run's EMA teacher, so base and RLP are measured alike, on the same problems). Each thought is kept with its op, its
text, the answer and whether it closed `</think>` within the cap, so the report can say at which ops (train, edge,
hard) thinking helped.
"""

from __future__ import annotations

import dataclasses
import functools

import jax
import numpy as np
from tqdm.auto import tqdm

from rlpjax.data.packing import rows_to_batch
from rlpjax.main.settings import THINK_AFTER
from rlpjax.rlp.rollout import rollout
from rlpjax.rlp.settings import RolloutSettings
from rlpjax.rlp.thoughts import thought_tokens

PROBE_BATCH = 8
"""Documents per rollout call (one compile; the last call is padded with copies)."""
ROW_MULTIPLE = 64
"""Row lengths are rounded up to this."""


@dataclasses.dataclass(frozen=True)
class ProbedThought:
    """One sampled thought and what it did to the log-probability of the answer tokens."""

    doc: int
    op: int
    group: int
    gain: float
    """Summed over the horizon: log p(x | context, thought) - log p(x | context), nats."""
    thought: str
    scored: str
    """The scored tokens after the thought (e.g. " <answer> 4 "), decoded."""
    closed: bool
    """The thought ended with `</think>` within the cap."""


def probe(loaded, documents: list[str], ops: list[int], *, group: int, thought_cap: int, temperature: float,
          horizon: int, seed: int, progress: bool = True, desc: str = "probe") -> list[ProbedThought]:
    """Sample G thoughts right after `</question>` of every document (`ops[i]` the op of `documents[i]`); rows are
    as long as the longest document (rounded up to ROW_MULTIPLE), so no document loses its answer."""
    tok = loaded.tokenizer
    thoughts_ids = thought_tokens(tok, loaded.model_cfg.vocab_size)
    rs = RolloutSettings(positions_per_doc=1, group_size=group, position_strategy="after_token",
                         max_thought_tokens=thought_cap, temperature=temperature, top_p=1.0, top_k=0, horizon=horizon,
                         think_id=thoughts_ids.think_id, end_think_id=thoughts_ids.end_think_id,
                         pad_id=tok.pad_id or 0, position_token_id=tok.token_to_id(THINK_AFTER))
    run = jax.jit(functools.partial(rollout, loaded.graphdef, rs=rs))
    bos = [tok.bos_id] if loaded.add_bos and tok.bos_id is not None else []
    eos = [tok.eos_id] if tok.eos_id is not None else []
    rows = [np.asarray(bos + ids + eos, np.int32) for ids in tok.encode_batch(documents)]
    seq_len = -(-max(len(row) for row in rows) // ROW_MULTIPLE) * ROW_MULTIPLE
    probed: list[ProbedThought] = []
    for start in tqdm(range(0, len(rows), PROBE_BATCH), desc=desc, unit="batch", disable=not progress):
        chunk = rows[start:start + PROBE_BATCH]
        padded = chunk + [chunk[0]] * (PROBE_BATCH - len(chunk))
        batch = rows_to_batch([[row] for row in padded], seq_len, tok.pad_id or 0, with_lengths=True)
        out = jax.device_get(run(loaded.params, loaded.params, None, batch, jax.random.PRNGKey(seed + start)))
        mask_bkh = out["horizon_mask_bkh"]
        gain_bkg = ((out["s_pred_bkgh"] - out["s_ema_bkh"][:, :, None, :]) * mask_bkh[:, :, None, :]).sum(-1)
        lengths_bkg = out["thought_mask_bkgl"].sum(-1)
        for b, row in enumerate(chunk):
            if not out["position_valid_bk"][b, 0]:
                continue
            t = int(out["positions_bk"][b, 0])
            scored = tok.decode(row[t:t + int(mask_bkh[b, 0].sum())].tolist())
            for g in range(group):
                thought = out["thoughts_bkgl"][b, 0, g, :lengths_bkg[b, 0, g]].tolist()
                probed.append(ProbedThought(start + b, ops[start + b], g, float(gain_bkg[b, 0, g]), tok.decode(thought),
                                            scored, not bool(out["truncated_bkg"][b, 0, g])))
    return probed


def summarize(probed: list[ProbedThought]) -> dict:
    """Mean gain, share of helpful thoughts (gain > 0), share closed and counts, overall and by op."""
    def stats(items: list[ProbedThought]) -> dict:
        gains = np.array([p.gain for p in items], np.float64)
        return {"thoughts": len(items), "mean_gain": float(gains.mean()) if items else 0.0,
                "helped_frac": float((gains > 0).mean()) if items else 0.0,
                "closed_frac": float(np.mean([p.closed for p in items])) if items else 0.0}

    ops = sorted({p.op for p in probed})
    return {"overall": stats(probed), "by_op": {str(op): stats([p for p in probed if p.op == op]) for op in ops}}
