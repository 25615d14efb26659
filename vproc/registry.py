"""The node registry: node kinds by name.

Built-in kinds are listed explicitly in :data:`vproc.nodes.BUILTIN` and their module is imported
on first use; third-party kinds come in through the ``vproc.nodes`` entry point group (each entry
point is named after its kind and names a module or class whose import registers it). Nothing is
loaded from a path written in a YAML file, and there is no directory scanning.
(BasicSR's ``utils/registry.py``, without its silent fallbacks.)
"""

from __future__ import annotations

import importlib

from .errors import ConfigError, did_you_mean
from .node import Node

_KINDS: dict[str, type[Node]] = {}


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


def _plugins():
    from importlib import metadata  # (imported when a plugin is looked for: 15 ms of start-up otherwise)

    return metadata.entry_points(group="vproc.nodes")


def _load_plugin(ep) -> None:
    try:
        ep.load()
    except Exception as exc:  # a broken plugin must say so, not pass for an unknown kind
        raise ConfigError(f"node plugin '{ep.name}' ({ep.value}) failed to load: {exc}") from exc


def _load(kind: str) -> None:
    """Import what registers ``kind``: its built-in module, else the plugin named after it."""
    from .nodes import BUILTIN

    if kind in BUILTIN:
        importlib.import_module(BUILTIN[kind])
        return
    for ep in _plugins():
        if ep.name == kind:
            _load_plugin(ep)


def _load_all() -> None:
    from .nodes import BUILTIN

    for module in BUILTIN.values():
        importlib.import_module(module)
    for ep in _plugins():
        _load_plugin(ep)


def get(kind: str) -> type[Node]:
    """The class registered as ``kind``; an unknown kind is a ConfigError with a suggestion."""
    if kind not in _KINDS:
        _load(kind)
    try:
        return _KINDS[kind]
    except KeyError:
        _load_all()  # for the suggestion and the list of known kinds
        raise ConfigError(
            f"unknown node type '{kind}'{did_you_mean(kind, _KINDS)}; "
            f"known types: {', '.join(sorted(_KINDS))}"
        ) from None


def kinds() -> dict[str, type[Node]]:
    """Every registered kind, sorted by name (imports every built-in and plugin kind)."""
    _load_all()
    return dict(sorted(_KINDS.items()))
