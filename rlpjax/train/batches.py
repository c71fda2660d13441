"""Batches for the trainer: every host reads and tokenizes only the rows its own devices hold.

The batch a step sees does not depend on how many processes run the job (rlpjax.data.pipeline cuts it into lanes,
each a function of the seed and the step alone), so a checkpoint written by N processes resumes exactly on M: the
data position in the checkpoint is the state of every lane, gathered from all hosts into one global state that
process 0 writes, and each host of the resuming run picks its own lanes out of it.
"""

from __future__ import annotations

import json

import jax
import numpy as np
from jax.sharding import Mesh

from rlpjax.config import DataConfig
from rlpjax.data.pipeline import DataIterator, build_train_iterator, lane_count, merge_states, state_stats
from rlpjax.sharding import batch_sharding


class HostBatch(dict):
    """A host's arrays of one step: rows `rows` (a range of global rows) of a batch of `global_rows` rows."""

    def __init__(self, arrays: dict[str, np.ndarray], rows: range, global_rows: int):
        super().__init__(arrays)
        self.rows, self.global_rows = rows, global_rows


def host_rows(mesh: Mesh, global_rows: int) -> range:
    """The global rows this process's devices hold of a batch split over the mesh's batch axes (the span from the
    first to the last; processes own contiguous blocks on the usual meshes)."""
    slices = [index[0] for index in batch_sharding(mesh, 1).addressable_devices_indices_map((global_rows,)).values()]
    return range(min(s.start or 0 for s in slices), max(global_rows if s.stop is None else s.stop for s in slices))


class HostBatches:
    """The trainer's batch stream: this host's rows of every step, with a global (all hosts') state."""

    def __init__(self, data_cfg: DataConfig, mesh: Mesh | None, split: str = "train"):
        """`mesh` None: the whole global batch (every row on this process)."""
        rows = range(data_cfg.global_batch_size) if mesh is None else host_rows(mesh, data_cfg.global_batch_size)
        per_lane = data_cfg.global_batch_size // lane_count(data_cfg)
        lanes = range(rows.start // per_lane, -(-rows.stop // per_lane))
        self._iterator: DataIterator = build_train_iterator(data_cfg, lanes=lanes, split=split)
        self._global_rows = data_cfg.global_batch_size

    def __iter__(self):
        return self

    def __next__(self) -> HostBatch:
        return HostBatch(next(self._iterator), self._iterator.rows, self._global_rows)

    def get_state(self) -> dict:
        """The data state of every lane of every host (a collective: every process calls it)."""
        return merge_states(allgather_json(self._iterator.get_state()))

    def set_state(self, state: dict) -> None:
        self._iterator.set_state(state)

    def stats(self) -> dict[str, int]:
        """The data counters over all hosts (a collective: every process calls it)."""
        return state_stats(self.get_state())


def allgather_json(value) -> list:
    """`value` (JSON-serialisable) of every process, in process order."""
    if jax.process_count() == 1:
        return [value]
    from jax.experimental import multihost_utils

    data = np.frombuffer(json.dumps(value).encode(), dtype=np.uint8)
    sizes = np.asarray(multihost_utils.process_allgather(np.array([data.size], dtype=np.int32))).reshape(-1)
    padded = np.zeros(int(sizes.max()), dtype=np.uint8)
    padded[:data.size] = data
    gathered = np.asarray(multihost_utils.process_allgather(padded))
    return [json.loads(gathered[p, :sizes[p]].tobytes()) for p in range(len(sizes))]


def to_device_batch(host_batch: dict[str, np.ndarray], mesh: Mesh) -> dict[str, jax.Array]:
    """Global arrays sharded over the batch axis from a host's rows (a HostBatch) or from a whole global batch (a
    plain dict); each process only copies the rows its own devices hold."""
    first = host_batch.rows.start if isinstance(host_batch, HostBatch) else 0

    def place(value: np.ndarray) -> jax.Array:
        value = np.asarray(value)
        rows = host_batch.global_rows if isinstance(host_batch, HostBatch) else value.shape[0]

        def local(index: tuple[slice, ...]) -> np.ndarray:
            start, stop, _ = index[0].indices(rows)
            return value[(slice(start - first, stop - first),) + tuple(index[1:])]

        return jax.make_array_from_callback((rows,) + value.shape[1:], batch_sharding(mesh, value.ndim), local)

    return {key: place(value) for key, value in host_batch.items()}
