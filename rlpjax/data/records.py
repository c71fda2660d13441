"""Turning one raw record into a document text or a counted reason for skipping it.

Bad input never stops a run: every record becomes either `(text, None)` or `(None, kind)` with `kind` one of
`BAD_KINDS`, and the streams count the kinds (`it.stats()` exposes the counts to the trainer's metrics).
"""

from __future__ import annotations

import json

BAD_KINDS = ("malformed_json", "invalid_utf8", "missing_field", "non_string_field", "empty_document", "empty_file",
             "unreadable_shard", "malformed_tokens")
"""Why a record was skipped: not JSON; not UTF-8 (or lone surrogates); no text field (or null); text not a string;
text empty or whitespace only (empty lines included); a shard with no records at all (counted once per shard per
epoch); a shard whose bytes cannot be decoded (truncated or non-gzip `.gz`, corrupt Parquet), whose remaining records
are skipped (counted once per shard per epoch, its path logged); a token-cache record that is not whole int32 ids."""

Outcome = tuple[object, str | None]
"""(document, None) for a good record (text, or int32 token ids from a token cache), (None, one of BAD_KINDS) for a
skipped one."""

NOT_OWNED: Outcome = (None, None)
"""What a reader yields for a record another share owns (this very object: it is told apart by identity): neither
parsed nor counted."""


def check_text(value: object) -> Outcome:
    """Classify the value of a record's text field (None means the field is missing or null)."""
    if value is None:
        return None, "missing_field"
    if not isinstance(value, str):
        return None, "non_string_field"
    if not value.strip():
        return None, "empty_document"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates from "\ud800"-style JSON escapes cannot be tokenized
        return None, "invalid_utf8"
    return value, None


def parse_json_record(raw: bytes, text_field: str) -> Outcome:
    """Classify one JSON object given as bytes (a JSONL line or an ArrayRecord record)."""
    if not raw.strip():
        return None, "empty_document"
    try:
        line = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None, "invalid_utf8"
    try:
        record = json.loads(line)
    except json.JSONDecodeError:
        return None, "malformed_json"
    if not isinstance(record, dict):
        return None, "malformed_json"
    return check_text(record.get(text_field))


def zero_counts(saved: dict[str, int] | None = None) -> dict[str, int]:
    """A counter of skipped records, one entry per kind: fresh, or `saved` (a resumed state, which may predate a
    kind) completed with zeros."""
    return {kind: 0 for kind in BAD_KINDS} | dict(saved or {})
