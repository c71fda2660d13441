"""One `Tokenizer` interface over Hugging Face tokenizer.json files and a built-in byte-level tokenizer.

`load_tokenizer("byte")` needs no file. `load_tokenizer(path)` accepts a tokenizer.json or a directory holding one;
a `tokenizer_config.json` beside it supplies the BOS/EOS/pad tokens and whether BOS/EOS are added to documents
(`add_bos_token`, `add_eos_token`). Encoding never adds special tokens itself: the data pipeline adds BOS/EOS
explicitly (so a tokenizer.json post-processor cannot add a second BOS).
"""

from __future__ import annotations

import json
import pathlib
import re
from typing import Protocol, Sequence

from rlpjax.config_io import ConfigError
from rlpjax.paths import Path, as_path


class Tokenizer(Protocol):
    """What the data pipeline, the sampler and the evaluators need from a tokenizer."""

    vocab_size: int
    bos_id: int | None
    eos_id: int | None
    pad_id: int
    add_bos: bool
    """Whether the tokenizer's config asks for BOS before every document."""
    add_eos: bool
    """Whether the tokenizer's config asks for EOS after every document."""

    def encode(self, text: str) -> list[int]: ...

    def encode_batch(self, texts: Sequence[str]) -> list[list[int]]: ...

    def decode(self, ids: Sequence[int]) -> str: ...

    def token_to_id(self, token: str) -> int | None: ...


BYTE_SPECIAL_TOKENS = ("<pad>", "<bos>", "<eos>", "<think>", "</think>")
"""Special tokens of the byte tokenizer, with ids 256, 257, 258, 259, 260 in this order."""


class ByteTokenizer:
    """UTF-8 bytes as ids 0..255, then pad=256, bos=257, eos=258, <think>=259, </think>=260 (vocab 261)."""

    def __init__(self) -> None:
        self._special_ids = {token: 256 + i for i, token in enumerate(BYTE_SPECIAL_TOKENS)}
        self.vocab_size = 256 + len(BYTE_SPECIAL_TOKENS)
        self.pad_id = self._special_ids["<pad>"]
        self.bos_id = self._special_ids["<bos>"]
        self.eos_id = self._special_ids["<eos>"]
        self.add_bos = True
        self.add_eos = True

    def encode(self, text: str) -> list[int]:
        return list(text.encode("utf-8"))

    def encode_batch(self, texts: Sequence[str]) -> list[list[int]]:
        return [list(text.encode("utf-8")) for text in texts]

    def decode(self, ids: Sequence[int]) -> str:
        """Bytes are decoded as UTF-8 (invalid sequences become U+FFFD); special ids become their names."""
        names = {i: token for token, i in self._special_ids.items()}
        out, pending = [], bytearray()
        for i in ids:
            if int(i) < 256:
                pending.append(int(i))
                continue
            out.append(pending.decode("utf-8", errors="replace"))
            pending = bytearray()
            out.append(names.get(int(i), ""))
        out.append(pending.decode("utf-8", errors="replace"))
        return "".join(out)

    def token_to_id(self, token: str) -> int | None:
        if token in self._special_ids:
            return self._special_ids[token]
        raw = token.encode("utf-8")
        return raw[0] if len(raw) == 1 else None


class HFTokenizer:
    """A Hugging Face `tokenizers` tokenizer.json with the BOS/EOS/pad settings of its tokenizer_config.json."""

    def __init__(self, tokenizer_json: Path) -> None:
        import tokenizers

        try:
            self._tok = tokenizers.Tokenizer.from_str(tokenizer_json.read_text())  # local or gs:// alike
        except Exception as err:  # the Rust loader raises a bare Exception with a JSON parse message
            raise ConfigError(
                f"tokenizer file {str(tokenizer_json)!r} does not load ({err}); pass a valid tokenizer.json or 'byte'"
            ) from None
        config = _read_tokenizer_config(tokenizer_json.parent / "tokenizer_config.json")
        self.vocab_size = self._tok.get_vocab_size(with_added_tokens=True)
        self.bos_id = self._special_id(config.get("bos_token"))
        self.eos_id = self._special_id(config.get("eos_token"))
        pad_id = self._special_id(config.get("pad_token"))
        self.pad_id = next(i for i in (pad_id, self.eos_id, 0) if i is not None)
        self.add_bos = bool(config.get("add_bos_token", False)) and self.bos_id is not None
        self.add_eos = bool(config.get("add_eos_token", False)) and self.eos_id is not None

    def _special_id(self, token: str | dict | None) -> int | None:
        """The id of a special token given as a string or as an AddedToken dict ({"content": ...})."""
        if isinstance(token, dict):
            token = token.get("content")
        return self._tok.token_to_id(token) if isinstance(token, str) else None

    def encode(self, text: str) -> list[int]:
        return self._tok.encode(text, add_special_tokens=False).ids

    def encode_batch(self, texts: Sequence[str]) -> list[list[int]]:
        return [enc.ids for enc in self._tok.encode_batch(list(texts), add_special_tokens=False)]

    def decode(self, ids: Sequence[int]) -> str:
        return self._tok.decode([int(i) for i in ids], skip_special_tokens=False)

    def token_to_id(self, token: str) -> int | None:
        return self._tok.token_to_id(token)


def _read_tokenizer_config(path: Path) -> dict:
    """tokenizer_config.json as a dict, or {} when absent; a file that is not JSON is a user error."""
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ConfigError(f"tokenizer config {str(path)!r} is not valid JSON ({err}); fix or remove it") from None


HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[\w.-]+")
"""A Hugging Face Hub repository id such as `Qwen/Qwen3-1.7B-Base`."""


def resolve_local(spec: str, field: str) -> str:
    """`spec` itself when it is not a Hub id or exists on disk; else the local snapshot of Hub repository `spec`.

    The snapshot comes from the huggingface_hub cache when present, else it is downloaded (when huggingface_hub is
    installed and online). Otherwise a one-line ConfigError naming `field` says to pass a local directory.
    """
    if pathlib.Path(spec).exists() or not HUB_ID.fullmatch(spec):
        return spec
    hint = f"{field}={spec!r} is not a local path and looks like a Hugging Face Hub id"
    try:
        import huggingface_hub
    except ImportError:
        raise ConfigError(f"{hint}, but huggingface_hub is not installed; pass a local directory") from None
    try:
        return huggingface_hub.snapshot_download(spec, local_files_only=True)
    except Exception:  # not in the local cache: download below
        pass
    try:
        return huggingface_hub.snapshot_download(spec)
    except Exception as err:  # offline (HF_HUB_OFFLINE=1, no network), unknown or gated repository
        raise ConfigError(f"{hint}, but it is not in the local Hugging Face cache and could not be downloaded "
                          f"({type(err).__name__}); pass a local directory") from None


def tokenizer_json_path(spec: str) -> Path:
    """The tokenizer.json that `spec` (a tokenizer.json, a directory holding one, or a Hub id) names."""
    path = as_path(resolve_local(spec, "data.tokenizer"))
    if path.is_dir():
        path = path / "tokenizer.json"
    if not path.is_file():
        raise ConfigError(
            f"tokenizer {spec!r} is neither 'byte' nor an existing tokenizer.json or a directory holding one"
        )
    return path


def load_tokenizer(spec: str) -> Tokenizer:
    """"byte" for the built-in byte tokenizer, else a tokenizer.json path, a directory holding tokenizer.json, or a
    Hugging Face Hub id (resolved by `resolve_local`)."""
    if spec == "byte":
        return ByteTokenizer()
    return HFTokenizer(tokenizer_json_path(spec))
