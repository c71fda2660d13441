"""`rlpjax compile-check`: topology parsing, the CPU ahead-of-time compile with its memory table and verdict, and
a small TPU topology when libtpu is installed."""

import importlib.util
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


def _table(text: str) -> dict[str, float]:
    rows = {}
    for line in text.splitlines():
        label, _, value = line.rpartition(" ")
        try:
            rows[label.strip()] = float(value)
        except ValueError:
            continue
    return rows


def test_cpu8_prints_memory_table_and_fits(capsys):
    assert cli.main(["compile-check", "--config", QUICKSTART, "--topology", "cpu-8", *SMALL]) == 0
    out = capsys.readouterr().out
    rows = _table(out)
    for label in ("arguments", "outputs", "temporaries", "total", "HBM per device"):
        assert label in rows, out
    assert rows["arguments"] > 0 and rows["total"] > 0
    assert "8 devices" in out and "verdict: fits" in out


def test_cpu8_reports_does_not_fit_under_a_tiny_budget(capsys):
    code = cli.main(["compile-check", "--config", QUICKSTART, "--topology", "cpu-8", "--hbm-gib", "1e-6", *SMALL])
    assert code == 1
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
def test_small_tpu_topology_compiles(capsys):
    assert cli.main(["compile-check", "--config", QUICKSTART, "--topology", "v5e-8", *SMALL]) == 0
    out = capsys.readouterr().out
    assert _table(out)["HBM per device"] == 16.0 and "verdict: fits" in out


def test_compiler_out_of_memory_is_a_does_not_fit_verdict(capsys, monkeypatch):
    from rlpjax import compile_check

    def refuse(cfg, mesh):
        raise RuntimeError("RESOURCE_EXHAUSTED: Ran out of memory on HBM, temporaries (605G) exceed HBM (95G).")

    monkeypatch.setattr(compile_check, "lower_train_step", refuse)
    assert cli.main(["compile-check", "--config", QUICKSTART, "--topology", "cpu-8", *SMALL]) == 1
    out = capsys.readouterr().out
    assert "ran out of memory" in out and "verdict: does not fit" in out
