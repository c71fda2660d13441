"""Multi-host start-up: `jax.distributed.initialize` from the environment or explicit flags.

On TPU pods and GKE, JAX discovers the coordinator itself; elsewhere (several local processes, GPU boxes) set
`RLPJAX_COORDINATOR=host:port`, `RLPJAX_NUM_PROCESSES` and `RLPJAX_PROCESS_ID` (what `launch/local.sh` does) or
pass the same values as flags. On CPU the collectives go through gloo.
"""

from __future__ import annotations

import os

import jax

_initialized = False


def initialize(coordinator: str | None = None, num_processes: int | None = None, process_id: int | None = None,
               local_device_count: int | None = None) -> None:
    """Join the multi-process job described by the arguments or the RLPJAX_* environment; no-op for one process."""
    global _initialized
    if _initialized:
        return
    coordinator = coordinator or os.environ.get("RLPJAX_COORDINATOR")
    num_processes = num_processes or _env_int("RLPJAX_NUM_PROCESSES")
    process_id = process_id if process_id is not None else _env_int("RLPJAX_PROCESS_ID")
    local_device_count = local_device_count or _env_int("RLPJAX_LOCAL_DEVICES")
    on_tpu_pod = "TPU_WORKER_HOSTNAMES" in os.environ or "MEGASCALE_COORDINATOR_ADDRESS" in os.environ
    if not coordinator and not on_tpu_pod:
        if local_device_count:
            jax.config.update("jax_num_cpu_devices", local_device_count)
        return
    if coordinator:
        if local_device_count:
            jax.config.update("jax_num_cpu_devices", local_device_count)
        jax.config.update("jax_cpu_collectives_implementation", "gloo")
        jax.distributed.initialize(coordinator_address=coordinator, num_processes=num_processes,
                                   process_id=process_id)
    else:
        jax.distributed.initialize()
    _initialized = True


def _env_int(name: str) -> int | None:
    value = os.environ.get(name)
    return int(value) if value else None
