"""`rlpjax eval --compare RUN_DIR RUN_DIR ... [--out DIR]`: several runs' controlled pass@k curves in one figure.

Each argument is a run directory (its `eval/controlled/report.json` is read), a report directory or a report.json
file, as `rlpjax eval --suite controlled` writes them. Writes compare.png (one panel per op split, one curve per run:
unbiased pass@k against k) and compare.md (pass@1 and pass@k_max per run and split) into --out (default
./eval_compare). Runs are named by their directory; runs evaluated with different k use their own ks.
"""

from __future__ import annotations

import json
import os
from typing import Sequence

from rlpjax.eval.plotting import legend_outside
from rlpjax.eval.report import save_png
from rlpjax.paths import Path, as_path


def find_report(source: str | os.PathLike) -> tuple[str, dict]:
    """(run name, report.json contents) of a run directory, report directory or report.json path."""
    path = as_path(source)
    for candidate in (path, path / "report.json", path / "eval" / "controlled" / "report.json"):
        if candidate.is_file():
            report = json.loads(candidate.read_text())
            if "by_split" not in report:
                raise FileNotFoundError(f"{str(candidate)!r} is not a controlled-suite report; pass a run directory "
                                        "evaluated with `rlpjax eval --suite controlled`")
            name = path.parent.name if path.name == "report.json" else path.name
            return name, report
    raise FileNotFoundError(f"no controlled report under {str(path)!r}; run `rlpjax eval --checkpoint {path} "
                            "--suite controlled` first")


def write_compare(sources: Sequence[str], out_dir: str | os.PathLike) -> dict[str, Path]:
    """Overlay the runs' pass@k curves by split; returns the paths of compare.png and compare.md."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = dict(find_report(source) for source in sources)
    if len(runs) < len(sources):
        raise FileNotFoundError("two runs share a directory name; pass directories with distinct names")
    splits = sorted({split for report in runs.values() for split in report["by_split"]})
    out_dir = as_path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"compare.png": out_dir / "compare.png", "compare.md": out_dir / "compare.md"}
    figure, axes = plt.subplots(1, len(splits), figsize=(4.5 * len(splits) + 2, 4), squeeze=False)
    lines = ["| run | split | problems | pass@1 (%) | pass@k_max (%) |", "|---|---|---:|---:|---:|"]
    for axis, split in zip(axes[0], splits):
        for name, report in runs.items():
            table = report["by_split"].get(split)
            if table is None:
                continue
            ks = [int(k) for k in report["ks"]]
            axis.plot(ks, [100 * table["unbiased"][str(k)] for k in ks], marker="o", label=name)
            lines.append(f"| {name} | {split} | {table['problems']} | {100 * table['unbiased'][str(ks[0])]:.1f} | "
                         f"{100 * table['unbiased'][str(ks[-1])]:.1f} (k={ks[-1]}) |")
        axis.set(xscale="log", xlabel="k", ylabel="pass@k (%, unbiased)", title=f"pass@k, {split}", ylim=(-2, 102))
        all_ks = sorted({int(k) for report in runs.values() for k in report["ks"]})
        axis.set_xticks(all_ks, [str(k) for k in all_ks])
        axis.minorticks_off()
    legend_outside(axes[0][-1])
    figure.tight_layout()
    save_png(figure, paths["compare.png"])
    plt.close(figure)
    paths["compare.md"].write_text("\n".join(lines) + "\n")
    return paths
