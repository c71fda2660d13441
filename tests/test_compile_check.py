"""`rlpjax compile-check`: topology parsing, the CPU ahead-of-time compile with its memory table and verdict, and
a small TPU topology when libtpu is installed."""

import importlib.util
import json
import pathlib

import pytest

from rlpjax import cli
from rlpjax.compile_check import parse_topology
from rlpjax.config_io import ConfigError

ROOT = pathlib.Path(__file__).resolve().parents[1]
QUICKSTART = str(ROOT / "experiments" / "quickstart.py")
SMALL = ["model.num_layers=1", "data.seq_len=32", "data.global_batch_size=8"]
HAS_LIBTPU = importlib.util.find_spec("libtpu") is not None


@pytest.mark.parametrize("name, chips, grid", [
    ("v5p-128", 64, (4, 4, 4)), ("v5p-8", 4, (1, 2, 2)), ("v4-16", 8, (2, 2, 2)), ("v4-64", 32, (2, 4, 4)),
    ("v5e-8", 8, (2, 4)), ("v5litepod-16", 16, (4, 4)), ("v6e-256", 256, (16, 16)), ("v5e-1", 1, (1, 1)),
])
def test_parse_tpu_topology(name, chips, grid):
    target = parse_topology(name)
    assert (target.platform, target.chips, target.grid) == ("tpu", chips, grid)


def test_parse_rejects_bad_names():
    assert parse_topology("cpu-4").chips == 4
    for bad in ("v5p-12", "v9-8", "gpu-8"):
        with pytest.raises(ConfigError):
            parse_topology(bad)


RLP_CPU = str(ROOT / "experiments" / "rlp_cpu.py")
RLP_SMALL = ["model.hidden_size=32", "model.intermediate_size=64", "model.num_layers=1", "model.num_heads=4",
             "model.num_kv_heads=2", "model.head_dim=8", "data.seq_len=32", "data.global_batch_size=8",
             "rlp.group_size=2", "rlp.positions_per_doc=2", "rlp.max_thought_tokens=4"]
STAGE_KEYS = ("arguments_bytes", "outputs_bytes", "temporaries_bytes", "total_bytes")


def _compile_check_json(tmp_path, config, overrides, *extra) -> tuple[int, dict, str]:
    path = tmp_path / "report.json"
    code = cli.main(["compile-check", "--config", config, "--topology", "cpu-8", "--json", str(path), *extra,
                     *overrides])
    return code, json.loads(path.read_text()), str(path)


def _check_stage_sums(stage: dict) -> None:
    """The total is the documented sum of the parts (a stage's memory read from XLA once, added up here)."""
    assert stage["total_bytes"] == (stage["arguments_bytes"] + stage["outputs_bytes"] - stage["aliased_bytes"]
                                    + stage["temporaries_bytes"] + stage["generated_code_bytes"]
                                    + stage["resident_bytes"])
    assert stage["arguments_bytes"] > 0 and stage["temporaries_bytes"] >= 0


def test_cpu8_ntp_json_and_table(tmp_path, capsys):
    code, report, _ = _compile_check_json(tmp_path, QUICKSTART, SMALL)
    out = capsys.readouterr().out
    assert code == 0 and report["objective"] == "ntp" and report["verdict"] == "fits"
    assert list(report["stages"]) == ["update"] and report["hbm_bytes_per_device"] > 0
    stage = report["stages"]["update"]
    assert all(key in stage for key in STAGE_KEYS)
    _check_stage_sums(stage)
    assert stage["resident_bytes"] == 0  # the update takes the whole state
    for label in ("arguments", "temporaries", "total", "HBM per device"):
        assert label in out, out
    assert "8 devices" in out and "verdict: fits" in out


