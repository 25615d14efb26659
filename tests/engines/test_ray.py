"""The Ray engine on a local Ray instance (2 CPUs): the same output as the local engine and as one
run over the whole file, resume across engines, a killed worker retried, the CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ray = pytest.importorskip("ray")

import vproc  # noqa: E402
from vproc import registry  # noqa: E402
from vproc.engines.local import run_segmented  # noqa: E402
from vproc.engines.ray import run_ray, uses_cuda  # noqa: E402
from vproc.errors import ConfigError, NodeError  # noqa: E402
from vproc.node import Node  # noqa: E402

from .. import media  # noqa: E402
from .test_local import assert_same_output, crash_then, graph, temporal  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


def _agent_breakage() -> str | None:
    """Why Ray's per-node agent would die at start here (its raylet dies with it), or None.

    The agent imports its metrics exporter; an ImportError there (googleapis-common-protos newer
    than the protobuf 4 that the pose extra pins) kills the node a second after ``ray.init``."""
    r = subprocess.run([sys.executable, "-c", "import ray._private.prometheus_exporter"], capture_output=True, text=True)
    if r.returncode != 0 and "ModuleNotFoundError" not in r.stderr:
        return (r.stderr.strip().splitlines() or ["?"])[-1]
    return None


@pytest.fixture(scope="module")
def ray_local():
    """One local Ray instance for the module (workers import the test nodes from this checkout)."""
    broken = _agent_breakage()
    if broken:
        pytest.skip(f"Ray cannot start a node in this environment: {broken}")
    if ray.is_initialized():
        ray.shutdown()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="warning",
             runtime_env={"env_vars": {"PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}})
    try:
        yield
    finally:
        ray.shutdown()


@dataclass(frozen=True)
class DieParams:
    marker: str = ""
    at: float = 1.2  # seconds: a frame inside the second segment
    fail: bool = False  # raise instead of dying


class DieOnce(Node):
    """Passes frames through; the first process to reach ``at`` leaves a marker and dies (os._exit)."""

    Params = DieParams

    def process(self, frame):
        if self.params.fail and frame.time >= self.params.at:
            raise RuntimeError("simulated failure")
        if frame.time >= self.params.at and not os.path.exists(self.params.marker):
            Path(self.params.marker).write_text(str(os.getpid()))
            os._exit(1)
        return [frame]


@pytest.fixture
def die_node():
    registry.register("test_die_once")(DieOnce)
    try:
        yield
    finally:
        registry._KINDS.pop("test_die_once", None)


def test_ray_output_equals_local_and_one_run(ray_local, gop_clip, test_nodes, tmp_path):
    g = temporal()
    ref, loc, out = tmp_path / "ref.mkv", tmp_path / "loc.mkv", tmp_path / "ray.mkv"
    vproc.run(g, str(gop_clip), str(ref))
    run_segmented(g, str(gop_clip), str(loc), segment_seconds=0.9)
    progress = []
    stats = run_ray(g, str(gop_clip), str(out), segment_seconds=0.9, progress=lambda d, t: progress.append((d, t)))
    assert_same_output(ref, out)
    assert_same_output(loc, out)
    assert stats.frames_out == 100
    assert progress[0] == (0, 100) and progress[-1] == (100, 100)
    assert all(a[0] <= b[0] for a, b in zip(progress, progress[1:]))
    assert media.leftovers(tmp_path) == ["loc.mkv", "ray.mkv", "ref.mkv"]
    assert not uses_cuda(g)


def test_ray_resumes_what_the_local_engine_left(ray_local, gop_clip, test_nodes, tmp_path):
    g = temporal()
    ref, out = tmp_path / "ref.mkv", tmp_path / "out.mkv"
    vproc.run(g, str(gop_clip), str(ref))
    crash_then(g, gop_clip, out)  # segments 0 and 1 finished, dies in the third
    progress = []
    stats = run_ray(g, str(gop_clip), str(out), segment_seconds=0.9, progress=lambda d, t: progress.append((d, t)))
    assert progress[0] == (48, 100)  # the finished segments count as done
    assert stats.frames_in == 52 + (2 + 2) + (2 + 2) + 2  # only segments 2, 3, 4 were decoded
    assert_same_output(ref, out)
    assert not (tmp_path / "out.mkv.vproc-work").exists()


def test_a_killed_worker_is_retried(ray_local, gop_clip, test_nodes, die_node, tmp_path):
    marker = tmp_path / "died"
    g = graph({"t": {"type": "test_seg_mean", "in": "source", "params": {"radius": 2}},
               "d": {"type": "test_die_once", "in": "t", "params": {"marker": str(marker)}}})
    loc, out = tmp_path / "loc.mkv", tmp_path / "ray.mkv"
    run_ray(g, str(gop_clip), str(out), segment_seconds=0.9)
    assert marker.exists()  # a worker died, its task was run again
    marker.unlink()
    marker.write_text("no more deaths")
    run_segmented(g, str(gop_clip), str(loc), segment_seconds=0.9)
    assert_same_output(loc, out)


def test_a_node_error_on_a_worker_is_the_error_of_the_run(ray_local, gop_clip, die_node, tmp_path):
    g = graph({"d": {"type": "test_die_once", "in": "source", "params": {"marker": str(tmp_path / "m"), "fail": True}}})
    with pytest.raises(NodeError, match="simulated failure"):  # not retried: it would fail again
        run_ray(g, str(gop_clip), str(tmp_path / "o.mkv"), segment_seconds=0.9)
    assert not (tmp_path / "o.mkv").exists()
    with pytest.raises(ConfigError, match="--workers must be 1 or more"):
        run_ray(g, str(gop_clip), str(tmp_path / "o.mkv"), workers=0)


def test_cli_engine_ray(ray_local, gop_clip, tmp_path):
    yaml = tmp_path / "g.yaml"
    yaml.write_text("version: 1\ndevice: cpu\nnodes:\n  r: {type: resize, in: source, params: {scale: 0.5}}\n"
                    "output: {in: r, codec: ffv1}\n")
    out = tmp_path / "out.mkv"
    r = media.run_vproc("run", yaml, "-i", gop_clip, "-o", out, "--engine", "ray", "--workers", "2",
                        "--segment-seconds", "1")
    assert r.returncode == 0, r.stderr
    assert media.leftovers(tmp_path) == ["g.yaml", "out.mkv"]
    assert media.inspect(out).frames == 100
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr  # Ray says nothing on stderr
    for args, says in ((["--engine", "spark"], "--engine must be local or ray"),
                       (["--workers", "2"], "--workers needs --engine ray"),
                       (["--engine", "ray", "--workers", "0"], "--workers must be 1 or more")):
        r = media.run_vproc("run", yaml, "-i", gop_clip, "-o", out, *args)
        assert r.returncode == 2 and says in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr


def test_nothing_else_imports_ray():
    code = ("import sys; import vproc, vproc.cli, vproc.pipeline, vproc.engines.local, vproc.engines.segments, "
            "vproc.engines.join, vproc.engines.resume; assert 'ray' not in sys.modules, 'ray imported'")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)
