"""Read a benchmark file's records (JSONL, JSON list, CSV or Parquet) and build problems from them, skipping bad ones.

`build_problems(path, suite, build, layout)` calls `build(index, row)` on every record; a record it rejects (a
missing field, an answer that does not parse: `KeyError` / `ValueError` / `TypeError` / `IndexError`) is skipped,
counted and named in one warning line (file, record, reason, the layout expected). A file none of whose records
fits is a one-line `ConfigError` naming the layout to provide, never a traceback.
"""

from __future__ import annotations

import csv
import io
import json
import os
import sys
from typing import Callable

from rlpjax.config_io import ConfigError
from rlpjax.paths import as_path

FORMATS = (".jsonl", ".json", ".csv", ".parquet")
MAX_WARNINGS = 3
"""Bad records named one by one per file; the rest are only counted."""


def read_rows(path: str | os.PathLike) -> list[dict]:
    """The records of a JSONL / JSON-list / CSV / Parquet file (local or a URL) as dicts."""
    path = as_path(path)
    if not path.is_file():
        raise FileNotFoundError(f"benchmark file {str(path)!r} does not exist; pass the path of the benchmark file "
                                f"({' / '.join(FORMATS)})")
    suffix = path.suffix.lower()
    try:
        if suffix == ".parquet":
            import pyarrow.parquet as pq

            with path.open("rb") as handle:
                return pq.read_table(handle).to_pylist()
        if suffix == ".csv":  # newline="": line ends inside quoted fields are kept as written
            return list(csv.DictReader(io.StringIO(path.read_bytes().decode(), newline="")))
        text = path.read_text()
        if suffix == ".json" or text.lstrip().startswith("["):
            rows = json.loads(text)
            return rows if isinstance(rows, list) else [rows]
        return [json.loads(line) for line in text.splitlines() if line.strip()]
    except (ValueError, OSError) as error:
        raise ConfigError(f"benchmark file {str(path)!r} could not be read as {suffix or 'JSONL'} "
                          f"({str(error).splitlines()[0]}); pass a JSONL, JSON, CSV or Parquet file") from None


def build_problems(path: str | os.PathLike, suite: str, build: Callable[[int, dict], object],
                   layout: str) -> tuple[list, int]:
    """(problems, number of skipped records) of `path`; `layout` names the fields the suite expects."""
    problems, warnings, first = [], [], "the file holds no records"
    for index, row in enumerate(read_rows(path)):
        try:
            if not isinstance(row, dict):
                raise TypeError("the record is not an object")
            problems.append(build(index, row))
        except (KeyError, ValueError, TypeError, IndexError) as error:
            reason = f"field {error} is missing" if isinstance(error, KeyError) else str(error)
            first = f"record {index}: {reason}" if not warnings else first
            warnings.append(f"[rlpjax] {suite}: skipped record {index} of {path}: {reason}; fix the record to the "
                            f"{suite} layout ({layout})")
    if not problems:
        raise ConfigError(f"{suite}: no record of {str(path)!r} fits the {suite} layout, {layout} ({first}); "
                          f"pass a {suite} file in that layout")
    for line in warnings[:MAX_WARNINGS]:
        print(line, file=sys.stderr)
    if len(warnings) > MAX_WARNINGS:
        print(f"[rlpjax] {suite}: skipped {len(warnings)} bad records of {path} in all", file=sys.stderr)
    return problems, len(warnings)
