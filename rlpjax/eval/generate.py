"""Batched text completion for evaluation: n samples of every prompt with a bounded number of compiles.

`generate(graphdef, params, tokenizer, prompts, samples=n, ...)` returns, for each prompt, its n completions as text.
How it keeps the jitted sampler (`rlpjax.sampling.sample`) cheap to compile and busy:

- every prompt is repeated n times as n rows; rows are ordered by prompt length (so a batch holds similar lengths)
  and cut into batches of exactly `batch_size` rows (the last one padded with copies of its first row);
- a batch's prompt width is its longest prompt rounded up to a multiple of `length_bucket` (64), so there is one
  compile per distinct width, not one per prompt;
- a row stops at the tokenizer's EOS, or at a stop string the tokenizer holds as one token; multi-token stop strings
  (e.g. `</answer>` with the byte tokenizer) cannot stop the compiled loop, so the text is cut after their first
  occurrence instead (`completion_text`). The stop string is kept, as the sampler keeps a stop token.

A tqdm bar counts finished prompts (all n samples done), shows the ETA, and says when a call compiles a new shape.
"""

from __future__ import annotations

import dataclasses
from typing import Sequence

import jax
import numpy as np
from tqdm.auto import tqdm

from rlpjax.config_io import ConfigError
from rlpjax.sampling import SamplingSettings, sample

LENGTH_BUCKET = 64
"""Prompt widths are rounded up to a multiple of this (bounds the number of compiled shapes)."""


@dataclasses.dataclass(frozen=True)
class Batch:
    """One sampler call: `rows[i]` = (prompt index, sample index) of batch row i (padding rows excluded)."""

    rows: tuple[tuple[int, int], ...]
    width: int
    """Padded prompt length of this call."""


