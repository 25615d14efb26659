"""Shared fixtures: test media made once per session with the bundled FFmpeg (or PyAV), and the
``cuda`` marker with its gate (:mod:`tests.cuda`) for every folder.

Clips are tiny (160x120, 2 s, 25 fps: 50 frames) so the whole suite stays fast on two cores.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from . import media
from .cuda import cp, cuda_gate, register_marker  # noqa: F401  (fixtures, found by name)


def pytest_configure(config):
    register_marker(config)


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("media")


@pytest.fixture(scope="session")
def clip_mp4(media_dir) -> Path:
    """testsrc2 160x120 @ 25 fps, 2 s (50 frames), libx264 + AAC, MP4."""
    return media.make_clip(media_dir / "clip.mp4")


@pytest.fixture(scope="session")
def clip_mkv(media_dir) -> Path:
    return media.make_clip(media_dir / "clip.mkv")


@pytest.fixture(scope="session")
def clip_ts(media_dir) -> Path:
    return media.make_clip(media_dir / "clip.ts")


@pytest.fixture(scope="session")
def vfr_mkv(media_dir) -> Path:
    """Variable frame rate (media.VFR_PTS_MS), libx264 + AAC, Matroska."""
    return media.make_vfr(media_dir / "vfr.mkv")


@pytest.fixture(scope="session")
def vfr_mp4(media_dir) -> Path:
    return media.make_vfr(media_dir / "vfr.mp4")


@pytest.fixture(scope="session")
def subtitled_mkv(media_dir, clip_mp4) -> Path:
    return media.make_subtitled(media_dir / "subs.mkv", clip_mp4)


@pytest.fixture(scope="session")
def long_clip(media_dir) -> Path:
    """20 s (500 frames) for interrupting a run part-way."""
    return media.make_clip(media_dir / "long.mp4", seconds=20, preset="ultrafast")


@pytest.fixture(scope="session")
def not_media(media_dir) -> Path:
    path = media_dir / "random.mp4"
    path.write_bytes(random.Random(0).randbytes(20000))  # seeded: the same bytes every run
    return path


@pytest.fixture(scope="session")
def text_file(media_dir) -> Path:
    path = media_dir / "notes.mkv"
    path.write_text("this is not a video\n" * 50)
    return path


@pytest.fixture(scope="session")
def corrupt_mp4(media_dir, clip_mp4) -> Path:
    """The MP4 with 4 KiB of garbage in the middle: the H.264 decoder reports errors there."""
    return media.corrupt(clip_mp4, media_dir / "corrupt.mp4")


@pytest.fixture(scope="session")
def corrupt_ts(media_dir, clip_ts) -> Path:
    """The MPEG-TS with garbage in the middle: the demuxer flags the damaged packets corrupt."""
    return media.corrupt(clip_ts, media_dir / "corrupt.ts")


@pytest.fixture(scope="session")
def truncated_ts(media_dir, clip_ts) -> Path:
    """The MPEG-TS cut in the middle: the last packets are incomplete (flagged corrupt)."""
    return media.truncate(clip_ts, media_dir / "truncated.ts")


@pytest.fixture(scope="session")
def clip_info(clip_mp4) -> media.MediaInfo:
    return media.inspect(clip_mp4)
