"""YAML graphs: loading and the three validation passes that run before anything is decoded.

Shape of a graph file (ids are mapping keys, edges are declared on the consumer)::

    version: 1
    device: auto                      # auto | cpu | cuda; a node may override it
    nodes:
      small: {type: resize, in: source, params: {scale: 0.5}}
      gray:  {type: convert, in: small, params: {format: gray}}
    output: {in: gray, codec: libx264, crf: 18, audio: copy}

``source`` names the decoded input video. Passes: **schema** (unknown or missing keys, with the
YAML line), **params** (each node's Params, with ``--set`` overrides applied), **wiring**
(dangling inputs, input counts, cycles). Format and size mismatches are found when the runtime
opens the nodes in order (``vproc check GRAPH -i INPUT`` does that without processing).
(ffmpeg-python's DAG module taught the shape: a small graph model testable without media.)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from . import registry
from .errors import ConfigError, did_you_mean
from .params import build_params, parse_scalar
from .yamlfile import MAX_BYTES, LineDict, load_yaml

SOURCE = "source"
DEVICES = ("auto", "cpu", "cuda")


@dataclass(frozen=True)
class OutputOptions:
    """How the output is encoded; the ``output:`` block of a graph, also set by CLI flags."""

    codec: str | None = field(default=None, metadata={"help": "FFmpeg video encoder (default: the container's: libx264 for mp4/mov/mkv/ts, libvpx-vp9 for webm, ffv1 for nut, raw frames for y4m, the image codec for image files)"})
    crf: float | None = field(default=None, metadata={"help": "constant quality (x264/x265: 0-51; default 18 when no bitrate)"})
    bitrate: str | None = field(default=None, metadata={"help": "target video bitrate, e.g. 4M (instead of crf)"})
    preset: str | None = field(default=None, metadata={"help": "encoder preset (x264: ultrafast ... veryslow)"})
    pix_fmt: str | None = field(default=None, metadata={"help": "pixel format of the encoded video (default: the source's bit depth and chroma, as ffmpeg picks them for the encoder)"})
    audio: Literal["copy", "aac", "none"] = field(default="copy", metadata={"help": "copy audio (re-encoded to AAC only where the container refuses it), re-encode, or drop"})
    subtitles: Literal["copy", "none"] = field(default="copy", metadata={"help": "keep or drop subtitle streams"})
    format: str | None = field(default=None, metadata={"help": "container format (default: from the output name)"})
    args: tuple[str, ...] = field(default=(), metadata={"help": "extra FFmpeg output arguments, e.g. [-tune, film]"})
    skeleton: str | None = field(default=None, metadata={"help": "sidecar JSON Lines file, one line per frame with the pose node's people and the skeleton node's polylines; a relative path is taken from the output video's folder; {stem} stands for the video's name without extension"})

    def __post_init__(self):
        if self.crf is not None and self.bitrate is not None:
            raise ValueError("give crf or bitrate, not both")
        if self.crf is not None and not 0 <= self.crf <= 63:
            raise ValueError(f"crf must be within 0..63 (got {self.crf})")


@dataclass(frozen=True)
class NodeSpec:
    """One node of a graph as written: id, kind, inputs, typed params, device, YAML line."""

    id: str
    type: str
    inputs: tuple[str, ...]
    params: Any
    device: str | None = None
    line: int = 0


@dataclass
class Graph:
    """A validated graph: nodes in topological order, the node feeding the output, options."""

    nodes: dict[str, NodeSpec]
    output_in: str
    output: OutputOptions = field(default_factory=OutputOptions)
    device: str = "auto"
    name: str = "<graph>"

    def reads_meta(self) -> frozenset[str]:
        """The decoder side information (Frame.meta keys) the graph's nodes read (Node.reads_meta)."""
        from . import registry

        return frozenset(key for n in self.nodes.values() for key in registry.get(n.type).reads_meta)

    def consumers(self, node_id: str) -> list[str]:
        """Ids of the nodes that take ``node_id`` as an input (in graph order)."""
        return [n.id for n in self.nodes.values() if node_id in n.inputs]

    def describe(self, inserted=()) -> str:
        """The plan as text, one line per node, for ``vproc check``. ``inserted``: the
        conversions format negotiation added when the nodes were opened on an input
        (:attr:`vproc.runtime.Runtime.inserted`), each listed before the first node it feeds,
        which is shown reading from it."""
        lines = [f"graph {self.name}: device {self.device}, {len(self.nodes)} node(s)"
                 + (f" + {len(inserted)} inserted conversion(s)" if inserted else "")]
        shown: set[str] = set()
        for n in self.nodes.values():
            ins = list(n.inputs)
            for conv in inserted:
                for node_id, port in conv.feeds:
                    if node_id == n.id:
                        ins[port] = conv.id
                        if conv.id not in shown:
                            shown.add(conv.id)
                            lines.append(conv.plan_line())
            params = ", ".join(f"{k}={v!r}" for k, v in vars(n.params).items())
            dev = f" [{n.device}]" if n.device else ""
            lines.append(f"  {n.id}: {n.type}({params}) <- {', '.join(ins)}{dev}")
        o = self.output
        lines.append(f"  output <- {self.output_in}: codec={o.codec or 'auto'} audio={o.audio}")
        return "\n".join(lines)


