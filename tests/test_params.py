"""Params: typed, validated node parameters from YAML values and ``--set`` strings."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Literal

import pytest

from vproc.errors import ConfigError
from vproc.node import NoParams
from vproc.params import build_params, describe_type, param_fields, parse_scalar


@dataclass(frozen=True)
class P:
    count: int = 1
    gain: float = 1.0
    enabled: bool = False
    label: str = "x"
    mode: Literal["fast", "good"] = "fast"
    strength: float | Literal["auto"] = "auto"
    limit: int | None = None
    sizes: tuple[int, ...] = field(default=(), metadata={"help": "sizes"})

    def __post_init__(self):
        if self.count < 0:
            raise ValueError(f"count must be >= 0 (got {self.count})")


def build(**values):
    return build_params(P, values, "node 'n'")


def test_defaults_and_typed_values():
    assert build() == P()
    p = build(count=3, gain=2, enabled=True, label="y", mode="good", strength=0.5, limit=7, sizes=[1, 2])
    assert p == P(3, 2.0, True, "y", "good", 0.5, 7, (1, 2))
    assert isinstance(p.gain, float)
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.count = 4


@pytest.mark.parametrize("key, value, expected", [
    ("count", 3.0, 3),  # a float that is an integer is lossless
    ("gain", 2, 2.0),
    ("strength", "auto", "auto"),
    ("strength", 1, 1.0),
    ("limit", None, None),
    ("sizes", 4, (4,)),  # a lone value where a list is expected
])
def test_lossless_conversions(key, value, expected):
    got = getattr(build(**{key: value}), key)
    assert got == expected and type(got) is type(expected)


@pytest.mark.parametrize("key, value, words", [
    ("count", 3.5, "count must be an integer (got 3.5)"),
    ("count", True, "count must be an integer"),
    ("count", "3", "count must be an integer (got '3')"),
    ("gain", "big", "gain must be a number (got 'big')"),
    ("gain", False, "gain must be a number"),
    ("enabled", 1, "enabled must be true or false (got 1)"),
    ("label", 5, "label must be a string"),
    ("mode", "best", "mode must be one of fast, good (got 'best')"),
    ("strength", "strong", "strength must be float | 'auto'"),
    ("limit", "none", "limit must be int | null"),
    ("sizes", [1, "a"], "sizes must be"),
    ("sizes", {"a": 1}, "sizes must be list of int"),
])
def test_ill_typed_values_name_the_param(key, value, words):
    with pytest.raises(ConfigError) as info:
        build(**{key: value})
    assert str(info.value).startswith("node 'n': ")
    assert words in str(info.value)


def test_unknown_param_suggests_or_lists():
    with pytest.raises(ConfigError, match=r"node 'n': unknown param 'cout' \(did you mean 'count'\?\)"):
        build(cout=2)
    with pytest.raises(ConfigError, match=r"unknown param 'zzz' \(it takes count, gain, enabled"):
        build(zzz=2)
    with pytest.raises(ConfigError, match=r"unknown param 'x' \(it takes no params\)"):
        build_params(NoParams, {"x": 1}, "node 'n'")


def test_range_checks_of_the_dataclass_become_config_errors():
    with pytest.raises(ConfigError, match=r"^node 'n': count must be >= 0 \(got -1\)$"):
        build(count=-1)


def test_parse_scalar_reads_values_as_yaml_does():
    assert parse_scalar("4") == 4
    assert parse_scalar("0.5") == 0.5
    assert parse_scalar("true") is True
    assert parse_scalar("auto") == "auto"
    assert parse_scalar("null") is None
    assert parse_scalar("[1, 2]") == [1, 2]
    assert parse_scalar("-tune") == "-tune"
    assert parse_scalar("a: b: c") == "a: b: c"  # not YAML: taken as text


def test_describe_type_and_fields():
    names = [(f.name, describe_type(tp)) for f, tp in param_fields(P)]
    assert names == [("count", "int"), ("gain", "float"), ("enabled", "bool"), ("label", "str"),
                     ("mode", "'fast' | 'good'"), ("strength", "float | 'auto'"), ("limit", "int | null"),
                     ("sizes", "list of int")]


def test_yaml_booleans_stand_for_the_words_of_a_choice():
    # YAML 1.1 reads `mode: on` as True; a choice of words means the word.
    @dataclass(frozen=True)
    class P:
        mode: Literal["auto", "on", "off"] = "auto"
        answer: Literal["yes", "no"] = "no"

    assert build_params(P, {"mode": True, "answer": True}, "n") == P("on", "yes")
    assert build_params(P, {"mode": False, "answer": False}, "n") == P("off", "no")
    with pytest.raises(ConfigError):
        build_params(P, {"mode": 3}, "n")
