"""Damaged input as the ffmpeg CLI reads it (issue 15, part 7).

``--on-error skip`` keeps what the decoder conceals and drops only what does not decode, so it
keeps (within a few frames) the frames ``ffmpeg -i damaged -f null -`` counts; both kinds are
counted; times in messages are seconds from the start of the stream; ``--on-error stop`` says so
in one line. Every case is made here with the bundled FFmpeg and damaged deterministically.

Measured with these fixtures (video frames kept: ffmpeg CLI | vproc before | vproc now):
damaged.ts (a keyframe hit) 75 | 51 | 75; the suite's corrupt.ts 48 | 47 | 48, truncated.ts
26 | 26 | 26, corrupt.mp4 45 | 45 | 45. (Before, a corrupt packet was not decoded at all and a
concealed frame was dropped: losing a keyframe's packet lost the frames that refer to it too.)
"""

from __future__ import annotations

import json
import random
import re
import subprocess
from pathlib import Path

import pytest

from vproc.errors import MediaError
from vproc.frame import Frame
from vproc.io.source import Source

from .. import media

TS_PACKET = 188
FRAMES = 75  # testsrc2 320x240, 25 fps, 3 s, a keyframe every 25 frames


def damage_ts(src: Path, dst: Path, *, pes: int = 25, packets: int = 10, every: int = 5, seed: int = 7) -> Path:
    """A copy of the MPEG-TS ``src`` with ``packets`` TS packets, one in ``every``, overwritten
    with seeded garbage, all but their 0x47 sync byte: from the last 8 packets of the video frame
    in PES ``pes`` (decode order: 25 is the second keyframe) over the frames after it. The
    demuxer flags them corrupt (their continuity counters are garbage too); the decoder conceals
    the rest of the keyframe, and the frames that refer to it decode from what it concealed."""
    data = bytearray(src.read_bytes())
    count = len(data) // TS_PACKET
    pids = [((data[i * TS_PACKET + 1] & 0x1F) << 8) | data[i * TS_PACKET + 2] for i in range(count)]
    video = max(set(pids) - {0, 0x1FFF}, key=pids.count)  # the stream with the most packets
    starts = [i for i in range(count) if pids[i] == video and data[i * TS_PACKET + 1] & 0x40]
    first = starts[pes + 1] - 8
    rng = random.Random(seed)
    for k in range(packets):
        at = (first + k * every) * TS_PACKET
        assert data[at] == 0x47
        data[at + 1:at + TS_PACKET] = bytes(rng.randrange(256) for _ in range(TS_PACKET - 1))
    dst.write_bytes(bytes(data))
    return dst


def ffmpeg_frames(path: Path) -> int:
    """Video frames the ffmpeg CLI decodes from ``path`` (``-f null``: every decoded frame counts)."""
    out = subprocess.run([media.ffmpeg(), "-hide_banner", "-nostdin", "-i", str(path), "-map", "0:v:0", "-f", "null", "-"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    return int(re.findall(r"frame=\s*(\d+)", out.stderr)[-1])


@pytest.fixture(scope="module")
def damaged_ts(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("damaged")
    clean = folder / "clean.ts"
    media.run_ffmpeg("-f", "lavfi", "-i", "testsrc2=s=320x240:r=25:d=3", "-c:v", "libx264", "-preset", "veryfast",
                     "-g", "25", "-pix_fmt", "yuv420p", str(clean))
    return damage_ts(clean, folder / "damaged.ts")


def test_the_fixture_is_damaged_but_ffmpeg_keeps_nearly_every_frame(damaged_ts):
    with Source(str(damaged_ts.with_name("clean.ts"))) as src:
        assert sum(isinstance(i, Frame) for i in src.items()) == FRAMES
    assert FRAMES - 5 <= ffmpeg_frames(damaged_ts) <= FRAMES


CASES = ["damaged_ts", "corrupt_ts", "truncated_ts", "corrupt_mp4"]


@pytest.mark.parametrize("fixture", CASES)
def test_skip_keeps_what_ffmpeg_keeps(fixture, request):
    path = request.getfixturevalue(fixture)
    expected = ffmpeg_frames(path)
    with Source(str(path), on_error="skip") as src:
        frames = [i for i in src.items() if isinstance(i, Frame)]
        stats = src.stats
    assert abs(len(frames) - expected) <= 3, (len(frames), expected, stats)
    assert stats.frames == len(frames)
    assert stats.corrupt_skipped == stats.concealed + stats.dropped + stats.packets_dropped > 0
    times = [f.time for f in frames]
    assert times == sorted(set(times))


def test_concealed_frames_are_kept_and_counted(damaged_ts):
    with Source(str(damaged_ts), on_error="skip") as src:
        frames = [i for i in src.items() if isinstance(i, Frame)]
        stats = src.stats
    assert stats.concealed > 0  # the hit keyframe and what refers to it: kept
    assert len(frames) >= FRAMES - 3


def test_stop_names_the_time_from_the_start_of_the_stream(damaged_ts):
    # The TS clock starts at 1.48 s; the damage is in the keyframe at 1 s of the video (its lost
    # PES header merges it into the packet of the frame at 0.84-0.92 s).
    with Source(str(damaged_ts)) as src:
        with pytest.raises(MediaError) as info:
            for _ in src.items():
                pass
    msg = str(info.value)
    t = float(re.search(r"t=(\d+\.\d+)s", msg).group(1))
    assert 0.8 <= t <= 1.2, msg
    assert "after frame" in msg and "--on-error skip" in msg and "\n" not in msg


def test_the_command_stops_in_one_line(damaged_ts, tmp_path):
    result = media.run_vproc("transcode", damaged_ts, tmp_path / "out.mkv", timeout=60)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("vproc: error: "), result.stderr
    assert 0.8 <= float(re.search(r"t=(\d+\.\d+)s", lines[0]).group(1)) <= 1.2, lines[0]
    assert "--on-error skip" in lines[0]
    assert list(tmp_path.iterdir()) == []


def test_the_command_skips_like_ffmpeg_and_says_little(damaged_ts, tmp_path):
    out = tmp_path / "out.mkv"
    result = media.run_vproc("transcode", damaged_ts, out, "--on-error", "skip", "--json", timeout=60)
    assert result.returncode == 0, result.stderr
    stats = json.loads(result.stdout)
    assert abs(stats["frames_out"] - ffmpeg_frames(damaged_ts)) <= 3
    assert media.inspect(out).frames == stats["frames_out"]
    assert stats["skipped_corrupt"] > 0
    lines = result.stderr.splitlines()
    # Only vproc's own lines, no FFmpeg log spray: at most Source._MAX_LOGGED reports and a summary.
    assert all(line.startswith("vproc: ") for line in lines), result.stderr
    assert len(lines) <= Source._MAX_LOGGED + 2, result.stderr
