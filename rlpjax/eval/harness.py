"""Sample a model on an evaluation suite and score every sample: the controlled suite, the math and the
multiple-choice suites.

- `evaluate_controlled(graphdef, params, tokenizer, ops=..., templates=..., modes=..., per_op=..., samples=n, ...)`:
  held-out problems from `build_eval_set`, prompted with the RL prompt (`<question> ... </question> <solution>`);
  the completion (text after the prompt, cut after `</answer>`) is checked with `verify`, and a sample counts for
  pass@k only when it is VerifiedCorrect (every gold node right and the answer right).
- `evaluate_suite(suite, path, graphdef, params, tokenizer, ...)`: a math suite (`math_data.MATH_LAYOUTS`: GSM8K,
  MATH-500, AIME25, AMC23, Minerva) prompted as `MATH_PROMPT` ("Question: {question}\\nAnswer:"), whose final
  answer must match the reference (`answers.answers_match`, rule `answer_rule()`); or a multiple-choice suite
  (`choice.CHOICE_LAYOUTS`: MMLU, MMLU-Pro, GPQA) prompted with lettered choices and scored by the generated
  letter (`choice.LETTER_RULE`). Completions are cut where the model starts a new "\\nQuestion:".

Both return `HarnessOutput(results, examples)`: one result per problem (its per-sample correctness flags, for
pass@k) and, for the first `num_examples` problems, the prompt, first completion and why it was judged as it was.
`score_controlled` / `score_math` are the sampling-free halves (the oracle test feeds them gold completions).
"""

from __future__ import annotations

import collections
import dataclasses
from typing import Collection, NamedTuple, Sequence

from rlpjax.config_io import ConfigError
from rlpjax.eval.answers import answers_match, extract_answer
from rlpjax.eval.choice import CHOICE_LAYOUTS, LETTERS, extract_letter, load_choice
from rlpjax.eval.generate import generate
from rlpjax.eval.math_data import MATH_LAYOUTS, load_math
from rlpjax.eval.report import ProblemResult, failure_types
from rlpjax.reasoning.corpora import build_eval_set
from rlpjax.reasoning.format import completion_text, prompt_text
from rlpjax.reasoning.verify import verify
from rlpjax.sampling import SamplingSettings

CONTROLLED_STOP = ("</answer>",)
MATH_PROMPT = "Question: {question}\nAnswer:"
"""Prompt of the math suites: a plain completion format any base model continues."""
MATH_STOP = ("\nQuestion:",)


@dataclasses.dataclass(frozen=True)
class MathResult:
    """The sampled outcomes of one math problem; `group` is its MATH level (or "all" for GSM8K)."""

    id: str
    group: str
    flags: tuple[bool, ...]


class HarnessOutput(NamedTuple):
    """Per-problem results, a few worked examples (dicts of prompt, completion, gold and verdict), the number
    of bad records skipped when loading, and (controlled suite) the problem records evaluated, for their NLL."""

    results: list
    examples: list[dict]
    skipped: int = 0
    problems: Sequence = ()


def _sampling(temperature: float, top_p: float, max_new_tokens: int) -> SamplingSettings:
    return SamplingSettings(max_new_tokens=max_new_tokens, temperature=temperature, top_p=top_p)


def score_controlled(records: Sequence[dict], completions: Sequence[Sequence[str]],
                     num_examples: int = 4) -> HarnessOutput:
    """Verify each problem's completions (text after the prompt) against its gold graph."""
    results, examples = [], []
    for index, (record, texts) in enumerate(zip(records, completions, strict=True)):
        verdicts = [verify(text, record) for text in texts]
        failures = collections.Counter(name for v in verdicts for name in failure_types(v))
        results.append(ProblemResult(record["op"], record["template"], record["mode"],
                                     tuple(v.verified_correct for v in verdicts), tuple(sorted(failures.items()))))
        if index < num_examples:
            examples.append({"id": record["id"], "op": record["op"], "template": record["template"],
                             "mode": record["mode"], "prompt": prompt_text(record), "completion": texts[0],
                             "gold": completion_text(record), "verified_correct": verdicts[0].verified_correct,
                             "process_acc": verdicts[0].process_acc, "reason": verdicts[0].reason,
                             "correct_samples": sum(results[-1].flags)})
    return HarnessOutput(results, examples, problems=tuple(records))


