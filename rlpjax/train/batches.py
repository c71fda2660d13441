"""Global batches for the trainer: every host reads the same global batch stream and keeps its own rows.

Why not a per-host share of the data: the batch a step sees must not depend on how many processes run the job, so
that a checkpoint written by N processes resumes exactly on M processes (the data position in the checkpoint is
one global state, identical on every host, and process 0 alone writes it). The price is that every host tokenizes
the whole global batch rather than its share; for the batch sizes this framework targets that is small next to a
step's compute.
"""

from __future__ import annotations

import jax
import numpy as np
from jax.sharding import Mesh

from rlpjax.config import DataConfig
from rlpjax.data import build_train_iterator
from rlpjax.sharding import batch_sharding


def global_batch_iterator(data_cfg: DataConfig, split: str = "train"):
    """The global batch stream of `data_cfg` (all rows of every step), the same on every process."""
    return build_train_iterator(data_cfg, process_index=0, process_count=1, split=split)


def to_device_batch(batch: dict[str, np.ndarray], mesh: Mesh) -> dict[str, jax.Array]:
    """The host's copy of a global batch as global arrays sharded over the batch axis; each process only copies
    the rows its own devices hold."""
    def place(value: np.ndarray) -> jax.Array:
        value = np.asarray(value)
        return jax.make_array_from_callback(value.shape, batch_sharding(mesh, value.ndim), lambda index: value[index])

    return {key: place(value) for key, value in batch.items()}
