"""`rlpjax eval --checkpoint DIR --suite controlled|paper|<benchmark> ...`: sample a checkpoint and report pass@k.

DIR is a run directory (newest step), an rlpjax model directory or a Hugging Face directory (see `loading.py`).
Writes into --out (default DIR/eval/<suite>/): report.json (both pass@k estimators, named, and the settings),
report.md (markdown tables), PNG plots (controlled: pass@k by split and by op, the gold documents' NLL by op; math: pass@k curves) and
examples.jsonl (a few prompts with their first completion and verdict). Prints the unbiased table and the path.

Benchmarks: gsm8k, math500, aime25, amc23, minerva (shipped in ../shared/data/math/) and mmlu, mmlu_pro, gpqa (the
user's files, --data). `--suite paper` runs every benchmark whose file exists (`paper.PROTOCOL`; --data
suite=path,... points at others), writes each suite's report into OUT/<suite>/ and the summary table in the paper's
layout into OUT/paper.{md,json,png}; a missing file is listed as skipped with the path to provide.

`--compare RUN_DIR RUN_DIR ...` samples nothing: it overlays the controlled reports of several runs (pass@k curves
by split) in OUT/compare.png and compare.md (`compare.py`; OUT defaults to ./eval_compare).

Sampling defaults: controlled, gsm8k and math500 keep the validation protocol (temperature 0.7, top-p 1, 1024 new
tokens, 128 samples; 200 problems per op); the other benchmarks and `paper` use the paper's protocol per suite
(`paper.PROTOCOL`). --samples / --temperature / --top-p / --max-new-tokens override either. Sampling runs
data-parallel over all devices (--mesh data,fsdp,tensor to shard a large model).
"""

from __future__ import annotations

import argparse
import collections
import json
import time

from rlpjax.config_io import ConfigError

from rlpjax.eval.paper import PROTOCOL
from rlpjax.paths import as_path

