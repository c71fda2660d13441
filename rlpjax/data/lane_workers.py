"""A host's lanes built in worker processes (data.workers > 0): reading and tokenizing text on several cores.

The host's lanes are cut into `workers` consecutive blocks; worker w runs `pipeline.batch_maker` over block w in a
spawned process and sends its rows of every step, with its lanes' states after that step, through a queue of
`AHEAD` steps. The parent concatenates the blocks in lane order. A lane's rows depend only on its own state, so the
batches and states are the one-process ones for any number of workers, and a state written with any worker count
resumes with any other (`set_state` restarts the workers from it).

Not grain's `mp_prefetch`: its workers take interleaved slices of one dataset, so the order and the checkpoint it
writes depend on the worker count; lanes are already independent streams, one set per worker.

A worker's failure is the parent's: a user error (a missing file, a bad tokenizer) is re-raised as a ConfigError
with its message, anything else as a RuntimeError with the worker's traceback, and a worker that dies (killed, out
of memory) is named with its exit code.
"""

from __future__ import annotations

import multiprocessing
import queue
import traceback

from rlpjax.config import DataConfig
from rlpjax.config_io import ConfigError

AHEAD = 2
"""Steps a worker prepares before the parent asks for them."""

POLL_S = 1.0
"""How often the parent checks that a worker it waits on is still alive."""


def _worker(data_cfg: DataConfig, split: str, lanes: range, state: dict | None, out) -> None:
    """Build `lanes`, restore `state` (a data state holding them) if given, then send ("ready", lane states) and
    ("batch", batch, lane states) per step until the data ends ("end") or fails ("user_error" / "error", text)."""
    from rlpjax.data.pipeline import batch_maker

    try:
        maker = batch_maker(data_cfg, split, lanes)
        if state is not None:
            maker.set_state(state)
        out.put(("ready", maker.get_state()["lanes"]))
        while True:
            try:
                batch = next(maker)
            except StopIteration:
                out.put(("end",))
                return
            out.put(("batch", batch, maker.get_state()["lanes"]))
    except ConfigError as err:
        out.put(("user_error", str(err)))
    except Exception:  # sent whole to the parent, which raises it there
        out.put(("error", traceback.format_exc()))


def split_lanes(lanes: range, workers: int) -> list[range]:
    """`lanes` cut into `workers` consecutive blocks, sizes differing by at most one, in order."""
    size, extra = divmod(len(lanes), workers)
    blocks, start = [], lanes.start
    for w in range(workers):
        stop = start + size + (w < extra)
        blocks.append(range(start, stop))
        start = stop
    return blocks


class WorkerLanes:
    """The batch maker of `lanes` over `workers` processes: iterator, get_state, set_state (pipeline._BatchMaker's
    interface)."""

    def __init__(self, data_cfg: DataConfig, split: str, lanes: range, workers: int):
        from rlpjax.data.pipeline import fingerprint

        self._cfg, self._split, self._fingerprint = data_cfg, split, fingerprint(data_cfg, split)
        self._blocks = split_lanes(lanes, workers)
        self._context = multiprocessing.get_context("spawn")  # fork is unsafe beside JAX's and grain's threads
        self._procs: list = []
        self._start(None)

    def _start(self, state: dict | None) -> None:
        """(Re)start one worker per block from `state` (None: the beginning) and wait for each one's lane states,
        so a user error in the data config surfaces here, as it does without workers."""
        self.close()
        self._queues = [self._context.Queue(maxsize=AHEAD) for _ in self._blocks]
        self._procs = [self._context.Process(target=_worker, args=(self._cfg, self._split, block, state, out),
                                             daemon=True, name=f"rlpjax-lanes-{block.start}-{block.stop - 1}")
                       for block, out in zip(self._blocks, self._queues)]
        for proc in self._procs:
            proc.start()
        self._lane_states: dict = {}
        self._ended = False
        for w in range(len(self._procs)):
            self._lane_states.update(self._receive(w, "ready")[1])

    def _receive(self, w: int, kind: str) -> tuple:
        """The next message of worker `w`, which must be of `kind` (or "end" for a batch); its failures raised."""
        while True:
            try:
                message = self._queues[w].get(timeout=POLL_S)
                break
            except queue.Empty:
                if not self._procs[w].is_alive():
                    code = self._procs[w].exitcode
                    self.close()
                    raise RuntimeError(f"data worker {w} (lanes {self._blocks[w].start}..{self._blocks[w].stop - 1})"
                                       f" died with exit code {code}; check its memory, or set data.workers=0")
        if message[0] == "user_error":
            self.close()
            raise ConfigError(message[1])
        if message[0] == "error":
            self.close()
            raise RuntimeError(f"data worker {w} failed:\n{message[1]}")
        if message[0] not in (kind, "end"):
            raise RuntimeError(f"data worker {w} sent {message[0]!r} where {kind!r} was due")
        return message

    def __iter__(self):
        return self

    def __next__(self) -> dict:
        import numpy as np

        if self._ended:
            raise StopIteration
        messages = [self._receive(w, "batch") for w in range(len(self._procs))]
        if any(message[0] == "end" for message in messages):
            self._ended = True  # like one process: the data ends at the first lane that runs out
            raise StopIteration
        for message in messages:
            self._lane_states.update(message[2])
        return {key: np.concatenate([message[1][key] for message in messages]) for key in messages[0][1]}

    def get_state(self) -> dict:
        from rlpjax.data.pipeline import _STATE_VERSION

        return {"version": _STATE_VERSION, "config": self._fingerprint, "lanes": dict(self._lane_states)}

    def set_state(self, state: dict) -> None:
        from rlpjax.data.pipeline import check_state

        check_state(state, self._fingerprint)
        self._start(state)

    def close(self) -> None:
        """Stop the workers (also at exit: they are daemons)."""
        for proc in self._procs:
            if proc.is_alive():
                proc.terminate()
            proc.join(timeout=10)
        self._procs = []
