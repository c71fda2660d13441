"""The built-in English-like corpus (no files; `path` empty) and the controlled reasoning corpus (path = preset)."""

from __future__ import annotations

from rlpjax.config import SourceConfig
from rlpjax.data.generated import BuiltinStream, ControlledStream
from rlpjax.data.sources import Share, register_source


@register_source("builtin")
def open_builtin(source: SourceConfig, share: Share):
    del source
    return BuiltinStream(seed=share.seed, process_index=share.index, process_count=share.count)


@register_source("controlled")
def open_controlled(source: SourceConfig, share: Share):
    return ControlledStream(source.path, source.text_field, seed=share.seed, process_index=share.index,
                            process_count=share.count)
