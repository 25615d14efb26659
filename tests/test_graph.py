"""YAML graphs: the schema, params and wiring passes, overrides, and the messages users read."""

from __future__ import annotations

import textwrap

import pytest

from vproc.errors import ConfigError
from vproc.graph import SOURCE, Graph, OutputOptions, build_graph, load_graph, parse_overrides
from vproc.nodes.convert import ConvertParams
from vproc.nodes.resize import ResizeParams


def graph_text(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


def load(text: str, sets=(), name="g.yaml") -> Graph:
    return load_graph(name, sets, text=graph_text(text))


def error_of(text: str, sets=()) -> str:
    with pytest.raises(ConfigError) as info:
        load(text, sets)
    return str(info.value)


VALID = """
    version: 1
    device: cpu
    nodes:
      gray:  {type: convert, in: small, params: {format: gray}}
      small: {type: resize, in: source, params: {scale: 0.5, interp: area}}
    output: {in: gray, codec: libx264, crf: 20, audio: copy}
"""


# -- valid graphs ---------------------------------------------------------------------------------


def test_valid_graph_loads_in_topological_order():
    g = load(VALID)
    # Written consumer-first; the plan must put every node after its inputs.
    assert list(g.nodes) == ["small", "gray"]
    assert g.nodes["small"].inputs == (SOURCE,)
    assert g.nodes["gray"].inputs == ("small",)
    assert g.nodes["small"].params == ResizeParams(scale=0.5, interp="area")
    assert g.nodes["gray"].params == ConvertParams(format="gray")
    assert g.output_in == "gray"
    assert g.output == OutputOptions(codec="libx264", crf=20.0, audio="copy")
    assert g.device == "cpu"
    assert g.consumers("small") == ["gray"]
    assert g.consumers(SOURCE) == ["small"]


def test_topological_order_of_a_longer_chain_written_backwards():
    g = load("""
        nodes:
          d: {type: convert, in: c, params: {format: yuv420p}}
          c: {type: convert, in: b, params: {format: rgb24}}
          b: {type: resize, in: a, params: {scale: 2}}
          a: {type: resize, in: source, params: {width: 80, height: -1}}
        output: {in: d}
    """)
    assert list(g.nodes) == ["a", "b", "c", "d"]


def test_describe_prints_every_node_and_the_output():
    text = load(VALID).describe()
    assert "small: resize(scale=0.5" in text
    assert "gray: convert(format='gray') <- small" in text
    assert "output <- gray: codec=libx264" in text


def test_graph_without_nodes_goes_from_source_to_output():
    for text in ("version: 1\n", "nodes: {}\noutput: {crf: 23}\n", "output: {in: source}\n"):
        g = load(text)
        assert g.nodes == {}
        assert g.output_in == SOURCE


def test_output_in_defaults_to_the_single_end_and_several_ends_are_refused():
    g = load("""
        nodes:
          a: {type: resize, in: source, params: {scale: 0.5}}
          b: {type: convert, in: a}
    """)
    assert g.output_in == "b"
    msg = error_of("""
        nodes:
          a: {type: resize, in: source, params: {scale: 0.5}}
          b: {type: convert, in: source}
    """)
    assert "several ends" in msg and "a" in msg and "b" in msg


def test_build_graph_from_a_dict_has_no_line_numbers():
    g = build_graph({"nodes": {"r": {"type": "resize", "in": "source", "params": {"scale": 2}}}})
    assert g.nodes["r"].params.scale == 2.0
    with pytest.raises(ConfigError) as info:
        build_graph({"nodes": {"r": {"type": "resize", "in": "source", "params": {"scale": 100}}}}, name="flags")
    assert "line" not in str(info.value)
    assert "node 'r'" in str(info.value)


def test_missing_graph_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_graph(tmp_path / "nope.yaml")


def test_load_graph_reads_a_file(tmp_path):
    path = tmp_path / "g.yaml"
    path.write_text(graph_text(VALID))
    g = load_graph(path, ["small.scale=0.25"])
    assert g.name == str(path)
    assert g.nodes["small"].params.scale == 0.25


# -- schema ---------------------------------------------------------------------------------------


def test_yaml_syntax_error_names_the_line():
    msg = error_of("""
        version: 1
        nodes:
          small: {type: resize, in: source, params: {scale: 0.5}
          gray: {type: convert, in: small}
        output: {in: gray}
    """)
    assert "YAML syntax error" in msg
    assert "g.yaml: line 4" in msg  # the parser notices the unclosed brace on the next line
    assert "\n" not in msg


def test_config_error_is_a_value_error():
    with pytest.raises(ValueError):
        load("nodes: [\n")


def test_unknown_top_level_key_names_key_and_line():
    msg = error_of("""
        version: 1
        nodes: {}
        outputs: {crf: 20}
    """)
    assert "unknown key 'outputs'" in msg
    assert "line 3" in msg
    assert "did you mean 'output'" in msg


def test_unknown_node_key_names_key_node_and_line():
    msg = error_of("""
        version: 1
        nodes:
          small:
            type: resize
            in: source
            parms: {scale: 0.5}
    """)
    assert "unknown key 'parms'" in msg
    assert "node 'small'" in msg
    assert "line 6" in msg
    assert "did you mean 'params'" in msg


def test_duplicate_key_is_refused_with_its_line():
    msg = error_of("""
        nodes:
          a: {type: resize, in: source, params: {scale: 0.5}}
          a: {type: resize, in: source, params: {scale: 2}}
    """)
    assert "duplicate key 'a'" in msg and "line 3" in msg


def test_node_without_type_or_in():
    assert "has no 'type'" in error_of("nodes:\n  a: {in: source}\n")
    assert "has no 'in'" in error_of("nodes:\n  a: {type: resize, params: {scale: 2}}\n")


def test_reserved_and_malformed_node_ids():
    assert "reserved" in error_of("nodes:\n  source: {type: resize, in: source, params: {scale: 2}}\n")
    assert "must be a name" in error_of("nodes:\n  'my node': {type: resize, in: source, params: {scale: 2}}\n")


def test_unsupported_version_and_bad_device():
    assert "unsupported graph version 2" in error_of("version: 2\n")
    msg = error_of("version: 1\ndevice: gpu\n")
    assert "device must be one of auto, cpu, cuda" in msg and "line 2" in msg


def test_unknown_node_type_suggests_the_closest():
    msg = error_of("""
        nodes:
          small: {type: resise, in: source, params: {scale: 0.5}}
    """)
    assert "unknown node type 'resise'" in msg
    assert "did you mean 'resize'" in msg
    assert "node 'small'" in msg and "line 2" in msg


# -- params ---------------------------------------------------------------------------------------


def test_unknown_param_names_node_and_param():
    msg = error_of("""
        nodes:
          small: {type: resize, in: source, params: {scal: 0.5}}
    """)
    assert "node 'small'" in msg
    assert "unknown param 'scal'" in msg
    assert "did you mean 'scale'" in msg
    assert "line 2" in msg


def test_ill_typed_param_names_node_param_and_value():
    msg = error_of("""
        nodes:
          small: {type: resize, in: source, params: {scale: big}}
    """)
    assert "node 'small'" in msg
    assert "scale must be" in msg
    assert "'big'" in msg


def test_literal_param_lists_the_choices():
    msg = error_of("""
        nodes:
          small: {type: resize, in: source, params: {scale: 0.5, interp: cubic}}
    """)
    assert "interp must be one of bicubic, lanczos, area, bilinear, nearest" in msg


def test_range_check_comes_from_the_params_class():
    msg = error_of("""
        nodes:
          small: {type: resize, in: source, params: {scale: 100}}
    """)
    assert "node 'small': scale must be within (0, 16] (got 100" in msg


def test_output_options_are_validated_like_params():
    assert "output: audio must be one of copy, aac, none" in error_of("output: {audio: mp3}\n")
    assert "crf must be within 0..63" in error_of("output: {crf: 99}\n")
    assert "unknown param 'crff'" in error_of("output: {crff: 20}\n")
    assert "give crf or bitrate, not both" in error_of("output: {crf: 20, bitrate: 4M}\n")


# -- wiring ---------------------------------------------------------------------------------------


def test_dangling_input_is_refused_with_a_suggestion():
    msg = error_of("""
        nodes:
          small: {type: resize, in: source, params: {scale: 0.5}}
          gray:  {type: convert, in: smal}
        output: {in: gray}
    """)
    assert "node 'gray' reads from 'smal', which does not exist" in msg
    assert "did you mean 'small'" in msg
    assert "line 3" in msg


def test_dangling_output_input():
    msg = error_of("""
        nodes:
          small: {type: resize, in: source, params: {scale: 0.5}}
        output: {in: big}
    """)
    assert "output reads from 'big', which does not exist" in msg


def test_cycle_is_refused():
    msg = error_of("""
        nodes:
          a: {type: resize, in: b, params: {scale: 0.5}}
          b: {type: resize, in: a, params: {scale: 2}}
        output: {in: b}
    """)
    assert "cycle" in msg
    assert "a" in msg and "b" in msg


def test_self_loop_is_a_cycle():
    assert "cycle" in error_of("nodes:\n  a: {type: convert, in: a}\n")


def test_wrong_input_count():
    msg = error_of("""
        nodes:
          small: {type: resize, in: [source, source], params: {scale: 0.5}}
    """)
    assert "node 'small' (resize) takes 1 input(s), got 2" in msg


def test_in_must_name_nodes():
    assert "'in' must be a node id or a list of them" in error_of("nodes:\n  a: {type: convert, in: 3}\n")


# -- --set overrides --------------------------------------------------------------------------------


def test_overrides_apply_to_nodes_and_output():
    g = load(VALID, ["small.scale=0.25", "small.interp=lanczos", "output.crf=20", "output.preset=veryfast"])
    assert g.nodes["small"].params == ResizeParams(scale=0.25, interp="lanczos")
    assert g.output.crf == 20.0
    assert g.output.preset == "veryfast"


def test_override_values_are_parsed_like_yaml_and_validated():
    assert "node 'small'" in error_of(VALID, ["small.scale=big"])
    assert "scale must be within (0, 16]" in error_of(VALID, ["small.scale=100"])
    assert "unknown param 'zoom'" in error_of(VALID, ["small.zoom=2"])


def test_override_of_a_missing_node_is_refused():
    msg = error_of(VALID, ["smal.scale=2"])
    assert "--set names node 'smal', which is not in the graph" in msg
    assert "did you mean 'small'" in msg


def test_malformed_override():
    for bad in ("scale=2", "small.scale", ".scale=2", "small.=2"):
        with pytest.raises(ConfigError, match="must look like node.param=value"):
            parse_overrides([bad])


def test_parse_overrides_groups_by_node():
    assert parse_overrides(["a.x=1", "a.y=true", "output.crf=20", "b.s=auto"]) == {
        "a": {"x": 1, "y": True}, "output": {"crf": 20}, "b": {"s": "auto"}}
