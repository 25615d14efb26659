"""YAML loading that remembers where every key stood, so errors can name the line.

PyYAML's composer already tracks positions; this turns its node tree into plain Python values
whose mappings are :class:`LineDict` objects that also know the line of each key.
"""

from __future__ import annotations

from typing import Any

import yaml

from .errors import ConfigError


class LineDict(dict):
    """A dict that also knows its own line and the line of each key (1-based)."""

    line: int = 0
    key_lines: dict

    def line_of(self, key: Any) -> int:
        return self.key_lines.get(key, self.line)


def _construct(node: yaml.Node, loader: yaml.SafeLoader) -> Any:
    if isinstance(node, yaml.MappingNode):
        out = LineDict()
        out.line = node.start_mark.line + 1
        out.key_lines = {}
        for key_node, value_node in node.value:
            key = _construct(key_node, loader)
            if key in out:
                raise ConfigError(f"line {key_node.start_mark.line + 1}: duplicate key '{key}'")
            out[key] = _construct(value_node, loader)
            out.key_lines[key] = key_node.start_mark.line + 1
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_construct(v, loader) for v in node.value]
    return loader.construct_object(node, deep=True)


def load_yaml(text: str, name: str = "<graph>") -> Any:
    """Parse one YAML document; a syntax error becomes one ConfigError line with its position."""
    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
        return None if root is None else _construct(root, loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{name}: line {mark.line + 1}, column {mark.column + 1}" if mark else name
        raise ConfigError(f"{where}: YAML syntax error: {exc.problem or exc.context}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{name}: YAML error: {exc}") from None
    finally:
        loader.dispose()
