"""YAML loading that remembers where every key stood, so errors can name the line.

PyYAML's composer already tracks positions; this turns its node tree into plain Python values
whose mappings are :class:`LineDict` objects that also know the line of each key.

Graph files may come from anyone, so loading is bounded: nothing in them can run code (PyYAML's
safe loader, and every tag other than the plain YAML ones is refused), a file is at most
:data:`MAX_BYTES`, nesting at most :data:`MAX_DEPTH` levels, and the document at most
:data:`MAX_VALUES` values once its aliases are expanded. Aliases are shared nodes in the
composer's tree, so a "billion laughs" bomb is small there and explodes only when it is turned
into Python values: it is measured on the tree first, with each shared node counted once, and
refused before anything is built. Every refusal is one :class:`ConfigError` line.
"""

from __future__ import annotations

from typing import Any

import yaml

from .errors import ConfigError

MAX_BYTES = 1 << 20  # a graph file is a few hundred bytes; 1 MiB is far beyond any real one
MAX_DEPTH = 64  # levels of mappings and lists, aliases expanded
MAX_VALUES = 10_000  # values (scalars, mappings, lists) in the document, aliases expanded

_YAML = "tag:yaml.org,2002:"
_MAP, _SEQ, _MERGE = _YAML + "map", _YAML + "seq", _YAML + "merge"
# The tags of plain values (what PyYAML's safe loader resolves untagged scalars to, and the same
# written out as !!str etc.). Every other tag is refused, !!python/... among them.
_SCALAR_TAGS = {_YAML + t for t in ("null", "bool", "int", "float", "str", "timestamp", "binary")} | {_MERGE}


class LineDict(dict):
    """A dict that also knows its own line and the line of each key (1-based)."""

    line: int = 0
    key_lines: dict

    def line_of(self, key: Any) -> int:
        return self.key_lines.get(key, self.line)


class _BoundedLoader(yaml.SafeLoader):
    """PyYAML's safe loader whose composer refuses nesting deeper than :data:`MAX_DEPTH` (its
    composer recurses once per level: 5,000 levels would end in a RecursionError) and more than
    :data:`MAX_VALUES` nodes (pure-Python parsing runs at some 40,000 values a second: a 1 MiB
    list would take seconds and hundreds of MB before the expanded count below refused it)."""

    def __init__(self, text: str, name: str):
        super().__init__(text)
        self.graph_name = name
        self._depth = 0
        self._nodes = 0

    def compose_node(self, parent, index):
        if self._depth >= MAX_DEPTH:
            raise ConfigError(f"{_where(self.graph_name, self.peek_event().start_mark)}: nested deeper than "
                              f"{MAX_DEPTH} levels (a graph is a few levels deep)")
        self._nodes += 1
        if self._nodes > MAX_VALUES:
            raise ConfigError(f"{_where(self.graph_name, self.peek_event().start_mark)}: {_TOO_MANY}")
        self._depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


_TOO_MANY = (f"the document holds more than {MAX_VALUES} values, aliases expanded (a graph holds a few "
             "dozen; is it a YAML alias bomb?)")


def _where(name: str, mark) -> str:
    return f"{name}: line {mark.line + 1}" if mark is not None else name


def _tag_name(tag: str) -> str:
    return "!!" + tag[len(_YAML):] if tag.startswith(_YAML) else tag


def _measure(root: yaml.Node, name: str) -> None:
    """Refuse a tree that, aliases expanded, is deeper than MAX_DEPTH or holds more than
    MAX_VALUES values, an alias inside the node it names, or a tag that is not a plain value's.
    Shared (aliased) nodes are measured once, so this is linear in the file's size."""
    memo: dict[int, tuple[int, int]] = {}  # id(node) -> (values, height) of its expansion
    active: set[int] = set()

    def visit(node: yaml.Node, depth: int) -> tuple[int, int]:
        key = id(node)
        if key in memo:  # an alias of a node already measured
            values, height = memo[key]
        elif key in active:
            raise ConfigError(f"{_where(name, node.start_mark)}: an alias refers to the mapping or list it is in")
        else:
            if isinstance(node, yaml.MappingNode):
                ok, children = node.tag == _MAP, [n for pair in node.value for n in pair]
            elif isinstance(node, yaml.SequenceNode):
                ok, children = node.tag == _SEQ, node.value
            else:
                ok, children = node.tag in _SCALAR_TAGS, []
            if not ok:
                raise ConfigError(f"{_where(name, node.start_mark)}: the tag '{_tag_name(node.tag)}' is not allowed in a "
                                  "graph file (it holds plain values only: mappings, lists, strings, numbers, "
                                  "booleans, null)")
            values, height = 1, 0
            active.add(key)
            for child in children:
                v, h = visit(child, depth + 1)
                values += v
                height = max(height, h + 1)
                if values > MAX_VALUES:
                    raise ConfigError(f"{_where(name, node.start_mark)}: {_TOO_MANY}")
            active.discard(key)
            memo[key] = (values, height)
        if depth + height > MAX_DEPTH:
            raise ConfigError(f"{_where(name, node.start_mark)}: nested deeper than {MAX_DEPTH} levels once its "
                              "aliases are expanded (a graph is a few levels deep)")
        return values, height

    visit(root, 1)


def _construct(node: yaml.Node, loader: yaml.SafeLoader, name: str) -> Any:
    if isinstance(node, yaml.MappingNode):
        out = LineDict()
        out.line = node.start_mark.line + 1
        out.key_lines = {}
        merged: list[LineDict] = []
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE:  # "<<: *defaults": the named mapping's keys, unless given here
                sources = value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node]
                for source in sources:
                    if not isinstance(source, yaml.MappingNode):
                        raise ConfigError(f"{_where(name, source.start_mark)}: '<<' merges mappings only")
                    merged.append(_construct(source, loader, name))
                continue
            key = _construct(key_node, loader, name)
            if isinstance(key, (dict, list)):
                raise ConfigError(f"{_where(name, key_node.start_mark)}: a key must be a plain value, not a "
                                  f"{'mapping' if isinstance(key, dict) else 'list'}")
            if key in out:
                raise ConfigError(f"line {key_node.start_mark.line + 1}: duplicate key '{key}'")
            out[key] = _construct(value_node, loader, name)
            out.key_lines[key] = key_node.start_mark.line + 1
        for source in merged:  # the first merged mapping wins over later ones, as YAML says
            for key, value in source.items():
                if key not in out:
                    out[key] = value
                    out.key_lines[key] = source.line_of(key)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_construct(v, loader, name) for v in node.value]
    return loader.construct_object(node, deep=True)


def load_yaml(text: str, name: str = "<graph>") -> Any:
    """Parse one YAML document; a syntax error or a refused document (module docstring) becomes
    one ConfigError line with its position."""
    if len(text) > MAX_BYTES:
        raise ConfigError(f"{name}: {len(text)} characters is more than a graph file may hold ({MAX_BYTES // 1024} KiB)")
    loader = _BoundedLoader(text, name)
    try:
        root = loader.get_single_node()
        if root is None:
            return None
        _measure(root, name)
        return _construct(root, loader, name)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{name}: line {mark.line + 1}, column {mark.column + 1}" if mark else name
        raise ConfigError(f"{where}: YAML syntax error: {exc.problem or exc.context}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{name}: YAML error: {exc}") from None
    except RecursionError:  # not expected past the bounds above; still one line, not a traceback
        raise ConfigError(f"{name}: nested too deeply") from None
    finally:
        loader.dispose()
