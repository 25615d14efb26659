"""The sidecar (output.skeleton): one JSON line per frame, written beside the video only when the
run succeeds; its coordinates follow resize; a graph without a node that fills it is refused."""

from __future__ import annotations

import json
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from vproc.errors import ConfigError, MediaError
from vproc.frame import Frame
from vproc.geometry import Polylines
from vproc.graph import build_graph
from vproc.io.sidecar import SidecarWriter
from vproc.node import Node
from vproc.pipeline import run
from vproc.pose.people import People, Person
from vproc.registry import register

from .. import media

TB = Fraction(1, 50)


def frame(pts, people=True):
    kp = np.array([[10.25, 20.5, 0.75]], np.float32)
    meta = {"tag": "not serialised", "skeleton": Polylines([[[1, 2], [3, 4.5]]])}
    if people:
        meta["people"] = People((Person(3, (1, 2, 30, 40), 0.9, kp),), ("nose",))
    return Frame(np.zeros((8, 12), np.uint8), pts, TB, "gray", meta=meta)


def test_one_line_per_frame(tmp_path: Path):
    path = tmp_path / "out.jsonl"
    w = SidecarWriter(path)
    w.open()
    for pts in (0, 2, 5):
        w.write(frame(pts, people=pts != 2))
    assert not path.exists()  # only moved into place on close
    w.close()
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [line["pts"] for line in lines] == [0, 2, 5]
    assert [line["frame"] for line in lines] == [0, 1, 2]
    assert lines[2]["time"] == pytest.approx(0.1)
    assert lines[0]["size"] == [12, 8]
    assert lines[0]["people"] == [{"id": 3, "box": [1.0, 2.0, 30.0, 40.0], "score": 0.9,
                                   "keypoints": [[10.25, 20.5, 0.75]]}]
    assert "people" not in lines[1] and "tag" not in lines[0]
    assert lines[0]["skeleton"] == [[[1.0, 2.0], [3.0, 4.5]]]
    assert [p.name for p in tmp_path.iterdir()] == ["out.jsonl"]


def test_abort_leaves_nothing(tmp_path: Path):
    w = SidecarWriter(tmp_path / "out.jsonl")
    w.open()
    w.write(frame(0))
    w.abort()
    assert list(tmp_path.iterdir()) == []


def test_missing_folder_fails_before_decoding(tmp_path: Path):
    with pytest.raises(MediaError, match="folder .* does not exist"):
        SidecarWriter(tmp_path / "no" / "out.jsonl")


def test_graph_without_a_sidecar_node_refused():
    doc = {"nodes": {"r": {"type": "resize", "in": "source", "params": {"scale": 0.5}}},
           "output": {"skeleton": "out.jsonl"}}
    with pytest.raises(ConfigError, match="output.skeleton .* no node of the graph writes one"):
        build_graph(doc)


@dataclass(frozen=True)
class _MarksParams:
    fail: bool = False


class _Marks(Node):
    """Puts people into meta, and fails at frame 3 when told to: a run that dies mid-stream."""

    Params = _MarksParams
    sidecar_keys = ("people",)

    def open(self, info):
        self._count = 0
        return info

    def process(self, frame):
        if self.params.fail and self._count == 3:
            raise MediaError("node gave up at frame 3")
        self._count += 1
        kp = np.array([[self._count + 0.5, 2.5, 1.0]], np.float32)
        people = People((Person(1, (0, 0, 4, 4), 1.0, kp),), ("nose",))
        return [frame.with_data(frame.data, meta={**frame.meta, "people": people})]


register("test_sidecar_marks")(_Marks)


def _graph(fail: bool, sidecar: str):
    return build_graph({"nodes": {"m": {"type": "test_sidecar_marks", "in": "source", "params": {"fail": fail}},
                                  "r": {"type": "resize", "in": "m", "params": {"scale": 2}}},
                        "output": {"skeleton": sidecar, "preset": "ultrafast"}})


def test_run_writes_sidecar_beside_the_video(tmp_path: Path):
    clip = media.make_clip(tmp_path / "in.mp4", seconds=0.4, size="64x48")
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    stats = run(_graph(False, "{stem}.jsonl"), str(clip), str(out_dir / "v.mp4"))
    lines = [json.loads(line) for line in (out_dir / "v.jsonl").read_text().splitlines()]
    assert len(lines) == stats.frames_out == 10
    assert lines[0]["size"] == [128, 96]
    assert lines[0]["people"][0]["keypoints"] == [[3.0, 5.0, 1.0]]  # (1.5, 2.5) scaled by the resize
    assert sorted(p.name for p in out_dir.iterdir()) == ["v.jsonl", "v.mp4"]


def test_failed_run_leaves_no_sidecar(tmp_path: Path):
    clip = media.make_clip(tmp_path / "in.mp4", seconds=0.4, size="64x48")
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    with pytest.raises(MediaError, match="gave up"):
        run(_graph(True, "s.jsonl"), str(clip), str(out_dir / "v.mp4"))
    assert media.leftovers(out_dir) == []


def test_skeleton_polylines_reach_the_sidecar(tmp_path: Path):
    clip = media.make_clip(tmp_path / "in.mp4", seconds=0.2, size="96x64")
    graph = build_graph({"nodes": {"sk": {"type": "skeleton", "in": "source",
                                          "params": {"output": "overlay", "polylines": True, "min_length": 3}}},
                         "output": {"skeleton": "{stem}.jsonl", "preset": "ultrafast"}})
    run(graph, str(clip), str(tmp_path / "v.mp4"))
    lines = [json.loads(line) for line in (tmp_path / "v.jsonl").read_text().splitlines()]
    assert len(lines) == 5 and all(line["skeleton"] for line in lines)
    points = np.concatenate([np.array(path) for path in lines[0]["skeleton"]])
    assert points.shape[1] == 2 and (points >= 0).all() and (points[:, 0] <= 96).all() and (points[:, 1] <= 64).all()