_TOP_KEYS = {"version", "device", "nodes", "output"}
_NODE_KEYS = {"type", "in", "params", "device"}


def _check_keys(mapping: LineDict, allowed: set[str], where: str, name: str) -> None:
    for key in mapping:
        if key not in allowed:
            raise ConfigError(
                f"{_at(name, mapping.line_of(key))}: unknown key '{key}' in {where}"
                f"{did_you_mean(str(key), allowed) or ' (allowed: ' + ', '.join(sorted(allowed)) + ')'}"
            )


def _at(name: str, line: int) -> str:
    """Where an error is: ``graph.yaml: line 7``, or just the name for graphs built in code."""
    return f"{name}: line {line}" if line else name


def _as_mapping(value: Any, where: str, name: str, line: int) -> LineDict:
    """``value`` as a LineDict (plain dicts from code get line 0, i.e. no line in messages)."""
    if value is None:  # an empty YAML block: it stands on its key's line
        value = LineDict()
        value.line, value.key_lines = line, {}
    if not isinstance(value, dict):
        raise ConfigError(f"{_at(name, line)}: {where} must be a mapping (got {type(value).__name__})")
    if not isinstance(value, LineDict):
        value = LineDict(value)
        value.line, value.key_lines = 0, {}
    return value


def parse_overrides(sets: list[str] | tuple[str, ...]) -> dict[str, dict[str, Any]]:
    """``["sr.scale=4", "output.crf=20"]`` -> ``{"sr": {"scale": 4}, "output": {"crf": 20}}``."""
    out: dict[str, dict[str, Any]] = {}
    for item in sets:
        target, eq, value = item.partition("=")
        node_id, dot, param = target.partition(".")
        if not eq or not dot or not node_id or not param:
            raise ConfigError(f"--set '{item}' must look like node.param=value")
        out.setdefault(node_id.strip(), {})[param.strip()] = parse_scalar(value.strip())
    return out


def load_graph(source: str | Path, overrides: list[str] | tuple[str, ...] = (), *, text: str | None = None) -> Graph:
    """Load and validate a graph from a YAML file (or from ``text``), applying ``--set`` overrides."""
    name = str(source)
    if text is None:
        path = Path(source)
        if not path.is_file():
            raise ConfigError(f"graph file '{source}' does not exist")
        try:  # untrusted: bounded before it is read (vproc.yamlfile), one line when it cannot be
            size = path.stat().st_size
            if size > MAX_BYTES:
                raise ConfigError(f"graph file '{source}' is {size} bytes, more than a graph file may hold ({MAX_BYTES // 1024} KiB)")
            with path.open("rb") as f:
                text = f.read(MAX_BYTES + 1).decode("utf-8")
        except UnicodeDecodeError:
            raise ConfigError(f"graph file '{source}' is not UTF-8 text (is it a YAML file?)") from None
        except OSError as exc:
            raise ConfigError(f"graph file '{source}' cannot be read: {exc.strerror or exc}") from None
    doc = load_yaml(text, name)
    return build_graph(doc, parse_overrides(overrides), name)


