#!/usr/bin/env python3
"""Run every point of a sweep: `launch/sweep.py SWEEP_FILE [--launcher local|tpu_vm|xpk] [--dry-run] [--only NAME]`.

A sweep file (see experiments/sweeps/) is a Python file defining

- `BASE`: the preset every point starts from (a path relative to the repository root, e.g. "experiments/x.py");
- `POINTS = {name: [overrides...]}` and/or `GRID = {key: [values...]}` (the cartesian product of the values, each
  point named from them, e.g. "group_size-8_kl_beta-0.001"); with both, every named point is crossed with the grid;
- optionally `COMMON = [overrides...]` applied to every point first, and `NAME` (default: the file's stem).

Every point becomes run `<NAME>-<point>` in `<run-root>/<NAME>/<point>`. All points are resolved with
`rlpjax.config_io` and saved as JSON in `<config-dir>` (default `runs/<NAME>/configs`) before anything launches, so a
bad key fails first. The local launcher then trains the points one after another (`python -m rlpjax.cli train
--config <point>.json`) and prints a summary table (status, final loss and reward_mean from metrics.jsonl, wall
time). The pod launchers hand each point to `launch/tpu_vm.sh train` (attached, so points run one after another on
the slice) or `launch/xpk.sh create` (one workload per point); arguments after `--` go to that script, e.g.
`-- --name my-tpu --zone us-east5-a`. `--dry-run` prints the commands instead (the JSON configs are still written).
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import pathlib
import re
import runpy
import shlex
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rlpjax import config_io  # noqa: E402
from rlpjax.config_io import ConfigError  # noqa: E402

LAUNCHERS = ("local", "tpu_vm", "xpk")


@dataclasses.dataclass
class Point:
    """One run of the sweep."""

    name: str
    overrides: list[str]
    """Every override of the point, run.name and run.run_dir included (applied to BASE in order)."""
    run_dir: str
    config_json: pathlib.Path | None = None


@dataclasses.dataclass
class Sweep:
    name: str
    base: str
    points: list[Point]


def _value_text(value) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def grid_points(grid: dict) -> list[tuple[str, list[str]]]:
    """The cartesian product of `grid` as (name, overrides), names like "group_size-8_kl_beta-0.001"."""
    keys = list(grid)
    for key in keys:
        if not isinstance(grid[key], (list, tuple)) or not grid[key]:
            raise ConfigError(f"GRID[{key!r}] must be a non-empty list of values")
    out = []
    for values in itertools.product(*(grid[k] for k in keys)):
        name = "_".join(f"{k.rsplit('.', 1)[-1]}-{re.sub(r'[^A-Za-z0-9.+-]', '', _value_text(v))}"
                        for k, v in zip(keys, values))
        out.append((name, [f"{k}={_value_text(v)}" for k, v in zip(keys, values)]))
    return out


def load_sweep(path: str | pathlib.Path, run_root: str = "runs") -> Sweep:
    """Read a sweep file and expand its points (nothing is resolved yet)."""
    path = pathlib.Path(path)
    if not path.is_file():
        raise ConfigError(f"sweep file {str(path)!r} does not exist; pass a file from experiments/sweeps/")
    spec = runpy.run_path(str(path))
    base, points, grid = spec.get("BASE"), spec.get("POINTS"), spec.get("GRID")
    if not isinstance(base, str) or not base:
        raise ConfigError(f"sweep file {str(path)!r} must define BASE = 'experiments/<preset>.py'")
    if not points and not grid:
        raise ConfigError(f"sweep file {str(path)!r} must define POINTS = {{name: [overrides]}} or GRID = {{key: [values]}}")
    named = list((points or {"": []}).items())
    gridded = grid_points(grid) if grid else [("", [])]
    name = spec.get("NAME") or path.stem
    common = list(spec.get("COMMON", []))
    expanded = []
    for (point_name, point_overrides), (grid_name, grid_overrides) in itertools.product(named, gridded):
        if not isinstance(point_overrides, (list, tuple)):
            raise ConfigError(f"POINTS[{point_name!r}] must be a list of overrides such as ['rlp.group_size=8']")
        full = "_".join(p for p in (point_name, grid_name) if p)
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._+-]*", full):
            raise ConfigError(f"point name {full!r} must be letters, digits, '.', '_', '+' or '-'")
        run_dir = f"{run_root.rstrip('/')}/{name}/{full}"
        overrides = [*common, *point_overrides, *grid_overrides, f"run.name={name}-{full}", f"run.run_dir={run_dir}"]
        expanded.append(Point(full, overrides, run_dir))
    if len({p.name for p in expanded}) != len(expanded):
        raise ConfigError(f"sweep file {str(path)!r} gives two points the same name; rename them")
    return Sweep(name, base, expanded)


def resolve_points(sweep: Sweep, config_dir: pathlib.Path) -> None:
    """Resolve every point (a bad key or value raises here, before any run) and save it as JSON."""
    base = sweep.base if pathlib.Path(sweep.base).is_absolute() else str(ROOT / sweep.base)
    configs = []
    for point in sweep.points:
        try:
            configs.append((point, config_io.resolve(base, point.overrides)))
        except ConfigError as err:
            raise ConfigError(f"point {point.name!r}: {err}") from None
    config_dir.mkdir(parents=True, exist_ok=True)
    for point, cfg in configs:
        point.config_json = config_dir / f"{point.name}.json"
        config_io.save_json(cfg, point.config_json)


def final_metrics(run_dir: str | pathlib.Path) -> dict:
    """The last logged "loss" and "reward_mean" of a run (absent keys are left out)."""
    path = pathlib.Path(run_dir) / "metrics.jsonl"
    if not path.is_file():
        return {}
    records = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    out = {}
    for key in ("loss", "reward_mean"):
        for record in reversed(records):
            if key in record:
                out[key] = record[key]
                break
    return out


def summary_table(rows: list[dict]) -> str:
    """A fixed-width table of the points: status, final loss, final reward_mean, wall time."""
    header = ("point", "status", "loss", "reward_mean", "wall_s")
    fmt = lambda v: "-" if v is None else (f"{v:.4g}" if isinstance(v, float) else str(v))  # noqa: E731
    cells = [header] + [tuple(fmt(r.get(k)) for k in header) for r in rows]
    widths = [max(len(c[i]) for c in cells) for i in range(len(header))]
    return "\n".join("  ".join(c[i].ljust(widths[i]) for i in range(len(header))).rstrip() for c in cells)


def run_local(sweep: Sweep, dry_run: bool) -> int:
    rows = []
    for point in sweep.points:
        command = [sys.executable, "-m", "rlpjax.cli", "train", "--config", str(point.config_json)]
        if dry_run:
            print(shlex.join(command))
            continue
        print(f"[sweep] {sweep.name}/{point.name}: {shlex.join(command)}", flush=True)
        start = time.perf_counter()
        code = subprocess.call(command)
        rows.append({"point": point.name, "status": "ok" if code == 0 else f"failed (exit {code})",
                     "wall_s": round(time.perf_counter() - start, 1), **final_metrics(point.run_dir)})
    if dry_run:
        return 0
    print(f"\n[sweep] {sweep.name}: {len(rows)} points\n{summary_table(rows)}")
    return 0 if all(r["status"] == "ok" for r in rows) else 1


def pod_command(sweep: Sweep, point: Point, launcher: str, launcher_args: list[str], dry_run: bool) -> list[str]:
    """The tpu_vm.sh / xpk.sh command of one point (the pod's checkout holds BASE, so BASE + overrides go over)."""
    train = ["--config", sweep.base, *point.overrides]
    dry = ["--dry-run"] if dry_run else []
    if launcher == "tpu_vm":
        return [str(ROOT / "launch" / "tpu_vm.sh"), "train", *launcher_args, "--foreground", *dry, "--", *train]
    workload = re.sub(r"[^a-z0-9-]+", "-", f"{sweep.name}-{point.name}".lower()).strip("-")[:40].rstrip("-")
    return [str(ROOT / "launch" / "xpk.sh"), "create", *launcher_args, "--workload", workload, *dry, "--", *train]


def run_pod(sweep: Sweep, launcher: str, launcher_args: list[str], dry_run: bool) -> int:
    failed = 0
    for point in sweep.points:
        command = pod_command(sweep, point, launcher, launcher_args, dry_run)
        print(f"# {sweep.name}/{point.name}", flush=True)
        code = subprocess.call(command)
        if code != 0:
            print(f"[sweep] {point.name}: {launcher} exited with {code}", file=sys.stderr)
            failed += 1
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    launcher_args = argv[argv.index("--") + 1:] if "--" in argv else []
    argv = argv[:argv.index("--")] if "--" in argv else argv
    parser = argparse.ArgumentParser(prog="launch/sweep.py", description=__doc__.split("\n\n")[0],
                                     epilog="Arguments after -- go to launch/tpu_vm.sh or launch/xpk.sh.")
    parser.add_argument("sweep_file", help="a sweep file, e.g. experiments/sweeps/rlp_group_size.py")
    parser.add_argument("--launcher", choices=LAUNCHERS, default="local", help="where the points run")
    parser.add_argument("--dry-run", action="store_true", help="print the commands instead of running them")
    parser.add_argument("--only", default=None, help="comma-separated point names to run (default: all)")
    parser.add_argument("--run-root", default="runs", help="parent of the run directories (on pods, a bucket mounted with gcsfuse)")
    parser.add_argument("--config-dir", default=None, help="where the resolved JSON configs go "
                        "(default: runs/<sweep>/configs)")
    args = parser.parse_args(argv)
    try:
        sweep = load_sweep(args.sweep_file, args.run_root)
        if args.only:
            wanted = [n.strip() for n in args.only.split(",") if n.strip()]
            unknown = sorted(set(wanted) - {p.name for p in sweep.points})
            if unknown:
                raise ConfigError(f"--only names unknown points {', '.join(unknown)}; the sweep has "
                                  f"{', '.join(p.name for p in sweep.points)}")
            sweep.points = [p for p in sweep.points if p.name in wanted]
        resolve_points(sweep, pathlib.Path(args.config_dir or f"runs/{sweep.name}/configs"))
    except ConfigError as err:
        print(f"sweep.py: error: {err}", file=sys.stderr)
        return 2
    if args.launcher == "local":
        return run_local(sweep, args.dry_run)
    return run_pod(sweep, args.launcher, launcher_args, args.dry_run)


if __name__ == "__main__":
    sys.exit(main())
