"""The controlled reasoning framework (plain Python, no JAX).

- `generator.generate_problem(op, template, mode, seed)`: one problem with an exact op count and its gold graph;
- `templates`: contexts kept as JSON data; `render`: problem sentences and gold solutions;
- `format`: training-document / RL-prompt formats and the tokenizer's `SPECIAL_TOKENS`;
- `mixtures`: corpus mixtures as text, presets and exact part counts;
- `corpora`: `iter_documents` (on-the-fly stream), `build_eval_set` (held-out problems), canonical-key exclusion;
- `corpus_writer`: parallel, deterministic, deduplicated sharded JSONL (the `generate-data` command in `cli`);
- `parser` / `verify` / `rewards`: trace -> graph, ProcessAcc and VerifiedCorrect, RL rewards by name.
"""
