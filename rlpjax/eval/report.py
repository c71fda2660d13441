"""Aggregate per-problem verification results into pass@k tables and plots (no model needed).

Input: `ProblemResult(op, template, mode, flags, failures)` per problem, `flags` the VerifiedCorrect flag of each
sample, `failures` how many of its failed samples show each error type (`failure_types`). `aggregate` averages
both pass@k estimators over problems by op, by template, by mode, by op split (id 2-10, edge 11-14, hard 15-20)
and by context split (template x op split, "A/edge"), and breaks the failed samples down by error type (overall
and by split). `write_report` writes report.json, report.md and the plots passk_by_split.png, passk_by_op.png,
passk_by_context.png, failures.png and, given per-op NLLs, nll_by_op.png (into a local directory or a URL such as
gs://, through `rlpjax.paths`).

Error types of a failed (not VerifiedCorrect) sample, not exclusive: `wrong_step` (a gold node with a wrong value
or wrong parents), `missing_step` (a gold node never defined), `extra_node` (a quantity defined that is not a gold
node), `answer_only` (every gold step right, only the answer wrong or missing).
"""

from __future__ import annotations

import dataclasses
import json
import os
from typing import Sequence

from rlpjax.eval.passk import default_ks, pass_at_k_first, pass_at_k_unbiased
from rlpjax.eval.plotting import label_bars, legend_outside
from rlpjax.paths import Path, as_path
from rlpjax.reasoning.corpora import split_of_op
from rlpjax.reasoning.verify import Verification

ESTIMATORS = ("unbiased", "first_k")
ESTIMATOR_DOCS = {
    "unbiased": "unbiased pass@k = 1 - C(n-c, k) / C(n, k) over the n samples of a problem (c correct)",
    "first_k": "first-k pass@k = 1 if a correct sample is among the first k samples, else 0",
}
"""What each estimator name in a report means (written into every report)."""
FAILURE_TYPES = ("wrong_step", "missing_step", "extra_node", "answer_only")
"""Error types of failed samples (module docstring)."""


@dataclasses.dataclass(frozen=True)
class ProblemResult:
    """The sampled outcomes of one evaluation problem."""

    op: int
    template: str
    mode: str
    flags: tuple[bool, ...]
    failures: tuple[tuple[str, int], ...] = ()
    """(error type, number of this problem's failed samples showing it) for the `FAILURE_TYPES` seen."""


def failure_types(verification: Verification) -> list[str]:
    """The `FAILURE_TYPES` a sample shows ([] when it is VerifiedCorrect)."""
    if verification.verified_correct:
        return []
    steps_right = not (verification.value_errors or verification.dependency_errors or verification.missing_nodes)
    found = {"wrong_step": bool(verification.value_errors or verification.dependency_errors),
             "missing_step": bool(verification.missing_nodes), "extra_node": bool(verification.extra_nodes),
             "answer_only": steps_right}
    return [name for name in FAILURE_TYPES if found[name]]


def failure_breakdown(results: Sequence[ProblemResult]) -> dict:
    """{"failed": failed samples, type: share of the failed samples showing it} over a group of problems."""
    failed = sum(len(r.flags) - sum(r.flags) for r in results)
    counts = {name: 0 for name in FAILURE_TYPES}
    for result in results:
        for name, count in result.failures:
            counts[name] += count
    return {"failed": failed, **{name: count / failed if failed else 0.0 for name, count in counts.items()}}


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
              "by_split": lambda r: split_of_op(r.op),
              "by_context_split": lambda r: f"{r.template}/{split_of_op(r.op)}"}
    report = {"ks": ks, "overall": mean_passk(results, ks)}
    for group, key in groups.items():
        members = _members(results, key)
        report[group] = {name: mean_passk(members[name], ks) for name in sorted(members)}
    by_split = _members(results, lambda r: split_of_op(r.op))
    report["failures"] = {"overall": failure_breakdown(results),
                          "by_split": {name: failure_breakdown(by_split[name]) for name in sorted(by_split)}}
    return report


def _members(results: Sequence[ProblemResult], key) -> dict:
    members: dict = {}
    for result in results:
        members.setdefault(key(result), []).append(result)
    return members


def markdown_table(report: dict, estimator: str = "unbiased") -> str:
    """Markdown tables of pass@k (percent) by split, op, template, mode and context split."""
    ks = report["ks"]
    lines = [f"pass@k (%, {estimator} estimator, VerifiedCorrect)", ""]
    for group in ("by_split", "by_op", "by_template", "by_mode", "by_context_split"):
        lines += [f"| {group[3:]} | problems | " + " | ".join(f"pass@{k}" for k in ks) + " |",
                  "|---|---:|" + "---:|" * len(ks)]
        for name, table in report[group].items():
            cells = " | ".join(f"{100 * table[estimator][k]:.1f}" for k in ks)
            lines.append(f"| {name} | {table['problems']} | {cells} |")
        lines.append("")
    return "\n".join(lines)


def failures_markdown(report: dict) -> str:
    """Markdown table: the share (%) of failed samples showing each error type, overall and by split."""
    lines = ["failed samples by error type (% of the failed samples; a sample can show several)", "",
             "| split | failed | " + " | ".join(FAILURE_TYPES) + " |", "|---|---:|" + "---:|" * len(FAILURE_TYPES)]
    rows = {"all": report["failures"]["overall"], **report["failures"]["by_split"]}
    for name, row in rows.items():
        lines.append(f"| {name} | {row['failed']} | " + " | ".join(f"{100 * row[t]:.1f}" for t in FAILURE_TYPES)
                     + " |")
    return "\n".join(lines)


