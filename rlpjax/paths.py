"""The one path helper of everything a run reads and writes, local or on an object store: `as_path`.

Run directories (config.json, run_info.json, metrics.jsonl, TensorBoard events, checkpoints), evaluation outputs,
`run.init_from`, model directories and data files may be local paths or URLs (`gs://bucket/...`; `s3://` likewise).
`as_path` gives an `etils.epath.Path` for a URL (epath sends it to its fsspec filesystem: gcsfs for gs://, or
TensorFlow's gfile when TensorFlow is installed) and a `pathlib.Path` for a local path, so local behaviour is the
standard library's exactly (epath's local paths lack `chmod` and `stat().st_size`). Both are the pathlib API; code
on these paths uses what both offer (`/`, `name`, `parent`, `exists`, `is_file`, `is_dir`, `iterdir`, one-level
`glob`, `mkdir`, `open`, `read_*` / `write_*`, `unlink`, `replace`) and this module's `move` and `remove_tree`.
orbax takes the same paths and writes the arrays through TensorStore's own GCS driver. Never call `pathlib.Path` on
a path that may be a URL: it turns `gs://b/x` into a local folder `gs:/b/x`.

What an object store cannot do, and where rlpjax copes with it:
- append to an object: `train/metrics.py` rewrites metrics.jsonl whole (`open_jsonl`); tensorboardX buffers its
  events file and uploads it whole at each flush;
- rename: orbax marks a finished checkpoint with commit_success.txt instead of renaming a temporary directory,
  and `move` copies then deletes;
- directories: they exist only as prefixes of objects (`mkdir` is a no-op, an empty directory does not exist);
  epath refuses `rglob()` on gs:// and its `walk()` drops the `gs://` prefix, so trees are listed level by level.
"""

from __future__ import annotations

import contextlib
import os
import pathlib
import shutil
import tempfile
from typing import Iterator, Union

from etils import epath

Path = Union[pathlib.Path, epath.Path]
"""What `as_path` returns: pathlib.Path for a local path, epath.Path for a URL."""

CLIENTS = {"gs://": ("gcsfs", 'pip install -e ".[gcp]" (or pip install gcsfs)'), "s3://": ("s3fs", "pip install s3fs")}
"""URL prefix -> (the fsspec library epath reads it through, how to install it)."""


def is_url(path: str | os.PathLike) -> bool:
    """Whether `path` is on an object store rather than a local disk."""
    return os.fspath(path).startswith(tuple(CLIENTS))


def as_path(path: str | os.PathLike, absolute: bool = False) -> Path:
    """`path` as an epath.Path when it is a URL (a one-line ConfigError when its client library is missing), else as
    a pathlib.Path (made absolute with `absolute`, which orbax needs; a URL is absolute already, and
    `epath.Path.absolute()` would put the working directory in front of it)."""
    if is_url(path):
        require_client(path, "path")
        return epath.Path(path)
    local = pathlib.Path(path)
    return local.absolute() if absolute else local


def require_client(path: str | os.PathLike, what: str) -> None:
    """One-line ConfigError when `path` is a URL whose filesystem library is missing; `what` names the setting.

    TensorFlow also serves gs:// and s3:// to epath, so it counts as an installed client.
    """
    import importlib.util

    from rlpjax.config_io import ConfigError  # imported here: config_io reads and writes configs through this module

    for prefix, (module, install) in CLIENTS.items():
        if os.fspath(path).startswith(prefix) and not any(importlib.util.find_spec(m) for m in (module, "tensorflow")):
            raise ConfigError(f"{what} {os.fspath(path)!r} needs the {module} package to reach {prefix} paths; "
                              f"{install}")


def _files(root: epath.Path) -> Iterator[epath.Path]:
    """Every file below `root` on an object store, listed level by level."""
    for child in root.iterdir():
        if child.is_dir():
            yield from _files(child)
        else:
            yield child


def remove_tree(path: Path) -> None:
    """Delete directory `path` and everything below it."""
    if is_url(path):
        path.rmtree()
    else:
        shutil.rmtree(path)


def move(source: Path, target: Path) -> None:
    """Move the file or directory tree `source` to `target` (whose parent need not exist).

    An object store has no rename: there every object is copied (server-side), then the source deleted. That is
    what gcsfs's own `mv` falls back to, after first trying the objects.move API, which only buckets with a
    hierarchical namespace offer (the test emulator answers it 501, after half a minute of retries).
    """
    if not is_url(source):
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(os.fspath(source), os.fspath(target))
    elif not source.is_dir():
        source.copy(target)
        source.unlink()
    else:
        for file in _files(source):
            file.copy(target / file.relative_to(source))
        remove_tree(source)


@contextlib.contextmanager
def local_dir(path: str | os.PathLike) -> Iterator[pathlib.Path]:
    """A local directory holding the files of directory `path`: `path` itself when it is local, else a temporary
    download (for readers that need a real file, such as safetensors' memory map), deleted on exit."""
    source = as_path(path)
    if not is_url(source):
        yield source
        return
    with tempfile.TemporaryDirectory(prefix="rlpjax-") as tmp:
        for file in _files(source):
            target = pathlib.Path(tmp, file.relative_to(source))
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(file.read_bytes())
        yield pathlib.Path(tmp)


@contextlib.contextmanager
def staged_dir(path: str | os.PathLike) -> Iterator[pathlib.Path]:
    """A local directory to write the files of directory `path` into: `path` itself (created) when it is local,
    else a temporary directory whose files are uploaded to `path` when the block ends without an error (for writers
    that need a real file, such as safetensors), then deleted."""
    target = as_path(path)
    if not is_url(target):
        target.mkdir(parents=True, exist_ok=True)
        yield target
        return
    with tempfile.TemporaryDirectory(prefix="rlpjax-") as tmp:
        yield pathlib.Path(tmp)
        for root, _, names in os.walk(tmp):
            for name in names:
                local = pathlib.Path(root, name)
                (target / local.relative_to(tmp).as_posix()).write_bytes(local.read_bytes())
