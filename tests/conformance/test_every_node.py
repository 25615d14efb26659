"""Every node kind from the command line (``vproc run`` on a one-node YAML graph) on an RGB, a
10-bit and a 4:2:2 input: the run succeeds, keeps the frame count and writes the source's pixel
format as the ffmpeg CLI picks it for libx264 (format negotiation inserts what a node needs)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import av
import pytest

from vproc import registry

from .. import media

INPUTS = {  # name -> ffmpeg pixel format of an FFV1 clip; what libx264 writes for it
    "rgb": ("bgr0", "yuv444p"),
    "10bit": ("yuv420p10le", "yuv420p10le"),
    "422": ("yuv422p", "yuv422p"),
}
HAVE_MEDIAPIPE = importlib.util.find_spec("mediapipe") is not None

# The one-node graph of each kind; "{in}" is the source. Kinds with several inputs get two.
GRAPHS = {
    "convert": "c: {type: convert, in: source, params: {format: yuv444p}}",
    "deinterlace": "d: {type: deinterlace, in: source, params: {mode: on}}",
    "denoise": "d: {type: denoise, in: source, params: {radius: 1}}",
    "ffmpeg": "f: {type: ffmpeg, in: source, params: {filters: hflip}}",
    "lowlight": "l: {type: lowlight, in: source}",
    "overlay": "o: {type: overlay, in: source}",
    "pose": "p: {type: pose, in: source, params: {detect_every: 100, tiles: 1}}",
    "resize": "r: {type: resize, in: source, params: {scale: 0.5}}",
    "skeleton": "s: {type: skeleton, in: source, params: {output: overlay}}",
    "stack": "s: {type: stack, in: [source, source]}",
    "vsr": "v: {type: vsr, in: source, params: {scale: 2, radius: 1}}",
}


def test_every_registered_kind_is_covered():
    built_in = {kind for kind, cls in registry.kinds().items() if cls.__module__.startswith("vproc.")}
    assert built_in == set(GRAPHS)  # (other tests register kinds of their own)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("every_node")
    out = {}
    for name, (pix_fmt, _) in INPUTS.items():
        path = folder / f"{name}.mkv"
        media.run_ffmpeg("-f", "lavfi", "-i", "testsrc2=size=96x64:rate=10", "-frames:v", "6", "-pix_fmt", pix_fmt,
                         "-c:v", "ffv1", str(path))
        out[name] = path
    return out


@pytest.mark.parametrize("source", sorted(INPUTS))
@pytest.mark.parametrize("kind", sorted(GRAPHS))
def test_node_from_the_cli(kind, source, inputs, tmp_path):
    if kind == "pose" and not HAVE_MEDIAPIPE:
        pytest.skip("pose needs the pose extra (mediapipe)")
    graph = tmp_path / "g.yaml"
    graph.write_text(f"version: 1\nnodes:\n  {GRAPHS[kind]}\n")
    out = tmp_path / "out.mp4"
    proc = media.run_vproc("run", graph, "-i", inputs[source], "-o", out)
    assert proc.returncode == 0, proc.stderr
    with av.open(str(out)) as c:
        v = c.streams.video[0]
        frames = sum(1 for _ in c.decode(v))
        pix_fmt = v.codec_context.format.name
    assert frames == 6
    want = INPUTS[source][1]
    assert pix_fmt == want, f"{kind} on {source}: wrote {pix_fmt}, the source's format for libx264 is {want}"
