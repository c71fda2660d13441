"""The token cache's format: ArrayRecord shards of int32 token ids, one document per record, and a JSON manifest.

    <cache>/tokens-00000.array_record, tokens-00001.array_record, ...   one record = one document's ids, '<i4' bytes
    <cache>/manifest.json                                              written last: a cache without one is unfinished

The ids are the document's text encoded as the pipeline encodes it (`packing.encode_documents`), with no BOS or EOS:
the pipeline adds data.add_bos / data.add_eos when it reads, exactly as for text. The manifest names the tokenizer
(its tokenizer.json's sha256 and vocabulary size), the input, the counts (documents, tokens, skipped records by
kind) and each shard's counts; training refuses a cache whose tokenizer is not data.tokenizer.
"""

from __future__ import annotations

import hashlib
import json

import numpy as np

from rlpjax.config_io import ConfigError
from rlpjax.paths import Path, as_path

MANIFEST = "manifest.json"
FORMAT = "rlpjax.tokens"
VERSION = 1
TOKEN_DTYPE = np.dtype("<i4")
"""Little-endian int32: every id of a 152k-token vocabulary fits, and a record is readable on any host."""


def shard_name(index: int) -> str:
    return f"tokens-{index:05d}.array_record"


def tokenizer_identity(spec: str) -> dict:
    """What the manifest records of tokenizer `spec`: its tokenizer.json's sha256 (None for "byte") and vocab size.
    Two specs with the same identity produce the same ids, wherever the file lives."""
    from rlpjax.data.tokenizer import load_tokenizer, tokenizer_json_path

    tokenizer = load_tokenizer(spec)
    sha256 = None if spec == "byte" else hashlib.sha256(tokenizer_json_path(spec).read_bytes()).hexdigest()
    return {"spec": spec, "sha256": sha256, "vocab_size": tokenizer.vocab_size}


def encode_record(ids) -> bytes:
    """One document's ids as the bytes of one record."""
    return np.asarray(ids, dtype=TOKEN_DTYPE).tobytes()


def decode_record(raw: bytes):
    """(ids [n] int32, None) for one record, or (None, "malformed_tokens") when its bytes are not whole int32 ids
    (an empty record included: the writer never writes one)."""
    if not raw or len(raw) % TOKEN_DTYPE.itemsize:
        return None, "malformed_tokens"
    return np.frombuffer(raw, dtype=TOKEN_DTYPE).astype(np.int32), None


def cache_dir(path: str) -> Path:
    """The cache directory that `path` (the directory or its manifest.json) names."""
    path = path.rstrip("/")
    return as_path(path[: -len(MANIFEST) - 1] if path.endswith("/" + MANIFEST) else path)


def read_manifest(path: str) -> dict:
    """The manifest of the cache at `path`; a user error naming the fix when it is missing, unreadable, of another
    format or names a shard that is not there."""
    directory = cache_dir(path)
    manifest_path = directory / MANIFEST
    if not manifest_path.is_file():
        raise ConfigError(f"data path {path!r} holds no token cache manifest ({MANIFEST}); write the cache with "
                          f"`rlpjax data tokenize --input <text shards> --tokenizer <tokenizer> --out {path}` "
                          "(an interrupted tokenize leaves no manifest: run it again)")
    try:
        manifest = json.loads(manifest_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ConfigError(f"token cache manifest {str(manifest_path)!r} is not valid JSON ({err}); run "
                          "`rlpjax data tokenize` again") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ConfigError(f"{str(manifest_path)!r} is not a token cache manifest (no \"format\": {FORMAT!r}); point "
                          "the source at a directory written by `rlpjax data tokenize`, or set its format")
    if manifest.get("version") != VERSION:
        raise ConfigError(f"token cache {path!r} has version {manifest.get('version')}, this rlpjax reads version "
                          f"{VERSION}; run `rlpjax data tokenize` again")
    missing = [shard["file"] for shard in manifest["shards"] if not (directory / shard["file"]).is_file()]
    if missing:
        raise ConfigError(f"token cache {path!r} lacks the shards {missing[:3]} its manifest lists; copy the whole "
                          "directory, or run `rlpjax data tokenize` again")
    return manifest


def check_tokenizer(manifest: dict, spec: str, path: str) -> None:
    """A user error unless tokenizer `spec` (data.tokenizer) is the one the cache's ids were made with."""
    want = manifest["tokenizer"]
    have = tokenizer_identity(spec)
    if (have["sha256"], have["vocab_size"]) != (want["sha256"], want["vocab_size"]):
        raise ConfigError(
            f"token cache {path!r} holds ids of tokenizer {want['spec']!r} (sha256 {str(want['sha256'])[:12]}, "
            f"{want['vocab_size']} ids) but data.tokenizer={spec!r} is another (sha256 {str(have['sha256'])[:12]}, "
            f"{have['vocab_size']} ids); set data.tokenizer to the cache's tokenizer, or tokenize again with this one")


def shard_paths(manifest: dict, path: str) -> list[str]:
    """The manifest's shards, in order (stray files of the directory are never read)."""
    directory = cache_dir(path)
    return [str(directory / shard["file"]) for shard in manifest["shards"]]
