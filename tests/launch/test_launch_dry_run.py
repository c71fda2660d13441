"""launch/tpu_vm.sh and launch/xpk.sh print the exact gcloud / xpk command lines under --dry-run."""

import pathlib
import shlex
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
TRAIN = ["--", "--config", "experiments/rlp_qwen3_1p7b.py", "rlp.group_size=8", "run.name=it's"]


def dry_run(script: str, *args: str) -> list[list[str]]:
    """The printed commands, each split back into its arguments (proving the quoting round-trips)."""
    action, *rest = args
    out = subprocess.run([str(ROOT / "launch" / script), action, "--dry-run", *rest], capture_output=True, text=True,
                         check=True).stdout
    return [shlex.split(line) for line in out.splitlines() if line.strip()]


def remote_train(command: list[str]) -> list[str]:
    """The `rlpjax train ...` words inside a `--command=` argument."""
    remote = next(a for a in command if a.startswith("--command=")).removeprefix("--command=")
    words = shlex.split(remote.replace(";", " ; "))
    start = next(i for i, w in enumerate(words) if w.endswith("bin/rlpjax") or w == "rlpjax.cli") + 1
    return words[start:start + 6]


def test_tpu_vm_single_slice():
    loc = ["--name", "rlp", "--zone", "us-east5-a", "--project", "p1"]
    (create,) = dry_run("tpu_vm.sh", "create", *loc, "--accelerator", "v5p-128", "--spot")
    assert create == ["gcloud", "compute", "tpus", "tpu-vm", "create", "rlp", "--zone=us-east5-a", "--project=p1",
                      "--accelerator-type=v5p-128", "--version=v2-alpha-tpuv5", "--spot"]
    tar, scp, install = dry_run("tpu_vm.sh", "setup", *loc)
    assert tar[0] == "tar" and scp[:5] == ["gcloud", "compute", "tpus", "tpu-vm", "scp"] and "--worker=all" in scp
    assert install[:6] == ["gcloud", "compute", "tpus", "tpu-vm", "ssh", "rlp"] and "--worker=all" in install
    assert "python3 -m venv .venv" in install[-1] and "pip install -q -e '.[gcp]'" in install[-1]
    (train,) = dry_run("tpu_vm.sh", "train", *loc, *TRAIN)
    assert train[:7] == ["gcloud", "compute", "tpus", "tpu-vm", "ssh", "rlp", "--worker=all"]
    assert remote_train(train) == ["train", "--config", "experiments/rlp_qwen3_1p7b.py", "rlp.group_size=8",
                                   "run.name=it's", ">"]
    assert "MEGASCALE" not in train[-1]
    (logs,) = dry_run("tpu_vm.sh", "logs", *loc, "--worker", "3")
    assert "--worker=3" in logs and "tail" in logs[-1]
    (delete,) = dry_run("tpu_vm.sh", "delete", *loc)
    assert delete[:6] == ["gcloud", "compute", "tpus", "tpu-vm", "delete", "rlp"]


def test_tpu_vm_multi_slice_uses_queued_resources_and_megascale():
    loc = ["--name", "rlp", "--zone", "us-east5-a", "--num-slices", "2"]
    (create,) = dry_run("tpu_vm.sh", "create", *loc, "--accelerator", "v5p-128")
    assert create[:6] == ["gcloud", "compute", "tpus", "queued-resources", "create", "rlp"]
    assert "--node-count=2" in create and "--node-prefix=rlp" in create and "--accelerator-type=v5p-128" in create
    lookup, slice0, slice1 = dry_run("tpu_vm.sh", "train", *loc, *TRAIN)
    assert lookup[:6] == ["gcloud", "compute", "tpus", "tpu-vm", "describe", "rlp-0"]
    for index, command in enumerate((slice0, slice1)):
        assert command[5:7] == [f"rlp-{index}", "--worker=all"]
        assert f"MEGASCALE_SLICE_ID={index}" in command[-1] and "MEGASCALE_NUM_SLICES=2" in command[-1]
        assert remote_train(command)[:4] == ["train", "--config", "experiments/rlp_qwen3_1p7b.py", "rlp.group_size=8"]
    (delete,) = dry_run("tpu_vm.sh", "delete", *loc)
    assert delete[:6] == ["gcloud", "compute", "tpus", "queued-resources", "delete", "rlp"] and "--force" in delete


