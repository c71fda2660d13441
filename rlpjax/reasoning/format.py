"""Text formats of the controlled corpus and the special tokens of its tokenizer.

- Training document: `<question> {problem} {question} </question> <solution> {solution} </solution>
  <answer> {answer} </answer>` (end-of-sequence is appended by the tokenizer pipeline, not written here).
- RL prompt: `<question> {problem} {question} </question> <solution>`; the model writes the solution body,
  `</solution>` and `<answer> n </answer>`.

The solution body ends with its last step, as in the authors' data; `answer_line=True` appends the spec's
` Answer: n.` sentence to it (documents and gold completions alike). The verifier reads the answer from the
`<answer>` tag either way.
"""

from __future__ import annotations

END_OF_SEQUENCE = "<|endoftext|>"
SPECIAL_TOKENS = ["<question>", "</question>", "<solution>", "</solution>", "<answer>", "</answer>",
                  "<think>", "</think>", END_OF_SEQUENCE]
PROMPT_FORMAT = "<question> {problem} {question} </question> <solution>"
COMPLETION_FORMAT = " {solution} </solution> <answer> {answer} </answer>"
DOCUMENT_FORMAT = PROMPT_FORMAT + COMPLETION_FORMAT
ANSWER_LINE = " Answer: {answer}."
"""The sentence `answer_line=True` appends to a solution body."""


def _fields(record: dict, answer_line: bool) -> dict:
    solution = record["solution"] + ANSWER_LINE.format(**record) if answer_line else record["solution"]
    return {**record, "solution": solution}


def document_text(record: dict, answer_line: bool = False) -> str:
    """The pre-/mid-training text of a problem record."""
    return DOCUMENT_FORMAT.format(**_fields(record, answer_line))


def prompt_text(record: dict) -> str:
    """The RL prompt of a problem record."""
    return PROMPT_FORMAT.format(**record)


def completion_text(record: dict, answer_line: bool = False) -> str:
    """The gold completion that follows the prompt (what a perfect policy writes)."""
    return COMPLETION_FORMAT.format(**_fields(record, answer_line))
