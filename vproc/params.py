"""Turning user-written parameters (YAML values, ``--set`` strings) into a node's typed Params.

A node's ``Params`` is a frozen dataclass. Field types may be ``int``, ``float``, ``bool``,
``str``, ``Literal[...]``, unions of those (``float | Literal["auto"]``), ``X | None`` and
``list[...]``/``tuple[...]`` of them. Range checks live in the dataclass's ``__post_init__``
and raise ``ValueError``; they come out as ``node 'sr': <message>``.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any, Literal

import yaml

from .errors import ConfigError, did_you_mean


def parse_scalar(text: str) -> Any:
    """Parse a command-line value as YAML does (``4`` -> 4, ``true`` -> True, ``auto`` -> 'auto')."""
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def describe_type(tp: Any) -> str:
    """A short human name for an annotation, for help texts and errors."""
    origin = typing.get_origin(tp)
    if origin is Literal:
        return " | ".join(repr(a) if isinstance(a, str) else str(a) for a in typing.get_args(tp))
    if origin in (typing.Union, types.UnionType):
        return " | ".join(describe_type(a) for a in typing.get_args(tp))
    if origin in (list, tuple):
        return f"list of {describe_type(typing.get_args(tp)[0])}"
    if tp is type(None):
        return "null"
    return getattr(tp, "__name__", str(tp))


def _coerce(value: Any, tp: Any) -> Any:
    """Return ``value`` as type ``tp`` or raise TypeError. Only lossless conversions are made."""
    origin = typing.get_origin(tp)
    if origin is Literal:
        choices = typing.get_args(tp)
        if value in choices and not (isinstance(value, bool) and True not in choices):
            return value
        if isinstance(value, bool):
            # YAML 1.1 reads an unquoted on/off/yes/no as a boolean: `mode: on` means the word
            for word in (("on", "yes", "true") if value else ("off", "no", "false")):
                if word in choices:
                    return word
        raise TypeError(f"must be one of {', '.join(map(str, choices))}")
    if origin in (typing.Union, types.UnionType):
        for option in typing.get_args(tp):
            try:
                return _coerce(value, option)
            except TypeError:
                continue
        raise TypeError(f"must be {describe_type(tp)}")
    if origin in (list, tuple):
        if isinstance(value, (str, int, float)):  # a lone value where a list is expected
            value = [value]
        if not isinstance(value, (list, tuple)):
            raise TypeError(f"must be {describe_type(tp)}")
        item = typing.get_args(tp)[0]
        return tuple(_coerce(v, item) for v in value)
    if tp is type(None):
        if value is None:
            return None
        raise TypeError("must be null")
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise TypeError("must be true or false")
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise TypeError("must be an integer")
    if tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        raise TypeError("must be a number")
    if tp is str:
        if isinstance(value, str):
            return value
        raise TypeError("must be a string")
    raise TypeError(f"has an unsupported type {tp!r}")


def param_fields(params_cls: type) -> list[tuple[dataclasses.Field, Any]]:
    """The dataclass fields of a Params class with their resolved annotations."""
    hints = typing.get_type_hints(params_cls)
    return [(f, hints[f.name]) for f in dataclasses.fields(params_cls)]


def build_params(params_cls: type, values: dict[str, Any], where: str) -> Any:
    """Validate ``values`` against ``params_cls`` and construct it.

    ``where`` prefixes every message (``node 'sr'``). Unknown keys, ill-typed values and the
    dataclass's own range checks become :class:`ConfigError`.
    """
    known = {f.name: tp for f, tp in param_fields(params_cls)}
    typed = {}
    for key, value in values.items():
        if key not in known:
            hint = did_you_mean(key, known) or (
                f" (it takes {', '.join(known)})" if known else " (it takes no params)"
            )
            raise ConfigError(f"{where}: unknown param '{key}'{hint}")
        try:
            typed[key] = _coerce(value, known[key])
        except TypeError as exc:
            raise ConfigError(f"{where}: {key} {exc} (got {value!r})") from None
    try:
        return params_cls(**typed)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"{where}: {exc}") from None
