"""Test-wide settings: JAX on CPU with 8 virtual devices (set before JAX starts) and a shared compilation cache."""

import os
import pathlib

os.environ.setdefault("JAX_PLATFORMS", "cpu")
os.environ["XLA_FLAGS"] = os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=8"

import jax  # noqa: E402
import pytest  # noqa: E402
from jax.experimental.compilation_cache import compilation_cache  # noqa: E402

jax.config.update("jax_num_cpu_devices", 8)

SHARED_DATA = pathlib.Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> pathlib.Path:
    """`../shared/data`, or a skip when this checkout has no shared folder beside it."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data folder {SHARED_DATA} is absent (it lives beside the repository)")
    return SHARED_DATA


@pytest.fixture(scope="session", autouse=True)
def compile_cache(tmp_path_factory):
    """One persistent JAX compilation cache for the whole run: its workers and the child processes tests start.

    Many tests compile the same programs (the same tiny model and step under several configs, a run and its
    restart); loading the executable instead of recompiling it cuts minutes off the suite on a 2-core machine and
    cannot change results (the cache key is the compiled program). It lives in the run's temporary folder, so
    every run starts empty.
    """
    directory = str(tmp_path_factory.getbasetemp().parent / "jax_compile_cache")
    os.environ["JAX_COMPILATION_CACHE_DIR"] = directory
    jax.config.update("jax_compilation_cache_dir", directory)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.2)
    compilation_cache.reset_cache()
    yield directory
