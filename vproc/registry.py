"""The node registry: node kinds by name.

Built-in kinds are registered by importing the explicit list in :mod:`vproc.nodes`; third-party
kinds come in through the ``vproc.nodes`` entry point group (each entry point names a module or
class whose import registers the kind). Nothing is loaded from a path written in a YAML file, and
there is no directory scanning. (BasicSR's ``utils/registry.py``, without its silent fallbacks.)
"""

from __future__ import annotations

from importlib import metadata

from .errors import ConfigError, did_you_mean
from .node import Node

_KINDS: dict[str, type[Node]] = {}
_loaded = False


def register(kind: str):
    """Class decorator that registers a :class:`~vproc.node.Node` subclass under ``kind``."""

    def decorate(cls: type[Node]) -> type[Node]:
        if not (isinstance(cls, type) and issubclass(cls, Node)):
            raise TypeError(f"@register('{kind}') must decorate a Node subclass, not {cls!r}")
        if kind in _KINDS and _KINDS[kind] is not cls:
            raise ConfigError(
                f"node kind '{kind}' is registered twice "
                f"({_KINDS[kind].__module__}.{_KINDS[kind].__qualname__} and "
                f"{cls.__module__}.{cls.__qualname__})"
            )
        cls.kind = kind
        _KINDS[kind] = cls
        return cls

    return decorate


def _load() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    from . import nodes  # noqa: F401  (the explicit list of built-in kinds)

    for ep in metadata.entry_points(group="vproc.nodes"):
        try:
            ep.load()
        except Exception as exc:  # a broken plugin must not hide the built-in kinds
            raise ConfigError(f"node plugin '{ep.name}' ({ep.value}) failed to load: {exc}") from exc


def get(kind: str) -> type[Node]:
    """The class registered as ``kind``; an unknown kind is a ConfigError with a suggestion."""
    _load()
    try:
        return _KINDS[kind]
    except KeyError:
        raise ConfigError(
            f"unknown node type '{kind}'{did_you_mean(kind, _KINDS)}; "
            f"known types: {', '.join(sorted(_KINDS))}"
        ) from None


def kinds() -> dict[str, type[Node]]:
    """Every registered kind, sorted by name."""
    _load()
    return dict(sorted(_KINDS.items()))
