"""`rlpjax eval --checkpoint DIR --suite controlled|gsm8k|math500 ...`: sample a checkpoint and report pass@k.

DIR is a run directory (newest step), an rlpjax model directory or a Hugging Face directory (see `loading.py`).
Writes into --out (default DIR/eval/<suite>/): report.json (both pass@k estimators, named, and the settings),
report.md (markdown tables), PNG plots (controlled: pass@k by split and by op; math: pass@k curves) and
examples.jsonl (a few prompts with their first completion and verdict). Prints the unbiased table and the path.

Defaults follow the paper's validation protocol: temperature 0.7, top-p 1, 1024 new tokens, 128 samples, 200
problems per op. Sampling runs data-parallel over all devices (--mesh data,fsdp,tensor to shard a large model).
"""

from __future__ import annotations

import argparse
import json
import pathlib
import time

from rlpjax.config_io import ConfigError

SUITES = ("controlled", "gsm8k", "math500")
DEFAULT_DATA = {"gsm8k": "../shared/data/math/gsm8k_test.jsonl", "math500": "../shared/data/math/math500_test.jsonl"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoint", required=True, help="run directory, rlpjax model directory or HF directory")
    parser.add_argument("--suite", choices=SUITES, default="controlled", help="what to evaluate (default controlled)")
    parser.add_argument("--tokenizer", default=None, help="'byte' or a tokenizer.json path (default: the run's, "
                        "or DIR/tokenizer.json)")
    parser.add_argument("--ops", default="2-20", help="controlled: op counts, e.g. 2-20 or 2,5,11-14")
    parser.add_argument("--per-op", type=int, default=200, help="controlled: problems per op count")
    parser.add_argument("--templates", default="A,B,C", help="controlled: templates (contexts), comma-separated")
    parser.add_argument("--modes", default="forward,reverse", help="controlled: modes, comma-separated")
    parser.add_argument("--exclude-corpus", default=None, help="controlled: a training corpus directory whose "
                        "problem ids are kept out of the evaluation set")
    parser.add_argument("--data", default=None, help="gsm8k/math500: JSONL file (default ../shared/data/math/...)")
    parser.add_argument("--limit", type=int, default=0, help="gsm8k/math500: evaluate only the first N problems")
    parser.add_argument("--samples", type=int, default=128, help="samples per problem (n of pass@k)")
    parser.add_argument("--temperature", type=float, default=0.7)
    parser.add_argument("--top-p", type=float, default=1.0)
    parser.add_argument("--max-new-tokens", type=int, default=1024)
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


def run(args: argparse.Namespace) -> int:
    from rlpjax.eval.loading import load_for_eval

    if args.suite == "controlled":
        ops = parse_ops(args.ops)  # argument errors before the (slow) model load
    mesh = _make_mesh(args.mesh)
    loaded = load_for_eval(args.checkpoint, args.tokenizer, mesh)
    out_dir = pathlib.Path(args.out or pathlib.Path(args.checkpoint) / "eval" / args.suite)
    common = dict(samples=args.samples, temperature=args.temperature, top_p=args.top_p,
                  max_new_tokens=args.max_new_tokens, batch_size=args.batch_size, seed=args.seed,
                  progress=not args.no_progress, mesh=mesh, add_bos=loaded.add_bos)
    meta = {"suite": args.suite, "checkpoint": loaded.source, "samples": args.samples,
            "temperature": args.temperature, "top_p": args.top_p, "max_new_tokens": args.max_new_tokens,
            "seed": args.seed, "verdict": "VerifiedCorrect" if args.suite == "controlled" else "answer match"}
    started = time.perf_counter()
    if args.suite == "controlled":
        output, table = _run_controlled(args, ops, loaded, common, meta, out_dir, started)
    else:
        output, table = _run_math(args, loaded, common, meta, out_dir, started)
    with (out_dir / "examples.jsonl").open("w") as handle:
        handle.writelines(json.dumps(example) + "\n" for example in output.examples)
    print(table)
    print(f"[rlpjax] eval report written to {out_dir}")
    return 0


def _run_controlled(args, ops, loaded, common, meta, out_dir, started):
    """Sample and verify the controlled suite, write its report; (HarnessOutput, unbiased markdown table)."""
    from rlpjax.eval.harness import evaluate_controlled
    from rlpjax.eval.report import aggregate, markdown_table, write_report
    from rlpjax.reasoning.corpora import corpus_ids

    templates = [t.strip() for t in args.templates.split(",") if t.strip()]
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    exclude = corpus_ids(args.exclude_corpus) if args.exclude_corpus else ()
    output = evaluate_controlled(loaded.graphdef, loaded.params, loaded.tokenizer, ops=ops, templates=templates,
                                 modes=modes, per_op=args.per_op, exclude_ids=exclude, **common)
    meta = {**meta, "ops": args.ops, "per_op": args.per_op, "templates": ",".join(templates),
            "modes": ",".join(modes), "seconds": round(time.perf_counter() - started, 1)}
    write_report(output.results, out_dir, meta=meta)
    return output, markdown_table(aggregate(output.results), "unbiased")


def _run_math(args, loaded, common, meta, out_dir, started):
    """Sample and score GSM8K / MATH-500, write the report; (HarnessOutput, unbiased markdown table)."""
    from rlpjax.eval.harness import MATH_PROMPT, evaluate_math
    from rlpjax.eval.math_report import aggregate_math, math_markdown, write_math_report

    data = args.data or DEFAULT_DATA[args.suite]
    output = evaluate_math(args.suite, data, loaded.graphdef, loaded.params, loaded.tokenizer, limit=args.limit,
                           **common)
    meta = {**meta, "data": data, "problems": len(output.results), "prompt": json.dumps(MATH_PROMPT),
            "seconds": round(time.perf_counter() - started, 1)}
    write_math_report(args.suite, output.results, out_dir, meta=meta)
    return output, math_markdown(aggregate_math(args.suite, output.results), "unbiased")
