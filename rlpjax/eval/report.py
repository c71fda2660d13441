"""Aggregate per-problem verification results into pass@k tables and plots (no model needed).

Input: `ProblemResult(op, template, mode, flags)` per problem, `flags` the VerifiedCorrect flag of each sample.
`aggregate` averages both pass@k estimators over problems by op, by template, by mode and by op split (id 2-10,
edge 11-14, hard 15-20); `write_report` writes report.json, report.md, passk_by_split.png and passk_by_op.png
(into a local directory or a URL such as gs://, through `rlpjax.paths`).
"""

from __future__ import annotations

import dataclasses
import json
import os
from typing import Sequence

from rlpjax.eval.passk import default_ks, pass_at_k_first, pass_at_k_unbiased
from rlpjax.paths import Path, as_path
from rlpjax.reasoning.corpora import split_of_op

ESTIMATORS = ("unbiased", "first_k")
ESTIMATOR_DOCS = {
    "unbiased": "unbiased pass@k = 1 - C(n-c, k) / C(n, k) over the n samples of a problem (c correct)",
    "first_k": "first-k pass@k = 1 if a correct sample is among the first k samples, else 0",
}
"""What each estimator name in a report means (written into every report)."""


@dataclasses.dataclass(frozen=True)
class ProblemResult:
    """The sampled outcomes of one evaluation problem."""

    op: int
    template: str
    mode: str
    flags: tuple[bool, ...]


def mean_passk(results: Sequence[ProblemResult], ks: Sequence[int]) -> dict:
    """{"problems": n, "unbiased": {k: mean}, "first_k": {k: mean}} over a group of problems."""
    table = {"problems": len(results)}
    table["unbiased"] = {k: sum(pass_at_k_unbiased(len(r.flags), sum(r.flags), k) for r in results) / len(results)
                         for k in ks}
    table["first_k"] = {k: sum(pass_at_k_first(r.flags, k) for r in results) / len(results) for k in ks}
    return table


def aggregate(results: Sequence[ProblemResult], ks: Sequence[int] | None = None) -> dict:
    """pass@k tables by op, template, mode and split; ks default to powers of two up to the fewest samples."""
    if not results:
        raise ValueError("no evaluation results to aggregate")
    n_min = min(len(r.flags) for r in results)
    ks = list(ks) if ks is not None else default_ks(n_min)
    if max(ks) > n_min:
        raise ValueError(f"k={max(ks)} exceeds the {n_min} samples of some problem; lower k or sample more")
    groups = {"by_op": lambda r: r.op, "by_template": lambda r: r.template, "by_mode": lambda r: r.mode,
              "by_split": lambda r: split_of_op(r.op)}
    report = {"ks": ks, "overall": mean_passk(results, ks)}
    for group, key in groups.items():
        members: dict = {}
        for result in results:
            members.setdefault(key(result), []).append(result)
        report[group] = {name: mean_passk(members[name], ks) for name in sorted(members)}
    return report


def markdown_table(report: dict, estimator: str = "unbiased") -> str:
    """Markdown tables of pass@k (percent) by split, op and template."""
    ks = report["ks"]
    lines = [f"pass@k (%, {estimator} estimator, VerifiedCorrect)", ""]
    for group in ("by_split", "by_op", "by_template", "by_mode"):
        lines += [f"| {group[3:]} | problems | " + " | ".join(f"pass@{k}" for k in ks) + " |",
                  "|---|---:|" + "---:|" * len(ks)]
        for name, table in report[group].items():
            cells = " | ".join(f"{100 * table[estimator][k]:.1f}" for k in ks)
            lines.append(f"| {name} | {table['problems']} | {cells} |")
        lines.append("")
    return "\n".join(lines)


def markdown_header(meta: dict | None) -> str:
    """Markdown bullet list of `meta` followed by the meaning of each estimator."""
    lines = [f"- {key}: {value}" for key, value in (meta or {}).items()]
    lines += [f"- estimator `{name}`: {doc}" for name, doc in ESTIMATOR_DOCS.items()]
    return "\n".join(lines)


def save_png(figure, path: Path) -> None:
    """Write a matplotlib figure as a PNG to `path`, local or a URL (matplotlib writes into the opened file)."""
    with path.open("wb") as handle:
        figure.savefig(handle, format="png", dpi=100)


def write_report(results: Sequence[ProblemResult], out_dir: str | os.PathLike,
                 ks: Sequence[int] | None = None, meta: dict | None = None) -> dict[str, Path]:
    """Write report.json, report.md and two PNG plots into `out_dir`; returns their paths.

    `meta` (e.g. checkpoint and sampling settings) is stored under "meta" in report.json and listed at the top of
    report.md; both files also name the estimators (`ESTIMATOR_DOCS`)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    report = aggregate(results, ks)
    out_dir = as_path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {name: out_dir / name for name in ("report.json", "report.md", "passk_by_split.png", "passk_by_op.png")}
    paths["report.json"].write_text(json.dumps({**report, "estimators": ESTIMATOR_DOCS, "meta": meta or {}},
                                               indent=1))
    paths["report.md"].write_text("\n\n".join([markdown_header(meta)] + [markdown_table(report, e)
                                                                          for e in ESTIMATORS]))

    figure, axis = plt.subplots(figsize=(6, 4))
    for split, table in report["by_split"].items():
        axis.plot(report["ks"], [100 * table["unbiased"][k] for k in report["ks"]], marker="o", label=split)
    axis.set(xscale="log", xlabel="k", ylabel="pass@k (%)", title="pass@k by op split", ylim=(0, 100))
    axis.set_xticks(report["ks"], [str(k) for k in report["ks"]])
    axis.legend()
    figure.tight_layout()
    save_png(figure, paths["passk_by_split.png"])
    plt.close(figure)

    ops = list(report["by_op"])
    shown = sorted({report["ks"][0], report["ks"][-1]})
    figure, axis = plt.subplots(figsize=(max(6, 0.4 * len(ops)), 4))
    width = 0.8 / len(shown)
    for i, k in enumerate(shown):
        axis.bar([x + i * width for x in range(len(ops))], [100 * report["by_op"][op]["unbiased"][k] for op in ops],
                 width=width, label=f"pass@{k}")
    axis.set_xticks([x + width * (len(shown) - 1) / 2 for x in range(len(ops))], [str(op) for op in ops])
    axis.set(xlabel="op count", ylabel="pass@k (%)", title="pass@k by op count", ylim=(0, 100))
    axis.legend()
    figure.tight_layout()
    save_png(figure, paths["passk_by_op.png"])
    plt.close(figure)
    return paths
