"""Throughput: MFU from each step's own FLOPs (RLP's vary with the measured thought length), the compile step apart."""

import jax
import pytest

from rlpjax.train.metrics import Throughput


def test_mfu_averages_the_steps_own_flops():
    peak_tflops = 2.0
    meter = Throughput(flops_per_step=1e12, tokens_per_step=100, peak_tflops_per_device=peak_tflops)
    meter.add(10.0, 5e12)  # the first step compiles: reported alone, left out of the averages
    first = meter.read()
    assert first["compile_step_s"] == 10.0 and first["includes_compile"] == 1
    peak = peak_tflops * 1e12 * jax.device_count()
    assert first["mfu"] == pytest.approx(5e12 / 10.0 / peak)
    meter.add(2.0, 1e12)
    meter.add(4.0, 3e12)
    window = meter.read()
    # Hand computation: mean FLOPs 2e12 over mean seconds 3.0.
    assert window["step_time_s"] == pytest.approx(3.0) and window["tokens_per_s"] == pytest.approx(100 / 3.0)
    assert window["mfu"] == pytest.approx(2e12 / 3.0 / peak)
    meter.add(1.0)  # no FLOPs given: the fixed per-step figure
    assert meter.read()["mfu"] == pytest.approx(1e12 / 1.0 / peak)
