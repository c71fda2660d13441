"""Subprocess half of the resume test: restore a data state from an orbax JSON checkpoint, write the next batches.

Usage: python data_resume_worker.py DATA_CONFIG_JSON CHECKPOINT_DIR NUM_BATCHES OUT_NPZ
"""

import json
import sys

import numpy as np
import orbax.checkpoint as ocp

from rlpjax.config import DataConfig
from rlpjax.config_io import from_dict
from rlpjax.data import build_train_iterator


def main(config_path: str, checkpoint_dir: str, num_batches: str, out_path: str) -> None:
    cfg = from_dict(DataConfig, json.loads(open(config_path).read()))
    state = ocp.Checkpointer(ocp.JsonCheckpointHandler()).restore(checkpoint_dir, args=ocp.args.JsonRestore())
    iterator = build_train_iterator(cfg, process_index=0, process_count=1)
    iterator.set_state(state)
    batches = [next(iterator) for _ in range(int(num_batches))]
    np.savez(out_path, **{f"{i}/{key}": value for i, batch in enumerate(batches) for key, value in batch.items()},
             stats=json.dumps(iterator.stats()))


if __name__ == "__main__":
    main(*sys.argv[1:])
