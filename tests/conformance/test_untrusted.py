"""Untrusted graph files and the files the command writes (issue 15, part 8).

A graph file may come from anyone: an alias bomb, deep nesting, a huge file or a tag that would
build Python objects are each refused at once with one ``ConfigError`` line (the command: one
``vproc: error:`` line, exit 2); nothing in a graph runs code. Every other file the command
writes (``eval --json``, sidecars, trained weights) is checked before the work, with one line.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from vproc.errors import ConfigError
from vproc.graph import load_graph
from vproc.yamlfile import MAX_BYTES, MAX_DEPTH, MAX_VALUES, load_yaml

from .. import media

# Nine levels of nine aliases: 9**9 (387 million) strings once expanded, 600 bytes as text.
BOMB = "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
    f"{b}: &{b} [{', '.join(['*' + a] * 9)}]\n" for a, b in zip("abcdefgh", "bcdefghi"))


def assert_one_line(exc: pytest.ExceptionInfo, *words: str) -> str:
    msg = str(exc.value)
    assert "\n" not in msg, msg
    for word in words:
        assert word in msg, (word, msg)
    return msg


def assert_command_error(result, *words: str) -> str:
    assert result.returncode == 2, (result.returncode, result.stderr[-3000:])
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr[-3000:]
    assert lines[0].startswith("vproc: error: "), lines[0]
    for word in words:
        assert word in lines[0], (word, lines[0])
    return lines[0]


# -- aliases, depth, size --------------------------------------------------------------------------


def test_alias_bomb_is_refused_at_once():
    t0 = time.perf_counter()
    with pytest.raises(ConfigError) as info:
        load_yaml(BOMB, "bomb.yaml")
    assert time.perf_counter() - t0 < 0.5
    assert_one_line(info, "bomb.yaml: line", f"more than {MAX_VALUES} values", "alias")


def test_aliases_within_bounds_still_work():
    doc = load_yaml("a: &x [1, 2]\nb: *x\nc: [*x, *x]\n")
    assert doc == {"a": [1, 2], "b": [1, 2], "c": [[1, 2], [1, 2]]}
    assert doc["b"] is not doc["a"]  # each use is its own value


def test_merge_keys_take_the_named_mapping():
    doc = load_yaml("base: &b {type: resize, in: source}\nsmall:\n  <<: *b\n  in: other\n")
    assert doc["small"] == {"in": "other", "type": "resize"}
    assert doc["small"].line_of("in") == 4 and doc["small"].line_of("type") == 1


def test_an_alias_inside_what_it_names_is_refused():
    with pytest.raises(ConfigError) as info:
        load_yaml("a: &a [1, *a]\n", "g.yaml")
    assert_one_line(info, "g.yaml: line 1", "alias")


@pytest.mark.parametrize("text", [
    "[" * 5000 + "]" * 5000,  # flow lists
    "{a: " * 5000 + "1" + "}" * 5000,  # flow mappings
    "- " * 5000 + "x\n",  # block lists
    "".join("  " * i + f"k{i}:\n" for i in range(200)) + "  " * 200 + "x\n",  # block mappings
])
def test_deep_nesting_is_one_line(text):
    t0 = time.perf_counter()
    with pytest.raises(ConfigError) as info:
        load_yaml(text, "deep.yaml")
    assert time.perf_counter() - t0 < 1
    assert_one_line(info, "deep.yaml: line", f"deeper than {MAX_DEPTH} levels")


def test_depth_counts_what_aliases_repeat():
    # Each anchor nests the one before 40 levels deeper: 3 levels of them are 120 deep.
    text = "a0: &a0 1\n" + "".join(f"a{i}: &a{i} {'[' * 40}*a{i - 1}{']' * 40}\n" for i in range(1, 4))
    with pytest.raises(ConfigError) as info:
        load_yaml(text, "g.yaml")
    assert_one_line(info, f"deeper than {MAX_DEPTH} levels", "aliases")


def test_many_values_are_refused_before_they_are_all_read():
    t0 = time.perf_counter()
    with pytest.raises(ConfigError) as info:
        load_yaml("[" + ",".join(["1"] * 300_000) + "]", "wide.yaml")
    assert time.perf_counter() - t0 < 2
    assert_one_line(info, f"more than {MAX_VALUES} values")


def test_a_file_over_the_limit_is_refused_unread(tmp_path):
    path = tmp_path / "big.yaml"
    path.write_text("# " + "x" * MAX_BYTES + "\nversion: 1\n")
    with pytest.raises(ConfigError) as info:
        load_graph(path)
    assert_one_line(info, "big.yaml", "more than a graph file may hold")
    with pytest.raises(ConfigError):
        load_graph("text", text="#" * (MAX_BYTES + 1))


def test_a_binary_file_is_one_line(tmp_path):
    path = tmp_path / "g.yaml"
    path.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(ConfigError) as info:
        load_graph(path)
    assert_one_line(info, "not UTF-8")


def test_a_list_as_key_is_one_line():
    with pytest.raises(ConfigError) as info:
        load_yaml("? [a, b]\n: 1\n", "g.yaml")
    assert_one_line(info, "g.yaml: line 1", "key")


# -- no code ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [
    '!!python/object/apply:os.system ["touch {flag}"]',
    "!!python/object/apply:os.system\n  args: ['touch {flag}']",
    "!!python/object/new:os.system ['touch {flag}']",
    "!!python/name:os.system",
    "!!python/object:argparse.Namespace {{a: 1}}",
    "!!set {{a, b}}",
    "!custom 1",
])
def test_tags_that_build_objects_are_refused(value, tmp_path):
    flag = tmp_path / "ran"
    text = "version: 1\nnodes:\n  x: " + value.format(flag=flag) + "\n"
    with pytest.raises(ConfigError) as info:
        load_graph("g.yaml", text=text)
    assert_one_line(info, "g.yaml: line 3", "is not allowed in a graph file")
    assert not flag.exists()


def test_plain_tags_are_values():
    assert load_yaml("a: !!str 1\nb: !!int '2'\nc: !!float 3\n") == {"a": "1", "b": 2, "c": 3.0}


# -- through the command ---------------------------------------------------------------------------


@pytest.mark.parametrize("name, text, words", [
    ("bomb.yaml", BOMB, ["bomb.yaml: line", "values"]),
    ("deep.yaml", "[" * 5000 + "]" * 5000, ["deep.yaml: line 1", "deeper than"]),
    ("code.yaml", "nodes: !!python/object/apply:os.system ['echo hi']\n", ["!!python/object/apply:os.system"]),
])
def test_check_refuses_in_one_line(name, text, words, tmp_path):
    path = tmp_path / name
    path.write_text(text)
    t0 = time.monotonic()
    result = media.run_vproc("check", path, timeout=30)
    assert time.monotonic() - t0 < 15
    assert_command_error(result, *words)
    assert "hi" not in result.stdout


# -- the other files the command writes ------------------------------------------------------------


def test_eval_json_into_a_missing_folder(clip_mp4, tmp_path):
    result = media.run_vproc("eval", clip_mp4, clip_mp4, "--json", tmp_path / "missing" / "x.json", timeout=60)
    assert_command_error(result, "cannot write metrics file", "does not exist")


def test_eval_json_onto_a_folder(clip_mp4, tmp_path):
    result = media.run_vproc("eval", clip_mp4, clip_mp4, "--json", tmp_path, timeout=60)
    assert_command_error(result, "cannot write metrics file", "is a folder")


def test_eval_json_is_written(clip_mp4, tmp_path):
    out = tmp_path / "m.json"
    result = media.run_vproc("eval", clip_mp4, clip_mp4, "--json", out, timeout=120)
    assert result.returncode == 0, result.stderr
    assert '"mean"' in out.read_text()


def test_pose_sidecar_into_a_missing_folder(clip_mp4, tmp_path):
    result = media.run_vproc("transcode", clip_mp4, tmp_path / "out.mp4", "--pose-out", tmp_path / "missing" / "x.jsonl",
                             timeout=60)
    assert_command_error(result, "cannot write sidecar", "does not exist")
    assert sorted(p.name for p in tmp_path.iterdir()) == []


@pytest.mark.parametrize("command", [["train", "vsr", "--scale", "2"], ["train", "lowlight"]])
def test_training_out_that_cannot_be_written_fails_before_training(command, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    t0 = time.monotonic()
    result = media.run_vproc(*command, "--steps", "1", "--no-eval", "--out", blocker / "w.pt", timeout=120)
    assert_command_error(result, "cannot write weights file", "is not a folder")
    assert "step" not in result.stderr
    assert time.monotonic() - t0 < 60


def test_check_writable_creates_a_missing_folder_when_asked(tmp_path):
    from vproc.io.target import check_writable

    path = check_writable(tmp_path / "a" / "b" / "w.pt", "weights file", make_folder=True)
    assert path.parent.is_dir()
    assert isinstance(path, Path)
