"""What a benchmark ran on: the host CPU, the JAX devices and version, the load, and a one-line model summary."""

from __future__ import annotations

import os
import pathlib
import platform

import jax

from rlpjax.config import ModelConfig


def cpu_model() -> str:
    """The CPU's marketing name from /proc/cpuinfo (Linux), else what `platform` knows."""
    cpuinfo = pathlib.Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def machine_info() -> dict:
    """CPU, core count, 1-minute load average, device kind and count, JAX version."""
    devices = jax.devices()
    return {"cpu": cpu_model(), "cpu_cores": os.cpu_count(), "load_average_1m": os.getloadavg()[0],
            "platform": devices[0].platform, "device_kind": devices[0].device_kind, "device_count": len(devices),
            "jax": jax.__version__}


def describe_model(model: ModelConfig) -> str:
    """E.g. `qwen3 2L d64 h4/kv2 V264` (layers, width, heads, vocabulary), with the parameter count."""
    from rlpjax.compute import count_params

    return (f"{model.family} {model.num_layers}L d{model.hidden_size} h{model.num_heads}/kv{model.num_kv_heads} "
            f"ffn{model.intermediate_size} V{model.vocab_size} ({count_params(model).total:,} params)")