def test_xpk_single_and_multi_slice():
    for slices in ("1", "4"):
        (create,) = dry_run("xpk.sh", "create", "--cluster", "c1", "--tpu-type", "v5p-128", "--num-slices", slices,
                            "--workload", "rlp-g8", *TRAIN)
        assert create[:3] == ["xpk", "workload", "create"]
        for flag in ("--cluster=c1", "--workload=rlp-g8", "--tpu-type=v5p-128", f"--num-slices={slices}"):
            assert flag in create
        assert remote_train(create)[:5] == ["train", "--config", "experiments/rlp_qwen3_1p7b.py", "rlp.group_size=8",
                                            "run.name=it's"]
    assert dry_run("xpk.sh", "list", "--cluster", "c1") == [["xpk", "workload", "list", "--cluster=c1"]]
    assert dry_run("xpk.sh", "delete", "--cluster", "c1", "--workload", "w") == [
        ["xpk", "workload", "delete", "--cluster=c1", "--workload=w"]]
    credentials, logs = dry_run("xpk.sh", "logs", "--cluster", "c1", "--workload", "w")
    assert credentials[:4] == ["gcloud", "container", "clusters", "get-credentials"] and logs[:3] == ["kubectl", "logs", "--follow"]


@pytest.mark.parametrize("script, args, message", [
    ("tpu_vm.sh", ["train", "--zone", "z"], "--name is required"),
    ("tpu_vm.sh", ["create", "--name", "n", "--zone", "z"], "create needs --accelerator"),
    ("tpu_vm.sh", ["frob"], "unknown action"),
    ("xpk.sh", ["create", "--cluster", "c", "--tpu-type", "v5p-8"], "rlpjax train arguments after --"),
])
def test_launchers_reject_bad_usage(script, args, message):
    result = subprocess.run([str(ROOT / "launch" / script), *args, "--dry-run"], capture_output=True, text=True)
    assert result.returncode == 2 and message in result.stderr


def test_launchers_have_help():
    for script in ("tpu_vm.sh", "xpk.sh"):
        out = subprocess.run([str(ROOT / "launch" / script), "--help"], capture_output=True, text=True, check=True)
        assert "--dry-run" in out.stdout and "Actions:" in out.stdout


@pytest.mark.parametrize("script, action, args", [
    ("tpu_vm.sh", "train", ["--name", "rlp", "--zone", "z"]),
    ("xpk.sh", "create", ["--cluster", "c1", "--tpu-type", "v5p-8", "--workload", "rlp-g8"]),
])
def test_dry_run_after_the_double_dash_is_still_a_dry_run(script, action, args):
    """`... -- <train args> --dry-run` must print, not run gcloud / xpk (a PATH without them proves nothing ran)."""
    result = subprocess.run([str(ROOT / "launch" / script), action, *args, "--", "--config", "x.py", "--dry-run"],
                            capture_output=True, text=True, env={"PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr
    printed = [shlex.split(line) for line in result.stdout.splitlines() if line.strip()]
    assert printed and printed[-1][0] in ("gcloud", "xpk")
    assert "--dry-run" not in " ".join(printed[-1])


def test_readme_xpk_example_is_accepted():
    readme = (ROOT / "README.md").read_text()
    example = next(line for line in readme.splitlines() if "launch/xpk.sh create" in line)
    words = shlex.split(example[example.index("launch/xpk.sh"):example.index("-- --config")])
    result = subprocess.run([str(ROOT / words[0]), *words[1:], "--dry-run", "--", "--config", "x.py"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_local_launcher_finds_python_without_a_venv_or_says_how(tmp_path):
    """Without PYTHON and without .venv, local.sh uses python3 on PATH, or names the fix in one line (exit 2)."""
    fake_root = tmp_path / "checkout"
    (fake_root / "launch").mkdir(parents=True)
    (fake_root / "launch" / "local.sh").write_text((ROOT / "launch" / "local.sh").read_text())
    import sys
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "python3").symlink_to(sys.executable)  # a python3 with rlpjax importable
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin"}
    ok = subprocess.run(["bash", str(fake_root / "launch" / "local.sh"), "--dry-run", "2", "--config", "x.py"],
                        capture_output=True, text=True, env=env)
    assert ok.returncode == 0, ok.stderr
    assert sys.executable in ok.stdout.splitlines()[0] or str(bin_dir / "python3") in ok.stdout.splitlines()[0]
    (bin_dir / "python3").unlink()
    (bin_dir / "python3").write_text("#!/bin/sh\nexit 1\n")
    (bin_dir / "python3").chmod(0o755)
    missing = subprocess.run(["bash", str(fake_root / "launch" / "local.sh"), "--dry-run", "2"],
                             capture_output=True, text=True, env={"PATH": f"{bin_dir}:/bin"})
    assert missing.returncode == 2 and "PYTHON=" in missing.stderr and len(missing.stderr.strip().splitlines()) == 1
