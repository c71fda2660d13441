"""Reports of the math suites (GSM8K, MATH-500): accuracy and pass@k overall and by level.

`write_math_report(suite, results, out_dir, meta=None)` writes report.json (both pass@k estimators, named, plus
accuracy = the mean fraction of correct samples), report.md (a markdown table per estimator) and passk.png (pass@k
curves overall and per level). `results` are `harness.MathResult`s (a `group`, e.g. the MATH level, and `flags`).
"""

from __future__ import annotations

import json
import os
from typing import Sequence

from rlpjax.eval.passk import default_ks
from rlpjax.eval.plotting import legend_outside
from rlpjax.eval.report import ESTIMATORS, ESTIMATOR_DOCS, markdown_header, mean_passk, save_png
from rlpjax.paths import Path, as_path


def aggregate_math(suite: str, results: Sequence, ks: Sequence[int] | None = None) -> dict:
    """{"suite", "ks", "accuracy", "overall", "by_group"} with both estimators' mean pass@k."""
    if not results:
        raise ValueError("no evaluation results to aggregate")
    ks = list(ks) if ks is not None else default_ks(min(len(r.flags) for r in results))
    groups: dict = {}
    for result in results:
        groups.setdefault(result.group, []).append(result)
    return {"suite": suite, "ks": ks,
            "accuracy": sum(sum(r.flags) / len(r.flags) for r in results) / len(results),
            "overall": mean_passk(results, ks),
            "by_group": {name: mean_passk(groups[name], ks) for name in sorted(groups)}}


def math_markdown(report: dict, estimator: str) -> str:
    """Markdown table of pass@k (percent) overall and by group for one estimator."""
    ks = report["ks"]
    lines = [f"{report['suite']} pass@k (%, {estimator} estimator); accuracy {100 * report['accuracy']:.1f}%", "",
             "| group | problems | " + " | ".join(f"pass@{k}" for k in ks) + " |", "|---|---:|" + "---:|" * len(ks)]
    rows = [("all", report["overall"])] + ([] if list(report["by_group"]) == ["all"] else
                                           list(report["by_group"].items()))
    for name, table in rows:
        lines.append(f"| {name} | {table['problems']} | "
                     + " | ".join(f"{100 * table[estimator][k]:.1f}" for k in ks) + " |")
    return "\n".join(lines)


def write_math_report(suite: str, results: Sequence, out_dir: str | os.PathLike,
                      meta: dict | None = None) -> dict[str, Path]:
    """Write report.json, report.md and passk.png into `out_dir` (local or a URL); returns their paths."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    report = aggregate_math(suite, results)
    out_dir = as_path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {name: out_dir / name for name in ("report.json", "report.md", "passk.png")}
    paths["report.json"].write_text(json.dumps({**report, "estimators": ESTIMATOR_DOCS, "meta": meta or {}},
                                               indent=1))
    paths["report.md"].write_text("\n\n".join([markdown_header(meta)] + [math_markdown(report, e)
                                                                          for e in ESTIMATORS]))
    figure, axis = plt.subplots(figsize=(6, 4))
    curves = {"all": report["overall"], **({} if list(report["by_group"]) == ["all"] else report["by_group"])}
    for name, table in curves.items():
        axis.plot(report["ks"], [100 * table["unbiased"][k] for k in report["ks"]], marker="o", label=str(name))
    axis.set(xscale="log", xlabel="k", ylabel="pass@k (%)", title=f"{suite} pass@k (unbiased)", ylim=(-2, 102))
    axis.set_xticks(report["ks"], [str(k) for k in report["ks"]])
    axis.minorticks_off()
    legend_outside(axis)
    figure.tight_layout()
    save_png(figure, paths["passk.png"])
    plt.close(figure)
    return paths