def test_cpu8_rlp_compiles_rollout_and_update(tmp_path, capsys):
    """Both RLP stages are compiled from the task's own stage functions; the rollout runs beside the optimizer
    state, which compile-check counts as resident (here checked against the state's own per-device bytes)."""
    from rlpjax import config_io
    from rlpjax.compile_check import abstract_state_and_context, build_mesh, device_bytes, parse_topology, \
        target_devices
    from rlpjax.train.task import get_task

    code, report, _ = _compile_check_json(tmp_path, RLP_CPU, RLP_SMALL)
    out = capsys.readouterr().out
    assert code == 0 and report["objective"] == "rlp" and report["verdict"] == "fits"
    assert list(report["stages"]) == ["rollout", "update"]
    assert "rollout" in out and "update" in out
    for stage in report["stages"].values():
        _check_stage_sums(stage)
    cfg = config_io.resolve(RLP_CPU, RLP_SMALL)
    target = parse_topology("cpu-8")
    state, _ = abstract_state_and_context(cfg, build_mesh(cfg, target_devices(target), target), get_task(cfg))
    resident = device_bytes([state.opt_state, state.rng, state.step, state.updates])
    assert report["stages"]["rollout"]["resident_bytes"] == resident > 0
    # The rollout reads params and EMA (no KL reference here): at least their bytes are its arguments.
    assert report["stages"]["rollout"]["arguments_bytes"] >= device_bytes([state.params, state.ema_params])


def test_cpu8_reports_does_not_fit_under_a_tiny_budget(tmp_path, capsys):
    code, report, _ = _compile_check_json(tmp_path, QUICKSTART, SMALL, "--hbm-gib", "1e-6")
    assert code == 1 and report["verdict"] == "does not fit"
    assert "verdict: does not fit" in capsys.readouterr().out


def test_batch_that_does_not_split_is_a_user_error(capsys):
    code = cli.main(["compile-check", "--config", QUICKSTART, "--topology", "cpu-8", "data.global_batch_size=4"])
    assert code == 2
    assert "multiple of 8" in capsys.readouterr().err


@pytest.mark.skipif(HAS_LIBTPU, reason="libtpu is installed, so the missing-compiler message cannot be shown")
def test_tpu_topology_without_libtpu_names_the_install(capsys):
    assert cli.main(["compile-check", "--config", QUICKSTART, "--topology", "v5e-8", *SMALL]) == 2
    assert "pip install libtpu" in capsys.readouterr().err


@pytest.mark.skipif(not HAS_LIBTPU, reason="libtpu is not installed (pip install libtpu) so no TPU topology exists")
def test_small_tpu_topology_compiles(tmp_path, capsys):
    path = tmp_path / "tpu.json"
    assert cli.main(["compile-check", "--config", QUICKSTART, "--topology", "v5e-8", "--json", str(path), *SMALL]) == 0
    report = json.loads(path.read_text())
    assert report["hbm_bytes_per_device"] == 16.0 * 1024**3 and report["verdict"] == "fits"


def test_compiler_out_of_memory_is_a_does_not_fit_verdict(tmp_path, capsys, monkeypatch):
    from rlpjax import compile_check

    def refuse(cfg, mesh):
        return {"update": ("RESOURCE_EXHAUSTED: Ran out of memory on HBM, temporaries (605G) exceed HBM (95G).", 0)}

    monkeypatch.setattr(compile_check, "compile_stages", refuse)
    code, report, _ = _compile_check_json(tmp_path, QUICKSTART, SMALL)
    assert code == 1 and report["verdict"] == "does not fit" and "update" in report["refused"]
    out = capsys.readouterr().out
    assert "ran out of memory" in out and "verdict: does not fit" in out


def test_a_stage_batch_that_does_not_split_over_the_mesh_is_one_sentence():
    """12 rows per minibatch on 8 batch devices: a ConfigError naming the rows and the devices, not JAX's
    IndivisibleError from inside the sharding code."""
    import jax.numpy as jnp

    from rlpjax.config import MeshConfig
    from rlpjax.sharding import make_mesh
    from rlpjax.train.task import abstract_batch

    mesh = make_mesh(MeshConfig())
    assert abstract_batch({"tokens_nt": ((16, 4), jnp.int32)}, mesh)["tokens_nt"].shape == (16, 4)
    with pytest.raises(ConfigError, match="'tokens_nt' has 12 rows, which do not split over the mesh's 8 batch"):
        abstract_batch({"tokens_nt": ((12, 4), jnp.int32)}, mesh)
