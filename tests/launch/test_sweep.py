"""launch/sweep.py: grid expansion, fail-fast resolution, dry runs for the three launchers and a real 2-point sweep."""

import importlib.util
import json
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
SWEEPS = ROOT / "experiments" / "sweeps"
QUICK = SWEEPS / "quickstart_lr.py"

_spec = importlib.util.spec_from_file_location("rlpjax_sweep_launcher", ROOT / "launch" / "sweep.py")
sweep = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = sweep  # dataclasses look their module up while the file executes
_spec.loader.exec_module(sweep)


def run_sweep(*args, cwd=None):
    return subprocess.run([sys.executable, str(ROOT / "launch" / "sweep.py"), *map(str, args)], capture_output=True,
                          text=True, cwd=cwd)


def test_grid_is_a_cartesian_product_with_names_from_values():
    points = sweep.grid_points({"rlp.group_size": [4, 8], "rlp.pg.kl_beta": [0.0, 1e-3], "ntp.flag": [True]})
    assert [name for name, _ in points] == [
        "group_size-4_kl_beta-0.0_flag-true", "group_size-4_kl_beta-0.001_flag-true",
        "group_size-8_kl_beta-0.0_flag-true", "group_size-8_kl_beta-0.001_flag-true"]
    assert points[1][1] == ["rlp.group_size=4", "rlp.pg.kl_beta=0.001", "ntp.flag=true"]


def test_points_cross_grid_and_get_run_names(tmp_path):
    path = tmp_path / "mix.py"
    path.write_text('BASE = "experiments/quickstart.py"\nCOMMON = ["run.steps=1"]\n'
                    'POINTS = {"a": ["model.num_layers=1"], "b": []}\nGRID = {"optimizer.learning_rate": [1e-3, 2e-3]}\n')
    loaded = sweep.load_sweep(path, run_root="out")
    assert [p.name for p in loaded.points] == ["a_learning_rate-0.001", "a_learning_rate-0.002",
                                               "b_learning_rate-0.001", "b_learning_rate-0.002"]
    first = loaded.points[0]
    assert first.overrides == ["run.steps=1", "model.num_layers=1", "optimizer.learning_rate=0.001",
                               "run.name=mix-a_learning_rate-0.001", "run.run_dir=out/mix/a_learning_rate-0.001"]


@pytest.mark.parametrize("file, count, key", [("rlp_group_size.py", 4, "rlp.group_size"),
                                              ("rlp_thought_cap.py", 7, "rlp.max_thought_tokens"),
                                              ("rlp_kl_beta.py", 3, "rlp.pg.kl_beta")])
def test_shipped_rlp_ablations(file, count, key, tmp_path):
    loaded = sweep.load_sweep(SWEEPS / file)
    assert loaded.base == "experiments/rlp_qwen3_1p7b.py" and len(loaded.points) == count
    assert all(any(o.startswith(key + "=") for o in p.overrides) for p in loaded.points)
    if not (ROOT / loaded.base).is_file():
        pytest.skip(f"{loaded.base} is not written yet")
    sweep.resolve_points(loaded, tmp_path)
    assert len(list(tmp_path.glob("*.json"))) == count


def test_bad_override_fails_before_any_run(tmp_path):
    path = tmp_path / "bad.py"
    path.write_text('BASE = "experiments/quickstart.py"\nPOINTS = {"ok": ["run.steps=1"], "typo": ["optimizer.lr=1"]}\n')
    result = run_sweep(path, "--run-root", tmp_path / "runs", "--config-dir", tmp_path / "cfg", cwd=tmp_path)
    assert result.returncode == 2
    assert "point 'typo'" in result.stderr and "optimizer.lr" in result.stderr and "learning_rate" in result.stderr
    assert not (tmp_path / "runs").exists() and not (tmp_path / "cfg").exists()


def test_dry_run_local(tmp_path):
    result = run_sweep(QUICK, "--dry-run", "--config-dir", tmp_path / "cfg", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 2 and all("-m rlpjax.cli train --config" in line for line in lines)
    cfg = json.loads((tmp_path / "cfg" / "lr1e-3.json").read_text())
    assert cfg["optimizer"]["learning_rate"] == 1e-3 and cfg["run"]["run_dir"] == "runs/quickstart_lr/lr1e-3"
    assert not (tmp_path / "runs" / "quickstart_lr" / "lr1e-3").exists()


def test_dry_run_tpu_vm(tmp_path):
    result = run_sweep(QUICK, "--launcher", "tpu_vm", "--dry-run", "--only", "lr1e-3", "--config-dir", tmp_path,
                       "--", "--name", "my-tpu", "--zone", "us-east5-a", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    header, ssh = result.stdout.splitlines()
    assert header == "# quickstart_lr/lr1e-3"
    assert ssh.startswith("gcloud compute tpus tpu-vm ssh my-tpu --worker=all --zone=us-east5-a")
    assert ".venv/bin/rlpjax train --config experiments/quickstart.py" in ssh
    assert "run.run_dir=runs/quickstart_lr/lr1e-3" in ssh and "nohup" not in ssh  # attached: points run in turn


def test_dry_run_xpk(tmp_path):
    result = run_sweep(QUICK, "--launcher", "xpk", "--dry-run", "--run-root", "/mnt/bucket/runs", "--config-dir",
                       tmp_path, "--", "--cluster", "c1", "--tpu-type", "v5p-128", "--num-slices", "2", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    creates = [line for line in result.stdout.splitlines() if line.startswith("xpk workload create")]
    assert len(creates) == 2
    assert "--workload=quickstart-lr-lr3e-3" in creates[0] and "--num-slices=2" in creates[0]
    assert "run.run_dir=/mnt/bucket/runs/quickstart_lr/lr3e-3" in creates[0]


def test_two_point_local_sweep_runs_and_summarises(tmp_path):
    result = run_sweep(QUICK, "--run-root", tmp_path / "runs", "--config-dir", tmp_path / "cfg", cwd=tmp_path)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    table = result.stdout[result.stdout.index("[sweep] quickstart_lr: 2 points"):].splitlines()[1:]
    assert table[0].split() == ["point", "status", "loss", "reward_mean", "wall_s"]
    rows = {line.split()[0]: line.split() for line in table[1:]}
    assert set(rows) == {"lr3e-3", "lr1e-3"}
    for name, row in rows.items():
        records = [json.loads(x) for x in (tmp_path / "runs" / "quickstart_lr" / name / "metrics.jsonl").read_text().splitlines()]
        assert records[-1]["step"] == 3
        assert row[1] == "ok" and float(row[2]) == pytest.approx(records[-1]["loss"], rel=1e-3) and row[3] == "-"