def plan_batches(prompt_lengths: Sequence[int], samples: int, batch_size: int,
                 length_bucket: int = LENGTH_BUCKET) -> list[Batch]:
    """Rows (prompt, sample) ordered by prompt length, cut into batches of at most `batch_size` rows."""
    order = sorted(range(len(prompt_lengths)), key=lambda i: prompt_lengths[i])
    rows = [(prompt, s) for prompt in order for s in range(samples)]
    batches = []
    for start in range(0, len(rows), batch_size):
        chunk = tuple(rows[start:start + batch_size])
        longest = max(prompt_lengths[prompt] for prompt, _s in chunk)
        batches.append(Batch(chunk, -(-longest // length_bucket) * length_bucket))
    return batches


def stop_settings(tokenizer, stop_strings: Sequence[str]) -> tuple[int, ...]:
    """Token ids that end a row: EOS and every stop string the tokenizer holds as a single token."""
    ids = [tokenizer.eos_id] + [tokenizer.token_to_id(text) for text in stop_strings]
    return tuple(sorted({i for i in ids if i is not None}))


def completion_text(tokenizer, tokens: Sequence[int], stop_strings: Sequence[str] = ()) -> str:
    """The text of generated `tokens` (a row's first `length` tokens): EOS and what follows it dropped, then cut
    right after the earliest stop string (kept, like a stop token)."""
    tokens = [int(t) for t in tokens]
    if tokenizer.eos_id is not None and tokenizer.eos_id in tokens:
        tokens = tokens[:tokens.index(tokenizer.eos_id)]
    text = tokenizer.decode(tokens)
    ends = [text.find(stop) + len(stop) for stop in stop_strings if stop in text]
    return text[:min(ends)] if ends else text


def encode_prompts(tokenizer, prompts: Sequence[str], add_bos: bool) -> list[list[int]]:
    """Token ids of each prompt, with the tokenizer's BOS first when `add_bos` (as training documents had)."""
    prefix = [tokenizer.bos_id] if add_bos and tokenizer.bos_id is not None else []
    return [prefix + ids for ids in tokenizer.encode_batch(list(prompts))]


def generate(graphdef, params, tokenizer, prompts: Sequence[str], *, samples: int, settings: SamplingSettings,
             batch_size: int, seed: int, stop_strings: Sequence[str] = (), add_bos: bool | None = None,
             mesh: jax.sharding.Mesh | None = None, progress: bool = True,
             desc: str = "eval") -> list[list[str]]:
    """`samples` completions (text after the prompt) of every prompt: result[i][s] is sample s of prompt i.

    `settings.stop_tokens` is extended with EOS and single-token stop strings. `add_bos` defaults to the
    tokenizer's own setting. With `mesh`, batch rows are split over its ("data", "fsdp") axes, so `batch_size` must
    be a multiple of their size.
    """
    if samples < 1 or batch_size < 1:
        raise ConfigError(f"samples={samples} and batch_size={batch_size} must both be at least 1")
    add_bos = tokenizer.add_bos if add_bos is None else add_bos
    prompt_ids = encode_prompts(tokenizer, prompts, add_bos)
    if any(not ids for ids in prompt_ids):
        raise ConfigError("an evaluation prompt encodes to no tokens; check the tokenizer and the prompt format")
    settings = dataclasses.replace(settings, pad_id=tokenizer.pad_id, stop_tokens=tuple(sorted(
        set(settings.stop_tokens) | set(stop_settings(tokenizer, stop_strings)))))
    place = _row_placement(mesh, batch_size)
    completions: list[list[str]] = [[""] * samples for _ in prompts]
    remaining = [samples] * len(prompts)
    base_key = jax.random.PRNGKey(seed)
    with tqdm(total=len(prompts), desc=desc, unit="problem", disable=not progress) as bar:
        compiled: set[int] = set()
        for index, batch in enumerate(plan_batches([len(ids) for ids in prompt_ids], samples, batch_size)):
            if batch.width not in compiled:  # a new shape: the next call compiles first (seconds to minutes)
                compiled.add(batch.width)
                bar.set_postfix_str(f"compiling the sampler for prompt width {batch.width} ...", refresh=True)
            tokens_bt, lengths_b = _pack(batch, prompt_ids, batch_size)
            out = sample(graphdef, params, place(tokens_bt), place(lengths_b), jax.random.fold_in(base_key, index),
                         settings)
            generated_bl, generated_lengths_b = jax.device_get((out.tokens_bl, out.lengths_b))
            for row, (prompt, s) in enumerate(batch.rows):
                completions[prompt][s] = completion_text(tokenizer, generated_bl[row, :generated_lengths_b[row]],
                                                         stop_strings)
                remaining[prompt] -= 1
                bar.update(remaining[prompt] == 0)
            bar.set_postfix_str("sampling", refresh=False)
    return completions


def _pack(batch: Batch, prompt_ids: list[list[int]], batch_size: int) -> tuple[np.ndarray, np.ndarray]:
    """[batch_size, width] right-padded prompt tokens and [batch_size] lengths; padding rows copy row 0."""
    rows = list(batch.rows) + [batch.rows[0]] * (batch_size - len(batch.rows))
    tokens_bt = np.zeros((batch_size, batch.width), np.int32)
    lengths_b = np.zeros((batch_size,), np.int32)
    for row, (prompt, _s) in enumerate(rows):
        ids = prompt_ids[prompt]
        tokens_bt[row, :len(ids)] = ids
        lengths_b[row] = len(ids)
    return tokens_bt, lengths_b


def _row_placement(mesh: jax.sharding.Mesh | None, batch_size: int):
    """How a host array of batch rows is put on devices: split over the mesh's batch axes, or left to jit."""
    if mesh is None:
        return lambda array: array
    from rlpjax.sharding import batch_sharding, batch_ways

    shards = batch_ways(mesh)
    if batch_size % shards:
        raise ConfigError(f"batch size {batch_size} does not divide over the {shards} data x fsdp devices; "
                          f"use a multiple of {shards}")
    return lambda array: jax.device_put(array, batch_sharding(mesh, array.ndim))
