"""Teacher-forced next-token loss of a model on held-out controlled documents, overall and per op count.

The paper draws NLL by op beside pass@k: a model can lower the loss of the gold solutions of an op before it
solves any of them. Each document (the problem and its gold solution, `reasoning.format.document_text`) gets its
own row, with BOS / EOS as in training, so no document sees another's tokens. The loss is summed in nats over
the real tokens and divided once, per op and overall (a token-weighted mean, not a mean of per-document means).
"""

from __future__ import annotations

import functools

import jax
import numpy as np
from flax import nnx

from rlpjax.data.packing import rows_to_batch
from rlpjax.objectives.ntp import ntp_loss
from rlpjax.reasoning.format import document_text

NLL_BATCH = 8
"""Documents per teacher-forced pass."""

ROW_MULTIPLE = 64
"""When no row length is given, rows are the longest document rounded up to this, so one program serves all ops."""


def document_rows(loaded, texts: list[str]) -> list[np.ndarray]:
    """Each text's token ids with BOS (when the model was trained with it) and EOS."""
    tok = loaded.tokenizer
    bos = [tok.bos_id] if loaded.add_bos and tok.bos_id is not None else []
    eos = [tok.eos_id] if tok.eos_id is not None else []
    return [np.asarray(bos + ids + eos, np.int32) for ids in tok.encode_batch(texts)]


@functools.partial(jax.jit, static_argnames=("graphdef",))
def _summed(graphdef, params, batch):
    """(summed nats, tokens) of one batch; one compile per model structure and row length, shared by every op
    and every model evaluated in the process."""
    logits = nnx.merge(graphdef, params)(batch["tokens"], batch["positions"], batch["segment_ids"])
    _, metrics = ntp_loss(logits, batch["tokens"], batch["segment_ids"])
    return metrics["nll"] * metrics["num_tokens"], metrics["num_tokens"]


def summed_nll(loaded, rows: list[np.ndarray], seq_len: int) -> tuple[float, float]:
    """(summed next-token loss in nats, tokens counted) over `rows`, each cut to `seq_len` tokens."""
    pad_id = loaded.tokenizer.pad_id or 0
    total, count = 0.0, 0.0
    for start in range(0, len(rows), NLL_BATCH):
        chunk = [row[:seq_len] for row in rows[start:start + NLL_BATCH]]
        chunk = chunk + [np.zeros(0, np.int32)] * (NLL_BATCH - len(chunk))  # empty rows count no tokens
        batch = rows_to_batch([[r] for r in chunk], seq_len, pad_id, with_lengths=False)
        nll_sum, n = jax.device_get(_summed(loaded.graphdef, loaded.params, batch))
        total, count = total + float(nll_sum), count + float(n)
    return total, count


def nll_by_op(loaded, problems: list[dict], seq_len: int | None = None) -> tuple[float, dict[int, float]]:
    """Held-out next-token loss (nats / token) over all problems' gold documents, and per op.

    `seq_len` cuts longer documents (the main job passes its training row length); None fits the longest document
    (rounded up to `ROW_MULTIPLE`, at most the model's `max_seq_len`)."""
    rows = document_rows(loaded, [document_text(p) for p in problems])
    if seq_len is None:
        longest = max((len(row) for row in rows), default=1)
        seq_len = min(-(-longest // ROW_MULTIPLE) * ROW_MULTIPLE, loaded.model_cfg.max_seq_len)
    sums = {op: summed_nll(loaded, [row for row, p in zip(rows, problems) if p["op"] == op], seq_len)
            for op in sorted({p["op"] for p in problems})}
    total, count = (sum(values) for values in zip(*sums.values()))
    return total / max(count, 1.0), {op: nll / max(n, 1.0) for op, (nll, n) in sums.items()}
