"""MediaPipe backend on scikit-image's astronaut (a public-domain NASA photo that ships in the
package): keypoints in plausible places, and two people when the photo is tiled twice."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("mediapipe")
data = pytest.importorskip("skimage.data")

from vproc.pose.layouts import BLAZEPOSE_NAMES  # noqa: E402
from vproc.pose.mediapipe_backend import MediaPipeBackend  # noqa: E402

NOSE, L_SHOULDER, R_SHOULDER = 0, 11, 12


@pytest.fixture(scope="module")
def backend():
    b = MediaPipeBackend(max_people=3, detect_every=10, tiles=2, threads=2)
    yield b
    b.close()


def check_astronaut(kp, dx=0.0):
    """Eileen Collins in the 512x512 photo: face about (220, 130), shoulders below it."""
    nose, left, right = kp[NOSE], kp[L_SHOULDER], kp[R_SHOULDER]
    assert 180 < nose[0] - dx < 260 and 90 < nose[1] < 170
    assert min(nose[2], left[2], right[2]) > 0.5
    # Her left shoulder is on the image's right; both well below the nose and apart.
    assert right[0] < nose[0] < left[0]
    assert left[1] > nose[1] + 40 and right[1] > nose[1] + 40
    assert left[0] - right[0] > 100


def test_astronaut(backend):
    backend.reset()
    img = data.astronaut()
    people = backend(img)
    assert len(people) == 1 and backend.names == BLAZEPOSE_NAMES
    kp = people[0].keypoints
    assert kp.shape == (33, 3) and kp.dtype == np.float32
    check_astronaut(kp)
    box = people[0].box
    assert box[0] < kp[NOSE, 0] < box[2] and box[1] <= kp[NOSE, 1] < box[3]
    # Followed on the next frame from its own landmarks, at the same place.
    again = backend(img)
    assert len(again) == 1
    assert np.abs(again[0].keypoints[NOSE, :2] - kp[NOSE, :2]).max() < 10


def test_two_astronauts(backend):
    backend.reset()
    img = data.astronaut()
    two = np.ascontiguousarray(np.concatenate([img, img], axis=1))
    people = sorted(backend(two), key=lambda p: p.keypoints[NOSE, 0])
    assert len(people) == 2
    check_astronaut(people[0].keypoints)
    check_astronaut(people[1].keypoints, dx=512)