def evaluate_controlled(graphdef, params, tokenizer, *, ops: Collection[int], templates: Collection[str],
                        modes: Collection[str], per_op: int, samples: int, temperature: float = 0.7,
                        top_p: float = 1.0, max_new_tokens: int = 1024, batch_size: int, seed: int,
                        exclude_ids: Collection[str] = (), progress: bool = True, mesh=None,
                        add_bos: bool | None = None, num_examples: int = 4) -> HarnessOutput:
    """pass@k material for the controlled suite: `per_op` held-out problems per op, `samples` samples each."""
    records = build_eval_set(sorted(ops), list(templates), list(modes), per_op, seed, exclude_ids)
    completions = generate(graphdef, params, tokenizer, [prompt_text(r) for r in records], samples=samples,
                           settings=_sampling(temperature, top_p, max_new_tokens), batch_size=batch_size, seed=seed,
                           stop_strings=CONTROLLED_STOP, add_bos=add_bos, mesh=mesh, progress=progress,
                           desc="controlled")
    return score_controlled(records, completions, num_examples)


def load_suite(suite: str, path: str, limit: int = 0) -> tuple[list, int]:
    """(the first `limit` problems, all when 0, of a math or multiple-choice suite's file; bad records skipped)."""
    if suite in MATH_LAYOUTS:
        problems, skipped = load_math(suite, path)
    elif suite in CHOICE_LAYOUTS:
        problems, skipped = load_choice(suite, path)
    else:
        raise ConfigError(f"suite {suite!r} is unknown; choose one of {sorted(MATH_LAYOUTS) + sorted(CHOICE_LAYOUTS)}")
    return (problems[:limit] if limit > 0 else problems), skipped


def score_math(problems: Sequence, completions: Sequence[Sequence[str]], num_examples: int = 4) -> HarnessOutput:
    """Extract each completion's final answer and compare it with the reference answer."""
    results, examples = [], []
    for index, (problem, texts) in enumerate(zip(problems, completions, strict=True)):
        predicted = [extract_answer(text) for text in texts]
        flags = tuple(answers_match(answer, problem.answer) for answer in predicted)
        results.append(MathResult(problem.id, str(problem.meta.get("level", "all")), flags))
        if index < num_examples:
            examples.append({"id": problem.id, "prompt": MATH_PROMPT.format(question=problem.question),
                             "completion": texts[0], "gold": problem.answer, "predicted": predicted[0],
                             "correct": flags[0], "correct_samples": sum(flags)})
    return HarnessOutput(results, examples)


def score_choice(problems: Sequence, completions: Sequence[Sequence[str]], num_examples: int = 4) -> HarnessOutput:
    """Extract each completion's answer letter and compare it with the reference letter."""
    results, examples = [], []
    for index, (problem, texts) in enumerate(zip(problems, completions, strict=True)):
        predicted = [extract_letter(text, len(problem.choices)) for text in texts]
        flags = tuple(letter == LETTERS[problem.answer] for letter in predicted)
        results.append(MathResult(problem.id, "all", flags))
        if index < num_examples:
            examples.append({"id": problem.id, "prompt": problem.prompt(), "completion": texts[0],
                             "gold": LETTERS[problem.answer], "predicted": predicted[0], "correct": flags[0],
                             "correct_samples": sum(flags)})
    return HarnessOutput(results, examples)


def evaluate_suite(suite: str, path: str, graphdef, params, tokenizer, *, samples: int, limit: int = 0,
                   temperature: float = 0.7, top_p: float = 1.0, max_new_tokens: int = 1024, batch_size: int,
                   seed: int, progress: bool = True, mesh=None, add_bos: bool | None = None,
                   num_examples: int = 4) -> HarnessOutput:
    """Scored samples of a math or multiple-choice suite read from a local file (`limit` > 0: first problems)."""
    problems, skipped = load_suite(suite, path, limit)
    is_math = suite in MATH_LAYOUTS
    prompts = [MATH_PROMPT.format(question=p.question) if is_math else p.prompt() for p in problems]
    completions = generate(graphdef, params, tokenizer, prompts, samples=samples,
                           settings=_sampling(temperature, top_p, max_new_tokens), batch_size=batch_size, seed=seed,
                           stop_strings=MATH_STOP, add_bos=add_bos, mesh=mesh, progress=progress, desc=suite)
    output = (score_math if is_math else score_choice)(problems, completions, num_examples)
    return output._replace(skipped=skipped)
