"""Device selection, Frame hand-offs (DLPack), pooled buffers and the transfer counters."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

import vproc
from vproc import device as devices
from vproc import runtime
from vproc.errors import DeviceError
from vproc.frame import Frame

from . import media

NO_GPU = devices.cuda_status() is not None


def gray(value=0, shape=(4, 6)) -> Frame:
    return Frame(np.full(shape, value, np.uint8), 0, Fraction(1, 25), "gray")


@pytest.mark.skipif(not NO_GPU, reason="checks the behaviour without a GPU")
def test_auto_is_cpu_and_cuda_is_an_error_without_a_gpu():
    assert devices.resolve("auto") == "cpu"
    with pytest.raises(DeviceError, match="device 'cuda' was requested but"):
        devices.resolve("cuda", who="node 'x'")


def test_a_node_that_runs_on_cpu_only_refuses_cuda():
    with pytest.raises(DeviceError, match="runs on cpu only, not on 'cuda'"):
        devices.resolve("cuda", ("cpu",), who="node 'st' (stack)")
    assert devices.resolve("auto", ("cpu",)) == "cpu"


@pytest.mark.skipif(not NO_GPU, reason="checks the behaviour without a GPU")
def test_cuda_graph_fails_before_decoding_and_per_node_override_wins(clip_mp4, tmp_path):
    on_cuda = {"version": 1, "device": "cuda", "nodes": {"s": {"type": "resize", "in": "source", "params": {"scale": 0.5}}}}
    with pytest.raises(DeviceError, match="node 's' .*cuda"):
        vproc.run(vproc.build_graph(on_cuda), str(clip_mp4), str(tmp_path / "a.mp4"))
    assert media.leftovers(tmp_path) == []
    on_cuda["nodes"]["s"]["device"] = "cpu"  # the node's own device overrides the graph's
    stats = vproc.run(vproc.build_graph(on_cuda), str(clip_mp4), str(tmp_path / "b.mp4"))
    assert stats.frames_out == stats.frames_in > 0


@pytest.mark.skipif(not NO_GPU, reason="checks the behaviour without a GPU")
def test_cli_cuda_without_gpu_exits_2(clip_mp4, tmp_path):
    r = media.run_vproc("transcode", clip_mp4, tmp_path / "o.mp4", "--device", "cuda", "--scale", "0.5")
    assert r.returncode == 2
    assert r.stderr.strip().startswith("vproc: error:") and "cuda" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_as_torch_shares_memory():
    frame = Frame(np.zeros((3, 4, 5), np.float32), 0, Fraction(1, 25), "rgbpf32")
    t = frame.as_torch()
    t[1, 2, 3] = 7.0  # written through the tensor, seen in the frame: no copy was made
    assert frame.data[1, 2, 3] == 7.0
    planes = (np.zeros((4, 6), np.uint8), np.zeros((2, 3), np.uint8), np.zeros((2, 3), np.uint8))
    tensors = Frame(planes, 0, Fraction(1, 25), "yuv420p").as_torch()
    assert [tuple(x.shape) for x in tensors] == [(4, 6), (2, 3), (2, 3)]
    assert tensors[0].data_ptr() == planes[0].ctypes.data
    back = devices.from_torch(t)
    assert np.shares_memory(back, frame.data)


def test_to_the_same_device_is_the_frame_itself():
    frame = gray()
    assert frame.to("cpu") is frame


@pytest.mark.skipif(not NO_GPU, reason="checks the behaviour without a GPU")
def test_to_cuda_without_gpu_is_a_device_error():
    with pytest.raises(DeviceError):
        gray().to("cuda")


def test_pool_reuses_buffers_of_released_frames():
    pool = devices.BufferPool(lambda shape, dtype: np.empty(shape, dtype))
    devices.STATS.reset()
    first = pool.empty((8, 8), np.uint8)
    frame = Frame(first, 0, Fraction(1, 25), "gray")
    pool.bind(frame, frame.planes)
    pool.bind(frame, frame.planes)  # bound once only, however often
    del frame
    again = pool.empty((8, 8), np.uint8)
    assert again is first
    other = pool.empty((8, 8), np.uint8)  # the first is in use again: a new one
    assert other is not first
    assert devices.STATS.snapshot()["allocations"] == 2


def test_scratch_arrays_are_not_returned_twice():
    pool = devices.BufferPool(lambda shape, dtype: np.empty(shape, dtype))
    scratch = pool.empty((2, 2), np.uint8)
    del scratch  # never bound: it simply goes away
    assert pool._out == {}


def test_stats_count_no_transfers_and_few_allocations_on_cpu(clip_mp4, tmp_path):
    graph = vproc.build_graph({"nodes": {"st": {"type": "stack", "in": ["source", "source"]}}, "output": {"in": "st"}})
    stats = vproc.run(graph, str(clip_mp4), str(tmp_path / "s.mp4"))
    t = stats.transfers
    assert t["h2d_copies"] == t["d2h_copies"] == 0
    # The stack node's output planes come from the pool: as many buffers as frames can be in
    # flight after it (its consumers' inboxes, a few being worked on), not one per frame.
    in_flight = runtime.SINK_INBOX + 4
    assert 0 < t["allocations"] <= 3 * in_flight < 3 * stats.frames_in
    assert stats.to_dict()["transfers_per_frame"]["h2d_copies"] == 0


def test_cli_stats_prints_per_frame_counters(clip_mp4, tmp_path):
    r = media.run_vproc("transcode", clip_mp4, tmp_path / "o.mp4", "--scale", "0.5", "--stats")
    assert r.returncode == 0, r.stderr
    assert "per frame: host->device 0 copies" in r.stderr
    assert "resize" in r.stderr


def test_auto_runs_a_node_on_the_cpu_where_cuda_cannot_take_its_input(monkeypatch, clip_mp4):
    from vproc.io.source import Source
    from vproc.runtime import Runtime

    monkeypatch.setattr(devices, "cuda_status", lambda: None)  # as on a machine with a GPU
    graph = vproc.build_graph({"nodes": {
        "rgb": {"type": "convert", "in": "source", "params": {"format": "rgb24"}},  # swscale: CPU only
        "flt": {"type": "convert", "in": "source", "params": {"format": "rgbpf32"}},  # kernels: CUDA
        "st": {"type": "stack", "in": ["rgb", "rgb"]}}, "output": {"in": "st"}})
    with Source(str(clip_mp4)) as src:
        rt = Runtime(graph, src, sink=None)
        try:
            rt.open_nodes()
        finally:
            rt.close_nodes()
    assert {k: r.node.device for k, r in rt._runs.items()} == {"rgb": "cpu", "flt": "cuda", "st": "cpu"}


@pytest.mark.cuda
def test_three_gpu_nodes_upload_once_and_download_once(clip_mp4, tmp_path):
    """YUV -> float RGB -> 2x bicubic -> YUV, all on the GPU: one upload and one download per
    frame however many GPU nodes, and the same pictures as the CPU twins."""
    nodes = {"rgb": {"type": "convert", "in": "source", "params": {"format": "rgbpf32"}},
             "up": {"type": "resize", "in": "rgb", "params": {"scale": 2, "interp": "bicubic"}},
             "yuv": {"type": "convert", "in": "up", "params": {"format": "yuv420p"}}}
    out = {"in": "yuv", "crf": 0, "preset": "ultrafast"}
    gpu = vproc.run(vproc.build_graph({"device": "cuda", "nodes": nodes, "output": out}), str(clip_mp4), str(tmp_path / "g.mkv"))
    per = gpu.per_frame()
    assert per["h2d_copies"] == 1 and per["d2h_copies"] == 1
    assert gpu.frames_out == gpu.frames_in
    assert [s.device for s in gpu.stages[1:-1]] == ["cuda"] * 3
    cpu = vproc.run(vproc.build_graph({"device": "cpu", "nodes": nodes, "output": out}), str(clip_mp4), str(tmp_path / "c.mkv"))
    assert cpu.per_frame()["h2d_copies"] == 0
    import av

    with av.open(str(tmp_path / "g.mkv")) as g, av.open(str(tmp_path / "c.mkv")) as c:
        for fg, fc in zip(g.decode(video=0), c.decode(video=0)):
            # cv2 on the CPU vs the kernel on the GPU: within a code after rounding to 8 bits
            assert np.abs(fg.to_ndarray().astype(int) - fc.to_ndarray().astype(int)).max() <= 1


# -- the CUDA data path, on a stand-in for CuPy (tests/fake_cupy.py) ----------------------------------


@pytest.fixture
def fake_gpu(monkeypatch):
    """CuPy replaced by a host-memory stand-in, and a GPU-capable test node registered."""
    import sys

    from vproc import registry
    from vproc.node import Node

    from . import fake_cupy

    monkeypatch.setitem(sys.modules, "cupy", fake_cupy)
    monkeypatch.setattr(devices, "cuda_status", lambda: None)
    monkeypatch.setattr(devices, "_local", __import__("threading").local())
    devices._device_pool.cache_clear()

    class Invert(Node):
        """255 - x on every plane, with pooled outputs, on whichever device it was given."""

        devices = ("cpu", "cuda")

        def process(self, frame):
            out = tuple(np.subtract(255, p, out=devices.empty(p.shape, p.dtype, self.device)) for p in frame.planes)
            for o in out:  # on "cuda" the planes must be device arrays, never host ones
                assert devices.device_of(o) == self.device
            return [frame.with_data(out)]

    before = dict(registry._KINDS)
    registry.register("test_invert")(Invert)
    yield fake_cupy
    registry._KINDS.clear()
    registry._KINDS.update(before)
    devices._device_pool.cache_clear()


def _three_inverts(device):
    nodes = {"a": {"type": "test_invert", "in": "source"}, "b": {"type": "test_invert", "in": "a"},
             "c": {"type": "test_invert", "in": "b"}}
    return vproc.build_graph({"device": device, "nodes": nodes, "output": {"in": "c", "crf": 0, "preset": "ultrafast"}})


def test_three_gpu_nodes_move_each_frame_once_each_way(fake_gpu, clip_mp4, long_clip, tmp_path):
    gpu = vproc.run(_three_inverts("cuda"), str(clip_mp4), str(tmp_path / "g.mkv"))
    assert [s.device for s in gpu.stages[1:-1]] == ["cuda"] * 3
    per = gpu.per_frame()
    assert per["h2d_copies"] == 1 and per["d2h_copies"] == 1
    assert gpu.transfers["h2d_bytes"] == gpu.transfers["d2h_bytes"] == gpu.frames_in * 160 * 120 * 3 // 2
    # Pools: staging and output buffers are reused, so allocations follow the frames in flight
    # (inboxes, the source's look-ahead), not the length of the clip.
    longer = vproc.run(_three_inverts("cuda"), str(long_clip), str(tmp_path / "l.mkv"))
    assert longer.frames_in >= 5 * gpu.frames_in
    assert longer.transfers["allocations"] <= gpu.transfers["allocations"] * 1.5
    cpu = vproc.run(_three_inverts("cpu"), str(clip_mp4), str(tmp_path / "c.mkv"))
    assert cpu.transfers["h2d_copies"] == 0
    import av

    with av.open(str(tmp_path / "g.mkv")) as g, av.open(str(tmp_path / "c.mkv")) as c:
        pairs = list(zip(g.decode(video=0), c.decode(video=0)))
    assert len(pairs) == gpu.frames_out == cpu.frames_out
    assert all(np.array_equal(a.to_ndarray(), b.to_ndarray()) for a, b in pairs)


def test_fan_out_to_two_gpu_nodes_uploads_once(fake_gpu, clip_mp4, tmp_path):
    graph = vproc.build_graph({"device": "cuda", "nodes": {
        "a": {"type": "test_invert", "in": "source"}, "b": {"type": "test_invert", "in": "source"},
        "st": {"type": "stack", "in": ["a", "b"], "device": "cpu"}}, "output": {"in": "st"}})
    stats = vproc.run(graph, str(clip_mp4), str(tmp_path / "f.mp4"))
    per = stats.per_frame()
    assert per["h2d_copies"] == 1  # one upload shared by both consumers
    assert per["d2h_copies"] == 2  # each GPU branch comes back once for the CPU stack
