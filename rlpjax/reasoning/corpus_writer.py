"""Write a deduplicated, sharded JSONL corpus from per-cell quotas, in parallel and deterministically.

Each cell (op, template, mode) has a deterministic stream of candidates (`corpora.candidate`; problems in the
held-out part of the key space, `generator.is_heldout`, are left out, so no evaluation set overlaps a
corpus). Workers generate fixed-size chunks of candidates; the main process consumes chunks in a fixed order
(chunk 0 of every cell, then chunk 1, ...), keeps the first occurrence of every id (exact dedup across all cells and splits) until the cell's
quota is met, and assigns a cell's kept problems to splits in order (train first, then val, then test). Chunk size
depends only on the quota, never on the worker count, so the output is identical for any `workers`.

Files: `DIR/{split}-{i:05d}-of-{n:05d}.jsonl` (records: id, key, op, template, mode, problem, question, solution,
answer, text, prompt, graph) and `DIR/manifest.json` (seed, quotas, files and counts, whether documents carry the
`Answer: n.` line, and for a mixture corpus its text and each part's exact problem count).
"""

from __future__ import annotations

import collections
import json
import math
import multiprocessing
import pathlib

from tqdm import tqdm

from rlpjax.config_io import ConfigError
from rlpjax.reasoning.corpora import candidate
from rlpjax.reasoning.format import document_text, prompt_text
from rlpjax.reasoning.generator import is_heldout
from rlpjax.reasoning.mixtures import Cell, apportion

MAX_CHUNK = 128
_STREAM = "corpus"


def _chunk_size(quota: int) -> int:
    return max(1, min(MAX_CHUNK, quota))


def generate_chunk(seed: int, cell: Cell, chunk: int, size: int, answer_line: bool = False) -> list[tuple[str, str]]:
    """(id, JSON line) for the candidates [chunk*size, (chunk+1)*size) of a cell that are not held out (runs in a
    worker)."""
    lines = []
    for index in range(chunk * size, (chunk + 1) * size):
        record = candidate(seed, _STREAM, cell, index)
        if is_heldout(record["key"]):
            continue
        full = {"id": record["id"], "key": record["key"], "op": record["op"], "template": record["template"],
                "mode": record["mode"], "problem": record["problem"], "question": record["question"],
                "solution": record["solution"], "answer": record["answer"],
                "text": document_text(record, answer_line), "prompt": prompt_text(record), "graph": record["graph"]}
        lines.append((record["id"], json.dumps(full, separators=(",", ":"))))
    return lines


def _generate_chunk_star(args: tuple) -> list[tuple[str, str]]:
    return generate_chunk(*args)


class _ShardWriter:
    """Writes one split's lines into `n` shards of `per_shard` records each."""

    def __init__(self, out_dir: pathlib.Path, split: str, total: int, per_shard: int):
        self.out_dir, self.split, self.per_shard = out_dir, split, per_shard
        self.num_shards = max(1, math.ceil(total / per_shard))
        self.written, self.handle, self.files = 0, None, []

    def write(self, line: str) -> None:
        if self.written % self.per_shard == 0:
            self.close()
            name = f"{self.split}-{self.written // self.per_shard:05d}-of-{self.num_shards:05d}.jsonl"
            self.files.append(name)
            self.handle = (self.out_dir / name).open("w")
        self.handle.write(line + "\n")
        self.written += 1

    def close(self) -> None:
        if self.handle is not None:
            self.handle.close()
            self.handle = None


def write_corpus(out_dir: str | pathlib.Path, quotas: dict[Cell, int], splits: dict[str, float], seed: int,
                 workers: int = 1, records_per_shard: int = 100_000, progress: bool = True,
                 answer_line: bool = False, mixture: dict | None = None) -> dict:
    """Generate and write the corpus; returns the manifest (also written to DIR/manifest.json).

    `answer_line` appends ` Answer: n.` to every document's solution (`format.document_text`); `mixture` (its
    text and exact part counts, from the CLI) is recorded in the manifest as given."""
    quotas = {cell: n for cell, n in quotas.items() if n > 0}
    if not quotas:
        raise ConfigError("the corpus would be empty; ask for at least one problem")
    out_dir = pathlib.Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    split_counts = {cell: apportion(splits, n) for cell, n in quotas.items()}
    writers = {split: _ShardWriter(out_dir, split, sum(c[split] for c in split_counts.values()), records_per_shard)
               for split in splits}
    kept = collections.Counter()
    seen: set[str] = set()
    bar = tqdm(total=sum(quotas.values()), desc="generate-data", unit="problem", disable=not progress)

    def consume(cell: Cell, chunk: int, lines: list[tuple[str, str]]) -> None:
        for problem_id, line in lines:
            if kept[cell] == quotas[cell]:
                return
            if problem_id in seen:
                continue
            seen.add(problem_id)
            writers[_split_of(kept[cell], split_counts[cell])].write(line)
            kept[cell] += 1
            bar.update(1)
        if chunk * _chunk_size(quotas[cell]) > 50 * quotas[cell] + 1000 and kept[cell] < quotas[cell]:
            raise ConfigError(f"only {kept[cell]} unique problems found for op {cell[0]}, template {cell[1]}, "
                              f"mode {cell[2]}; ask for fewer problems of that op count")

    def units():
        for chunk in range(10**12):
            pending = [cell for cell in quotas if kept[cell] < quotas[cell]]
            if not pending:
                return
            for cell in pending:
                yield cell, chunk

    try:
        if workers <= 1:
            for cell, chunk in units():
                consume(cell, chunk, generate_chunk(seed, cell, chunk, _chunk_size(quotas[cell]), answer_line))
        else:
            _run_parallel(units(), quotas, seed, workers, consume, answer_line)
    finally:
        bar.close()
        for writer in writers.values():
            writer.close()
    manifest = {"seed": seed, "splits": {s: {"records": w.written, "files": w.files} for s, w in writers.items()},
                "answer_line": answer_line,
                "quotas": [{"op": c[0], "template": c[1], "mode": c[2], "count": n} for c, n in quotas.items()]}
    if mixture is not None:
        manifest["mixture"] = mixture
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=1))
    return manifest


def _split_of(position: int, counts: dict[str, int]) -> str:
    """The split of a cell's `position`-th kept problem: splits fill in order."""
    for split, count in counts.items():
        if position < count:
            return split
        position -= count
    raise AssertionError("a cell kept more problems than its quota")


def _run_parallel(units, quotas: dict[Cell, int], seed: int, workers: int, consume, answer_line: bool) -> None:
    """Generate chunks in `workers` processes, consuming results strictly in submission order.

    Units are submitted a bounded window ahead; a unit of a cell that filled up meanwhile is consumed as a no-op,
    so which units get submitted never changes what is written."""
    context = multiprocessing.get_context("spawn")
    with context.Pool(workers) as pool:
        window = collections.deque()
        iterator = iter(units)
        while True:
            while len(window) < 4 * workers:
                unit = next(iterator, None)
                if unit is None:
                    break
                cell, chunk = unit
                args = (seed, cell, chunk, _chunk_size(quotas[cell]), answer_line)
                window.append((cell, chunk, pool.apply_async(_generate_chunk_star, (args,))))
            if not window:
                return
            cell, chunk, result = window.popleft()
            consume(cell, chunk, result.get())
