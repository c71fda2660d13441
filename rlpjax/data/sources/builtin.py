"""The built-in English-like corpus (no files; `path` empty) and the controlled reasoning corpus (path = preset)."""

from __future__ import annotations

from rlpjax.config import SourceConfig
from rlpjax.data.sources import Share, register_source


@register_source("builtin")
def open_builtin(source: SourceConfig, share: Share):
    from rlpjax.data.generated import builtin_documents

    del source
    return builtin_documents(share)


@register_source("controlled")
def open_controlled(source: SourceConfig, share: Share):
    from rlpjax.data.generated import controlled_documents

    return controlled_documents(source.path, source.text_field, share, source.name)
