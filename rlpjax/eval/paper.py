"""The RLP paper's evaluation protocol and its summary table (`rlpjax eval --suite paper`).

`PROTOCOL` holds, per suite, the default file, the area (math / science) and the sampling protocol; the CLI's
--samples / --temperature / --top-p / --max-new-tokens override every suite. Math suites: Pass@1 averaged over 8
samples (temperature 0.6, top-p 0.95: the paper states "Pass@1 averaged over 8 samples" but not its sampling
settings, so these are the usual Qwen3 values). Science suites: greedy (temperature 0, one sample).

Averaged Pass@1 of a benchmark = the mean over problems of (correct samples / samples), the unbiased pass@1.
Math Avg = the mean of the math benchmarks' scores, Science Avg = of the science ones, Overall = of all benchmarks
evaluated (each unweighted by problem count); a skipped suite leaves its average and is named. `write_paper_report`
writes paper.md, paper.json and paper.png beside each suite's own report.
"""

from __future__ import annotations

import dataclasses
import json
import os
from typing import Mapping

from rlpjax.paths import Path, as_path

DATA = "../shared/data/math/"


@dataclasses.dataclass(frozen=True)
class SuiteProtocol:
    """How the paper evaluates one benchmark."""

    title: str
    area: str
    """"math" or "science": which average the benchmark enters."""
    path: str
    """Default file (the user provides the science suites: they are not shipped)."""
    samples: int
    temperature: float
    top_p: float
    max_new_tokens: int


_MATH = dict(area="math", samples=8, temperature=0.6, top_p=0.95, max_new_tokens=2048)
_SCIENCE = dict(area="science", samples=1, temperature=0.0, top_p=1.0, max_new_tokens=512)
PROTOCOL: dict[str, SuiteProtocol] = {
    "aime25": SuiteProtocol("AIME25", path=DATA + "aime25_test.jsonl", **_MATH),
    "math500": SuiteProtocol("MATH500", path=DATA + "math500_test.jsonl", **_MATH),
    "gsm8k": SuiteProtocol("GSM8K", path=DATA + "gsm8k_test.jsonl", **_MATH),
    "amc23": SuiteProtocol("AMC23", path=DATA + "amc23_test.jsonl", **_MATH),
    "minerva": SuiteProtocol("Minerva", path=DATA + "minerva_math_test.jsonl", **_MATH),
    "mmlu": SuiteProtocol("MMLU", path="data/eval/mmlu_test.jsonl", **_SCIENCE),
    "mmlu_pro": SuiteProtocol("MMLU-Pro", path="data/eval/mmlu_pro_test.jsonl", **_SCIENCE),
    "gpqa": SuiteProtocol("GPQA-Diamond", path="data/eval/gpqa_diamond.csv", **_SCIENCE),
}
"""The paper's eight benchmarks in its table order."""
PAPER_REFERENCE = {"model": "Qwen3-1.7B-Base (RLP paper)",
                   "base": {"Math Avg": 24.35, "Science Avg": 34.50, "Overall": 30.32},
                   "RLP": {"Math Avg": 31.74, "Science Avg": 39.68, "Overall": 36.03}}
"""The paper's averages (../shared/spec/RLP.md); its per-benchmark scores are not in the spec, so none are shown."""
AVERAGES = {"Math Avg": "math", "Science Avg": "science", "Overall": None}


def paper_summary(scores: Mapping[str, float], skipped: Mapping[str, str]) -> dict:
    """{"benchmarks", "averages", "how", "skipped", "reference"}: scores (fractions) -> percent table."""
    benchmarks = {PROTOCOL[s].title: 100 * scores[s] for s in PROTOCOL if s in scores}
    averages, how = {}, {}
    for name, area in AVERAGES.items():
        members = [s for s in PROTOCOL if s in scores and (area is None or PROTOCOL[s].area == area)]
        averages[name] = sum(100 * scores[s] for s in members) / len(members) if members else None
        missing = [PROTOCOL[s].title for s in PROTOCOL if s not in scores and (area is None
                                                                             or PROTOCOL[s].area == area)]
        how[name] = (f"unweighted mean of {', '.join(PROTOCOL[s].title for s in members) or 'nothing'}"
                     + (f" (missing: {', '.join(missing)})" if missing else ""))
    return {"benchmarks": benchmarks, "averages": averages, "how": how, "skipped": dict(skipped),
            "reference": PAPER_REFERENCE}


def paper_markdown(summary: dict) -> str:
    """The table in the paper's layout: each benchmark, then the averages beside the paper's base and RLP."""
    lines = ["| benchmark | this model | paper base | paper RLP |", "|---|---:|---:|---:|"]
    lines += [f"| {name} | {value:.2f} | | |" for name, value in summary["benchmarks"].items()]
    for name, value in summary["averages"].items():
        shown = "-" if value is None else f"{value:.2f}"
        lines.append(f"| **{name}** | {shown} | {PAPER_REFERENCE['base'][name]:.2f} | "
                     f"{PAPER_REFERENCE['RLP'][name]:.2f} |")
    lines += ["", "Scores are averaged Pass@1 (%): the mean over problems of the fraction of correct samples."]
    lines += [f"- {name}: {how}" for name, how in summary["how"].items()]
    lines += [f"- skipped {suite}: {reason}" for suite, reason in summary["skipped"].items()]
    lines.append(f"- paper columns: {PAPER_REFERENCE['model']}, averages only (its per-benchmark scores are not "
                 "in the spec)")
    return "\n".join(lines)


def write_paper_report(summary: dict, out_dir: str | os.PathLike, meta: dict) -> dict[str, Path]:
    """paper.md, paper.json and paper.png (bars: each benchmark and average, the paper's averages beside) in
    `out_dir`, local or a URL."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from rlpjax.eval.plotting import label_bars, legend_outside
    from rlpjax.eval.report import save_png

    out_dir = as_path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {name: out_dir / name for name in ("paper.md", "paper.json", "paper.png")}
    header = "\n".join(f"- {key}: {value}" for key, value in meta.items())
    paths["paper.md"].write_text(header + "\n\n" + paper_markdown(summary) + "\n")
    paths["paper.json"].write_text(json.dumps({**summary, "meta": meta}, indent=1))
    names = list(summary["benchmarks"]) + list(summary["averages"])
    values = list(summary["benchmarks"].values()) + [v or 0.0 for v in summary["averages"].values()]
    figure, axis = plt.subplots(figsize=(max(6, 0.8 * len(names)), 4))
    label_bars(axis, axis.bar(range(len(names)), values, width=0.4, label="this model"))
    averages_x = range(len(summary["benchmarks"]), len(names))
    label_bars(axis, axis.bar([x + 0.4 for x in averages_x], [PAPER_REFERENCE["base"][n] for n in summary["averages"]],
                              width=0.4, label=PAPER_REFERENCE["model"] + ", base"))
    axis.set_xticks(range(len(names)), names, rotation=30, ha="right")
    axis.set(ylabel="averaged Pass@1 (%)", title="RLP paper suite")
    axis.set_ylim(0, 110)
    legend_outside(axis)
    figure.tight_layout()
    save_png(figure, paths["paper.png"])
    plt.close(figure)
    return paths
