"""``vproc transcode --pose --pose-out`` and ``graphs/pose.yaml`` end to end, as users run them:
the sidecar has one line per output frame at the encoded video's times, the person is found
with one stable id, keypoints follow a resize, and a failed run leaves no sidecar behind."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from . import media
from .media import REPO, run_vproc

pytest.importorskip("mediapipe", reason="the pose extra is not installed (README: Pose extra)")
skimage_data = pytest.importorskip("skimage.data", reason="scikit-image is not installed (pip install -e .[test])")

FRAMES = 10


@pytest.fixture(scope="module")
def person_clip(tmp_path_factory) -> Path:
    """10 frames at 25 fps of scikit-image's astronaut photo (public domain, NASA), panning 2 px a frame."""
    path = tmp_path_factory.mktemp("pose") / "astronaut.mp4"
    image = skimage_data.astronaut()  # 512 x 512 RGB
    with av.open(str(path), "w") as c:
        s = c.add_stream("libx264", rate=25)
        s.width, s.height, s.pix_fmt = 480, 480, "yuv420p"
        for i in range(FRAMES):
            crop = np.ascontiguousarray(image[16:496, 2 * i:2 * i + 480])
            for p in s.encode(av.VideoFrame.from_ndarray(crop, format="rgb24")):
                c.mux(p)
        for p in s.encode(None):
            c.mux(p)
    return path


def read_sidecar(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def nose(line: dict) -> np.ndarray:
    (person,) = line["people"]
    return np.array(person["keypoints"][0][:2])


def test_transcode_pose_out(person_clip: Path, tmp_path: Path):
    out, side = tmp_path / "out.mp4", tmp_path / "pose.jsonl"
    r = run_vproc("transcode", person_clip, out, "--pose", "--pose-out", side, "--preset", "veryfast")
    assert r.returncode == 0, r.stderr
    lines = read_sidecar(side)
    video = media.inspect(out)
    assert len(lines) == video.frames == FRAMES
    half_tick = float(video.video_time_base) / 2
    assert all(abs(line["time"] - float(t)) <= half_tick for line, t in zip(lines, video.video_times))
    assert all(Fraction(line["pts"]) * Fraction(line["time_base"]) == Fraction(line["time"]).limit_denominator(10**6)
               for line in lines)
    assert all(len(line["people"]) == 1 for line in lines)
    assert len({line["people"][0]["id"] for line in lines}) == 1  # one person, one id throughout
    assert all(len(line["people"][0]["keypoints"]) == 33 for line in lines)
    # The nose sits on the astronaut's face (the photo's face is near x 230, y 100 after the crop)
    # and moves left 2 px a frame as the view pans right.
    first, last = nose(lines[0]), nose(lines[-1])
    assert 150 < first[0] < 320 and 40 < first[1] < 180, first
    assert -30 < (last - first)[0] < -6, (first, last)


def test_keypoints_follow_a_resize(person_clip: Path, tmp_path: Path):
    full, half = tmp_path / "full.jsonl", tmp_path / "half.jsonl"
    assert run_vproc("transcode", person_clip, tmp_path / "a.mp4", "--pose-out", full,
                     "--no-pose-overlay", "--preset", "ultrafast").returncode == 0
    r = run_vproc("transcode", person_clip, tmp_path / "b.mp4", "--pose-out", half, "--scale", "0.5",
                  "--preset", "ultrafast")
    assert r.returncode == 0, r.stderr
    a, b = read_sidecar(full), read_sidecar(half)
    assert b[0]["size"] == [240, 240] and a[0]["size"] == [480, 480]
    for la, lb in zip(a, b):  # same detections (pose runs before the resize), coordinates halved
        np.testing.assert_allclose(np.array(lb["people"][0]["keypoints"])[:, :2],
                                   np.array(la["people"][0]["keypoints"])[:, :2] / 2, atol=0.02)


def test_pose_graph_writes_sidecar_next_to_the_video(person_clip: Path, tmp_path: Path):
    out = tmp_path / "walk.mp4"
    r = run_vproc("run", REPO / "graphs" / "pose.yaml", "-i", person_clip, "-o", out, "--set", "output.preset=ultrafast")
    assert r.returncode == 0, r.stderr
    lines = read_sidecar(tmp_path / "walk.jsonl")
    assert len(lines) == FRAMES and lines[0]["people"]
    assert media.inspect(out).frames == FRAMES