def build_graph(doc: Any, overrides: dict[str, dict[str, Any]] | None = None, name: str = "<graph>") -> Graph:
    """Run the three passes over a parsed YAML document (a dict) and return the Graph."""
    overrides = dict(overrides or {})
    top = _as_mapping(doc, "the graph", name, 1)
    # -- pass 1: schema -------------------------------------------------------------------
    _check_keys(top, _TOP_KEYS, "the graph", name)
    version = top.get("version", 1)
    if version != 1:
        raise ConfigError(f"{_at(name, top.line_of('version'))}: unsupported graph version {version!r} (this vproc reads version 1)")
    device = top.get("device", "auto")
    if device not in DEVICES:
        raise ConfigError(f"{_at(name, top.line_of('device'))}: device must be one of {', '.join(DEVICES)} (got {device!r})")
    raw_nodes = _as_mapping(top.get("nodes"), "nodes", name, top.line_of("nodes"))
    raw_out = _as_mapping(top.get("output"), "output", name, top.line_of("output"))

    specs: dict[str, tuple[LineDict, int]] = {}
    for node_id, body in raw_nodes.items():
        line = raw_nodes.line_of(node_id)
        if not isinstance(node_id, str) or not node_id.isidentifier():
            raise ConfigError(f"{_at(name, line)}: node id {node_id!r} must be a name (letters, digits, _)")
        if node_id in (SOURCE, "output"):
            raise ConfigError(f"{_at(name, line)}: '{node_id}' is reserved and cannot name a node")
        body = _as_mapping(body, f"node '{node_id}'", name, line)
        _check_keys(body, _NODE_KEYS, f"node '{node_id}'", name)
        for required in ("type", "in"):
            if required not in body:
                raise ConfigError(f"{_at(name, line)}: node '{node_id}' has no '{required}'")
        specs[node_id] = (body, line)

    # -- pass 2: params (overrides first, so they are validated like the file) -----------
    nodes: dict[str, NodeSpec] = {}
    for node_id, (body, line) in specs.items():
        if not isinstance(body["type"], str):
            raise ConfigError(f"{_at(name, body.line_of('type'))}: node '{node_id}': type must be a string")
        try:
            cls = registry.get(body["type"])
        except ConfigError as exc:  # say which node asked for it, and where
            raise ConfigError(f"{_at(name, body.line_of('type'))}: node '{node_id}': {exc}") from None
        values = dict(_as_mapping(body.get("params"), f"params of node '{node_id}'", name, line))
        values.update(overrides.pop(node_id, {}))
        node_device = values.pop("device", body.get("device"))
        if node_device is not None and node_device not in DEVICES:
            raise ConfigError(f"{_at(name, line)}: node '{node_id}': device must be one of {', '.join(DEVICES)} (got {node_device!r})")
        try:
            params = build_params(cls.Params, values, f"node '{node_id}'")
        except ConfigError as exc:
            raise ConfigError(f"{_at(name, line)}: {exc}") from None
        ins = body["in"]
        inputs = tuple(ins) if isinstance(ins, list) else (ins,)
        if not inputs or not all(isinstance(i, str) for i in inputs):
            raise ConfigError(f"{_at(name, body.line_of('in'))}: node '{node_id}': 'in' must be a node id or a list of them")
        nodes[node_id] = NodeSpec(node_id, body["type"], inputs, params, node_device, line)

    out_values = {k: v for k, v in raw_out.items() if k != "in"}
    out_values.update(overrides.pop("output", {}))
    if overrides:
        unknown = next(iter(overrides))
        raise ConfigError(f"--set names node '{unknown}', which is not in the graph{did_you_mean(unknown, nodes)}")
    try:
        output = build_params(OutputOptions, out_values, "output")
    except ConfigError as exc:
        raise ConfigError(f"{_at(name, raw_out.line)}: {exc}") from None

    # -- pass 3: wiring ---------------------------------------------------------------------
    known = set(nodes) | {SOURCE}
    for n in nodes.values():
        for i in n.inputs:
            if i not in known:
                raise ConfigError(f"{_at(name, n.line)}: node '{n.id}' reads from '{i}', which does not exist{did_you_mean(i, known)}")
        arity = registry.get(n.type).inputs
        if arity != -1 and len(n.inputs) != arity:
            raise ConfigError(f"{_at(name, n.line)}: node '{n.id}' ({n.type}) takes {arity} input(s), got {len(n.inputs)}")
    output_in = raw_out.get("in")
    if output_in is None:
        leaves = [i for i in nodes if not any(i in m.inputs for m in nodes.values())]
        if len(leaves) > 1:
            raise ConfigError(f"{name}: output has no 'in' and the graph has several ends ({', '.join(leaves)}); name one")
        output_in = leaves[0] if leaves else SOURCE
    if output_in not in known:
        raise ConfigError(f"{_at(name, raw_out.line_of('in'))}: output reads from '{output_in}', which does not exist{did_you_mean(str(output_in), known)}")
    if output.skeleton is not None and not any(registry.get(n.type).sidecar_keys for n in nodes.values()):
        raise ConfigError(f"{_at(name, raw_out.line_of('skeleton'))}: output.skeleton asks for a sidecar, "
                          "but no node of the graph writes one (pose, or skeleton with polylines)")
    order = _topological_order(nodes, name)
    return Graph({i: nodes[i] for i in order}, output_in, output, device, name)


def _topological_order(nodes: dict[str, NodeSpec], name: str) -> list[str]:
    """Node ids in an order where every node follows its inputs; a cycle is a ConfigError."""
    order: list[str] = []
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done

    def visit(node_id: str, path: list[str]) -> None:
        if node_id == SOURCE or state.get(node_id) == 2:
            return
        if state.get(node_id) == 1:
            cycle = path[path.index(node_id):] + [node_id]
            raise ConfigError(f"{_at(name, nodes[node_id].line)}: graph has a cycle: {' <- '.join(cycle)}")
        state[node_id] = 1
        for i in nodes[node_id].inputs:
            visit(i, path + [node_id])
        state[node_id] = 2
        order.append(node_id)

    for node_id in nodes:
        visit(node_id, [])
    return order