SUITES = ("controlled", "paper", *PROTOCOL)
VALIDATION = {"samples": 128, "temperature": 0.7, "top_p": 1.0, "max_new_tokens": 1024}
"""Sampling defaults of the controlled, gsm8k and math500 suites (today's results)."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoint", help="run directory, rlpjax model directory or HF directory")
    parser.add_argument("--compare", nargs="+", metavar="RUN_DIR", help="overlay the controlled pass@k curves of "
                        "these evaluated runs (run, report directory or report.json) instead of sampling")
    parser.add_argument("--suite", choices=SUITES, default="controlled", help="what to evaluate (default controlled)")
    parser.add_argument("--tokenizer", default=None, help="'byte' or a tokenizer.json path (default: the run's, "
                        "or DIR/tokenizer.json)")
    parser.add_argument("--ops", default="2-20", help="controlled: op counts, e.g. 2-20 or 2,5,11-14")
    parser.add_argument("--per-op", type=int, default=200, help="controlled: problems per op count")
    parser.add_argument("--templates", default="A,B,C", help="controlled: templates (contexts), comma-separated")
    parser.add_argument("--modes", default="forward,reverse", help="controlled: modes, comma-separated")
    parser.add_argument("--exclude-corpus", default=None, help="controlled: a training corpus directory whose "
                        "problem ids are kept out of the evaluation set")
    parser.add_argument("--data", default=None, help="a benchmark: its file (JSONL/JSON/CSV/Parquet; default "
                        "../shared/data/math/...); paper: suite=path,... for suites not at their default path")
    parser.add_argument("--limit", type=int, default=0, help="benchmarks: evaluate only the first N problems")
    parser.add_argument("--samples", type=int, default=None, help="samples per problem (n of pass@k; default: "
                        "the suite's protocol)")
    parser.add_argument("--temperature", type=float, default=None, help="0 = greedy (default: the protocol)")
    parser.add_argument("--top-p", type=float, default=None)
    parser.add_argument("--max-new-tokens", type=int, default=None)
    parser.add_argument("--batch-size", type=int, default=64, help="rows per sampler call (fixed: one compile "
                        "per prompt-length bucket)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the problem set and of sampling")
    parser.add_argument("--mesh", default="-1,1,1", help="data,fsdp,tensor sizes of the device mesh (-1: fill)")
    parser.add_argument("--out", default=None, help="output directory (default <checkpoint>/eval/<suite>)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def parse_ops(text: str) -> list[int]:
    """"2-20" or "2,5,11-14" -> sorted op counts."""
    ops: set[int] = set()
    try:
        for part in filter(None, (p.strip() for p in text.split(","))):
            low, _dash, high = part.partition("-")
            ops.update(range(int(low), int(high or low) + 1))
    except ValueError:
        raise ConfigError(f"--ops {text!r} is not a list of op counts; write e.g. 2-20 or 2,5,11-14") from None
    if not ops or min(ops) < 1:
        raise ConfigError(f"--ops {text!r} names no positive op count; write e.g. 2-20")
    return sorted(ops)


def _make_mesh(text: str):
    from rlpjax.config import MeshConfig
    from rlpjax.sharding import make_mesh

    try:
        data, fsdp, tensor = (int(x) for x in text.split(","))
    except ValueError:
        raise ConfigError(f"--mesh {text!r} is not three sizes data,fsdp,tensor; write e.g. -1,1,1") from None
    return make_mesh(MeshConfig(data=data, fsdp=fsdp, tensor=tensor))


def sampling_for(suite: str, args: argparse.Namespace) -> dict:
    """samples / temperature / top_p / max_new_tokens of a suite: the command line's, else the suite's default
    (the paper's protocol under --suite paper and for the newer benchmarks, else `VALIDATION`)."""
    if args.suite == "paper" or suite not in ("controlled", "gsm8k", "math500"):
        defaults = {key: getattr(PROTOCOL[suite], key) for key in VALIDATION}
    else:
        defaults = VALIDATION
    return {key: default if getattr(args, key) is None else getattr(args, key) for key, default in defaults.items()}


def data_paths(args: argparse.Namespace) -> dict[str, str]:
    """suite -> file: the protocol's defaults, with --data (one path, or paper's suite=path,...) applied."""
    paths = {suite: protocol.path for suite, protocol in PROTOCOL.items()}
    if args.data and args.suite != "paper":
        paths[args.suite] = args.data
    elif args.data:
        for item in filter(None, (part.strip() for part in args.data.split(","))):
            suite, sep, path = item.partition("=")
            if not sep or suite not in PROTOCOL:
                raise ConfigError(f"--data item {item!r} is not suite=path with a suite of {sorted(PROTOCOL)}; "
                                  "write e.g. --data mmlu=mmlu.jsonl,gpqa=gpqa_diamond.csv")
            paths[suite] = path
    return paths


def run(args: argparse.Namespace) -> int:
    from rlpjax.eval.loading import load_for_eval

    if args.compare:
        from rlpjax.eval.compare import write_compare

        paths = write_compare(args.compare, args.out or "eval_compare")
        print(paths["compare.md"].read_text(), end="")
        print(f"[rlpjax] comparison written to {paths['compare.png']}")
        return 0
    if not args.checkpoint:
        raise ConfigError("rlpjax eval needs --checkpoint DIR (or --compare RUN_DIR ... to compare evaluated runs)")
    if args.suite == "controlled":
        ops = parse_ops(args.ops)  # argument errors before the (slow) model load
    paths = data_paths(args)
    if args.suite in PROTOCOL and not as_path(paths[args.suite]).is_file():
        raise FileNotFoundError(f"benchmark file {paths[args.suite]!r} does not exist; pass --data with the "
                                f"{args.suite} file")
    mesh = _make_mesh(args.mesh)
    loaded = load_for_eval(args.checkpoint, args.tokenizer, mesh)
    out_dir = as_path(args.out or as_path(args.checkpoint) / "eval" / args.suite)  # local or a URL alike
    common = dict(batch_size=args.batch_size, seed=args.seed, progress=not args.no_progress, mesh=mesh,
                  add_bos=loaded.add_bos)
    meta = {"suite": args.suite, "checkpoint": loaded.source, "seed": args.seed}
    started = time.perf_counter()
    if args.suite == "controlled":
        output, table = _run_controlled(args, ops, loaded, common, meta, out_dir, started)
    elif args.suite == "paper":
        output, table = _run_paper(args, paths, loaded, common, meta, out_dir)
    else:
        output, table = _run_benchmark(args.suite, paths[args.suite], args, loaded, common, meta, out_dir)
    with (out_dir / "examples.jsonl").open("w") as handle:
        handle.writelines(json.dumps(example) + "\n" for example in output.examples)
    print(table)
    print(f"[rlpjax] eval report written to {out_dir}")
    return 0


def _run_controlled(args, ops, loaded, common, meta, out_dir, started):
    """Sample and verify the controlled suite, write its report; (HarnessOutput, unbiased markdown table)."""
    from rlpjax.eval.harness import evaluate_controlled
    from rlpjax.eval.nll import nll_by_op
    from rlpjax.eval.report import aggregate, markdown_table, write_report
    from rlpjax.reasoning.corpora import corpus_ids

    templates = [t.strip() for t in args.templates.split(",") if t.strip()]
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    exclude = corpus_ids(args.exclude_corpus) if args.exclude_corpus else ()
    sampling = sampling_for("controlled", args)
    output = evaluate_controlled(loaded.graphdef, loaded.params, loaded.tokenizer, ops=ops, templates=templates,
                                 modes=modes, per_op=args.per_op, exclude_ids=exclude, **sampling, **common)
    nll, nll_ops = nll_by_op(loaded, list(output.problems))
    drawn = {key: collections.Counter(getattr(r, key) for r in output.results) for key in ("template", "mode")}
    meta = {**meta, **sampling, "verdict": "VerifiedCorrect", "ops": args.ops, "per_op": args.per_op,
            "templates": _drawn(drawn["template"]), "modes": _drawn(drawn["mode"]), "heldout_nll": round(nll, 4),
            "seconds": round(time.perf_counter() - started, 1)}
    write_report(output.results, out_dir, meta=meta, nll_by_op=nll_ops)
    return output, markdown_table(aggregate(output.results), "unbiased")


def _drawn(counts: collections.Counter) -> str:
    """What the problem set actually holds, e.g. "forward (30), reverse (30)"."""
    return ", ".join(f"{name} ({count})" for name, count in sorted(counts.items()))


def _run_benchmark(suite, data, args, loaded, common, meta, out_dir):
    """Sample and score one benchmark, write its report; (HarnessOutput, unbiased markdown table)."""
    from rlpjax.eval.answers import answer_rule
    from rlpjax.eval.choice import CHOICE_PROMPT, LETTER_RULE
    from rlpjax.eval.harness import MATH_PROMPT, evaluate_suite
    from rlpjax.eval.math_report import aggregate_math, math_markdown, write_math_report

    started = time.perf_counter()
    sampling = sampling_for(suite, args)
    output = evaluate_suite(suite, data, loaded.graphdef, loaded.params, loaded.tokenizer, limit=args.limit,
                            **sampling, **common)
    is_math = PROTOCOL[suite].area == "math"
    meta = {**meta, "suite": suite, **sampling, "data": data, "problems": len(output.results),
            "skipped_records": output.skipped, "verdict": answer_rule() if is_math else LETTER_RULE,
            "prompt": json.dumps(MATH_PROMPT if is_math else CHOICE_PROMPT),
            "seconds": round(time.perf_counter() - started, 1)}
    write_math_report(suite, output.results, out_dir, meta=meta)
    return output, math_markdown(aggregate_math(suite, output.results), "unbiased")


def _run_paper(args, paths, loaded, common, meta, out_dir):
    """Every benchmark whose file exists, then the summary table; (HarnessOutput of all, markdown summary)."""
    from rlpjax.eval.answers import answer_rule
    from rlpjax.eval.choice import LETTER_RULE
    from rlpjax.eval.harness import HarnessOutput
    from rlpjax.eval.paper import paper_markdown, paper_summary, write_paper_report

    scores, skipped, examples = {}, {}, []
    for suite in PROTOCOL:
        if not as_path(paths[suite]).is_file():
            skipped[suite] = f"file {paths[suite]} is missing; provide it or pass --data {suite}=PATH"
            print(f"[rlpjax] paper: skipping {suite}: {skipped[suite]}")
            continue
        try:
            output, _table = _run_benchmark(suite, paths[suite], args, loaded, common, meta, out_dir / suite)
        except ConfigError as error:  # a file in the wrong layout: skip the suite, say why
            skipped[suite] = str(error)
            print(f"[rlpjax] paper: skipping {suite}: {error}")
            continue
        scores[suite] = sum(sum(r.flags) / len(r.flags) for r in output.results) / len(output.results)
        examples += [{"suite": suite, **example} for example in output.examples[:1]]
    summary = paper_summary(scores, skipped)
    settings = {suite: sampling_for(suite, args) for suite in scores}
    meta = {**meta, "math answers": answer_rule(), "multiple choice": LETTER_RULE, "limit": args.limit,
            "sampling": json.dumps(settings)}
    write_paper_report(summary, out_dir, meta)
    return HarnessOutput([], examples), paper_markdown(summary)