def nll_markdown(nll_by_op: dict) -> str:
    """Markdown table of the gold documents' NLL (nats per token) by op count."""
    return "\n".join(["gold-document NLL by op count (nats/token)", "", "| op | NLL |", "|---:|---:|"]
                     + [f"| {op} | {value:.4f} |" for op, value in sorted(nll_by_op.items())])


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
                 ks: Sequence[int] | None = None, meta: dict | None = None,
                 nll_by_op: dict[int, float] | None = None) -> dict[str, Path]:
    """Write report.json, report.md and the PNG plots into `out_dir`; returns their paths.

    `meta` (e.g. checkpoint and sampling settings) is stored under "meta" in report.json and listed at the top of
    report.md; both files also name the estimators (`ESTIMATOR_DOCS`). `nll_by_op` (op -> nats per token of the
    held-out gold documents) adds its table and nll_by_op.png."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    report = aggregate(results, ks)
    if nll_by_op:
        report["nll_by_op"] = {int(op): float(value) for op, value in sorted(nll_by_op.items())}
    out_dir = as_path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    names = ["report.json", "report.md", "passk_by_split.png", "passk_by_op.png", "passk_by_context.png",
             "failures.png"] + (["nll_by_op.png"] if nll_by_op else [])
    paths = {name: out_dir / name for name in names}
    paths["report.json"].write_text(json.dumps({**report, "estimators": ESTIMATOR_DOCS, "meta": meta or {}},
                                               indent=1))
    sections = [markdown_header(meta)] + [markdown_table(report, e) for e in ESTIMATORS] + [failures_markdown(report)]
    paths["report.md"].write_text("\n\n".join(sections + ([nll_markdown(report["nll_by_op"])] if nll_by_op else [])))
    plots = {"passk_by_split.png": _plot_split, "passk_by_op.png": _plot_ops, "passk_by_context.png": _plot_context,
             "failures.png": _plot_failures, "nll_by_op.png": _plot_nll}
    for name in names[2:]:
        figure = plots[name](plt, report)
        figure.tight_layout()
        save_png(figure, paths[name])
        plt.close(figure)
    return paths


def _curves(axis, ks: list[int], tables: dict, title: str) -> None:
    """Unbiased pass@k curves, one per table, on a log-k axis with a legend beside it."""
    for name, table in tables.items():
        axis.plot(ks, [100 * table["unbiased"][k] for k in ks], marker="o", label=str(name))
    axis.set(xscale="log", xlabel="k", ylabel="pass@k (%)", title=title, ylim=(-2, 102))
    axis.set_xticks(ks, [str(k) for k in ks])
    axis.minorticks_off()
    legend_outside(axis)


def _plot_split(plt, report: dict):
    figure, axis = plt.subplots(figsize=(7, 4))
    _curves(axis, report["ks"], report["by_split"], "pass@k by op split")
    return figure


def _plot_context(plt, report: dict):
    """One panel per op split, one curve per template (context)."""
    splits = list(report["by_split"])
    figure, axes = plt.subplots(1, len(splits), figsize=(4.5 * len(splits) + 1, 4), squeeze=False)
    for axis, split in zip(axes[0], splits):
        tables = {name.split("/")[0]: table for name, table in report["by_context_split"].items()
                  if name.endswith(f"/{split}")}
        _curves(axis, report["ks"], tables, f"pass@k by context, {split}")
    return figure


def _grouped_bars(plt, labels: list[str], series: dict[str, list[float]], ylabel: str, title: str):
    """Grouped bars with every value written above its bar (zeros stay visible) and the legend outside."""
    figure, axis = plt.subplots(figsize=(max(7, 0.5 * len(labels) * len(series) + 2), 4))
    width = 0.8 / len(series)
    for i, (name, values) in enumerate(series.items()):
        bars = axis.bar([x + i * width for x in range(len(labels))], values, width=width, label=name)
        label_bars(axis, bars)
    axis.set_xticks([x + width * (len(series) - 1) / 2 for x in range(len(labels))], labels)
    axis.set(ylabel=ylabel, title=title)
    axis.set_ylim(0, 110)
    legend_outside(axis)
    return figure


def _plot_ops(plt, report: dict):
    ops = list(report["by_op"])
    shown = sorted({report["ks"][0], report["ks"][-1]})
    series = {f"pass@{k}": [100 * report["by_op"][op]["unbiased"][k] for op in ops] for k in shown}
    figure = _grouped_bars(plt, [str(op) for op in ops], series, "pass@k (%)", "pass@k by op count")
    figure.axes[0].set_xlabel("op count")
    return figure


def _plot_failures(plt, report: dict):
    rows = {"all": report["failures"]["overall"], **report["failures"]["by_split"]}
    series = {name: [100 * rows[split][name] for split in rows] for name in FAILURE_TYPES}
    return _grouped_bars(plt, [f"{split} ({rows[split]['failed']})" for split in rows], series,
                         "% of failed samples", "failed samples by error type (failed count)")


def _plot_nll(plt, report: dict):
    figure, axis = plt.subplots(figsize=(7, 4))
    ops = list(report["nll_by_op"])
    axis.plot(ops, [report["nll_by_op"][op] for op in ops], marker="o")
    axis.set(xlabel="op count", ylabel="NLL (nats/token)", title="gold-document NLL by op count")
    axis.set_xticks(ops, [str(op) for op in ops])
    return figure
