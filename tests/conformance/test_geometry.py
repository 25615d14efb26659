"""Conformance: geometry metadata as FFmpeg keeps it (issue 15, part 2).

Every input is generated with the FFmpeg binary (``testsrc2``, tiny, a few frames), and every
check compares vproc with the ffmpeg CLI on the same input:

- rotation (display matrices of 90, 180, 270 degrees, mirrored ones, and ``yuv422p``, which
  ``transpose`` cannot take): the source's frames equal ``ffmpeg -i IN -f rawvideo -`` byte for
  byte (autorotate), or ``ffmpeg -noautorotate``'s (``autorotate=False``); the encoded output
  has the display matrix and size ``ffmpeg [-noautorotate] -i IN -c:v libx264`` gives it;
- sample aspect ratio (4:3 on 320x240, 64:45 on 720x576): the output's equals the CLI's with no
  graph, with ``--scale 0.5`` (``scale=iw/2:ih/2``), a width-only resize, and ``--sr 2``;
- interlacing: field order and the interlaced flag are read, and shown by ``probe``.
"""

from __future__ import annotations

import subprocess
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from vproc.errors import ConfigError
from vproc.frame import Frame, StreamInfo
from vproc.io.orientation import autorotate_filters, cli_options, matrix_of, rotation_set
from vproc.io import source as source_module
from vproc.io.source import Source, probe
from vproc.pipeline import run, transcode_graph

from .. import media

_SRC = ["-f", "lavfi", "-i", "testsrc2=size=64x48:rate=10", "-frames:v", "6"]

# name -> the display options FFmpeg writes the matrix with (input options of a remux)
ROTATIONS = {
    "rot90": ["-display_rotation:v:0", "90"],
    "rot180": ["-display_rotation:v:0", "180"],
    "rot270": ["-display_rotation:v:0", "270"],
    "rot90_hflip": ["-display_rotation:v:0", "90", "-display_hflip:v:0"],
    "vflip": ["-display_vflip:v:0"],
}


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("geometry")


def _stored(folder: Path, pix_fmt: str = "yuv420p") -> Path:
    path = folder / f"stored_{pix_fmt}.mp4"
    if not path.exists():
        media.run_ffmpeg(*_SRC, "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", pix_fmt, str(path))
    return path


def _rotated(folder: Path, name: str, pix_fmt: str = "yuv420p") -> Path:
    path = folder / f"{name}_{pix_fmt}.mp4"
    if not path.exists():  # the display matrix is an input option: a remux puts it on
        media.run_ffmpeg(*ROTATIONS[name], "-i", str(_stored(folder, pix_fmt)), "-c", "copy", str(path))
    return path


def _cli_raw(path: Path, pix_fmt: str, *before: str) -> bytes:
    return subprocess.run([media.ffmpeg(), "-v", "error", *before, "-i", str(path), "-f", "rawvideo",
                           "-pix_fmt", pix_fmt, "-"], capture_output=True, check=True).stdout


def _frames(src: Source) -> list[Frame]:
    return [item for item in src.items() if isinstance(item, Frame)]


def _raw(frames: list[Frame]) -> bytes:
    return b"".join(np.ascontiguousarray(p).tobytes() for f in frames for p in f.planes)


def _video(path: Path) -> dict:
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        first = next(c.decode(s))
        return {"size": (first.width, first.height), "matrix": matrix_of(first.side_data),
                "sar": Fraction(s.sample_aspect_ratio) if s.sample_aspect_ratio else None}


# -- rotation ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(ROTATIONS))
def test_frames_come_upright_as_the_ffmpeg_cli_decodes_them(folder, name):
    path = _rotated(folder, name)
    with Source(path) as src:
        info = src.info
        frames = _frames(src)
    swapped = name in ("rot90", "rot270", "rot90_hflip")
    assert (info.width, info.height) == ((48, 64) if swapped else (64, 48))
    assert (info.rotation, info.hflip, info.vflip) == (0, False, False)  # upright: nothing left to say
    assert all((f.width, f.height) == (info.width, info.height) for f in frames)
    assert _raw(frames) == _cli_raw(path, info.format)


@pytest.mark.parametrize("name", sorted(ROTATIONS))
def test_no_autorotate_keeps_the_frames_as_stored_and_describes_the_matrix(folder, name):
    path = _rotated(folder, name)
    with Source(path, autorotate=False) as src:
        info = src.info
        frames = _frames(src)
    assert (info.width, info.height) == (64, 48)
    assert _raw(frames) == _cli_raw(path, info.format, "-noautorotate")
    # the description reproduces the file's matrix through FFmpeg's own display options
    with av.open(str(path)) as c:
        matrix = matrix_of(next(c.decode(c.streams.video[0])).side_data)
    assert rotation_set(info.rotation, info.hflip, info.vflip) == matrix


def test_422_turned_on_its_side_comes_out_444_as_from_the_cli(folder):
    path = _rotated(folder, "rot90", "yuv422p")
    with Source(path) as src:
        assert (src.info.width, src.info.height, src.info.format) == (48, 64, "yuv444p")
        frames = _frames(src)
    assert _raw(frames) == _cli_raw(path, "yuv444p")


@pytest.mark.parametrize("autorotate", [True, False])
def test_the_output_has_the_clis_size_and_display_matrix(folder, autorotate):
    path = _rotated(folder, "rot90_hflip")
    ours, theirs = folder / f"ours_{autorotate}.mp4", folder / f"cli_{autorotate}.mp4"
    run(transcode_graph(), str(path), str(ours), autorotate=autorotate)
    media.run_ffmpeg(*([] if autorotate else ["-noautorotate"]), "-i", str(path), "-c:v", "libx264",
                     "-preset", "ultrafast", str(theirs))
    assert _video(ours)["size"] == _video(theirs)["size"] == ((48, 64) if autorotate else (64, 48))
    assert _video(ours)["matrix"] == _video(theirs)["matrix"]
    assert (_video(ours)["matrix"] is None) == autorotate


def test_no_autorotate_is_refused_on_segmented_runs(folder):
    with pytest.raises(ConfigError, match="no-autorotate"):
        run(transcode_graph(), str(_rotated(folder, "rot90")), str(folder / "seg.mp4"), autorotate=False,
            segmented={"segment_seconds": 1})


def test_matrix_arithmetic_follows_libavutil():
    # FFmpeg: "-display_rotation 90" is a counter-clockwise turn, shown upright by transpose=cclock
    m = rotation_set(90)
    assert m[:5] == (0, -65536, 0, 65536, 0)
    assert autorotate_filters(m) == [("transpose", "cclock")]
    assert autorotate_filters(rotation_set(270)) == [("transpose", "clock")]
    assert autorotate_filters(rotation_set(180)) == [("hflip", None), ("vflip", None)]
    assert autorotate_filters(rotation_set(0, vflip=True)) == [("vflip", None)]
    assert autorotate_filters(rotation_set(0)) == []
    for degrees in (0, 90, 180, 270):
        for hflip, vflip in ((False, False), (True, False), (False, True), (True, True)):
            m = rotation_set(degrees, hflip, vflip)
            assert rotation_set(*cli_options(m)) == m


# -- sample aspect ratio ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def anamorphic(folder) -> dict[str, Path]:
    out = {}
    for name, size, sar in (("sar43", "320x240", "4/3"), ("pal", "720x576", "64/45")):
        path = folder / f"{name}.mkv"
        media.run_ffmpeg("-f", "lavfi", "-i", f"testsrc2=size={size}:rate=25", "-frames:v", "3",
                         "-vf", f"setsar={sar}", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
                         str(path))
        out[name] = path
    return out


# vproc flags (as transcode_graph arguments) -> the ffmpeg CLI's -vf for the same geometry
SAR_CASES = {
    "none": ({}, None),
    "scale_0.5": ({"scale": 0.5}, "scale=iw/2:ih/2"),
    "width_only": ({"width": 160, "height": 240}, "scale=160:240"),
}


@pytest.mark.parametrize("name, case", [("sar43", "none"), ("sar43", "scale_0.5"), ("sar43", "width_only"),
                                        ("pal", "none"), ("pal", "scale_0.5")])
def test_sample_aspect_ratio_is_the_clis(folder, anamorphic, name, case):
    flags, vf = SAR_CASES[case]
    src = anamorphic[name]
    ours, theirs = folder / f"sar_{name}_{case}.mkv", folder / f"sar_{name}_{case}_cli.mkv"
    run(transcode_graph(**flags), str(src), str(ours))
    media.run_ffmpeg("-i", str(src), *(["-vf", vf] if vf else []), "-c:v", "libx264", "-preset", "ultrafast", str(theirs))
    assert _video(ours)["size"] == _video(theirs)["size"]
    assert _video(ours)["sar"] == _video(theirs)["sar"] is not None
    assert _video(ours)["sar"] != 1


def test_sample_aspect_ratio_survives_super_resolution(folder, anamorphic):
    src = anamorphic["sar43"]
    ours, theirs = folder / "sar_sr.mkv", folder / "sar_sr_cli.mkv"
    small = folder / "sar43_small.mkv"  # vsr is the slow node: a small frame
    media.run_ffmpeg("-i", str(src), "-vf", "scale=80:60", "-c:v", "libx264", "-preset", "ultrafast", str(small))
    run(transcode_graph(sr=2), str(small), str(ours))
    media.run_ffmpeg("-i", str(small), "-vf", "scale=iw*2:ih*2", "-c:v", "libx264", "-preset", "ultrafast", str(theirs))
    assert _video(ours)["size"] == _video(theirs)["size"] == (160, 120)
    assert _video(ours)["sar"] == _video(theirs)["sar"] == Fraction(4, 3)


def test_resized_keeps_the_display_aspect_ratio_as_ffmpegs_scale():
    info = StreamInfo(720, 576, "yuv420p", Fraction(1, 25), sample_aspect_ratio=Fraction(64, 45))
    assert info.resized(360, 288).sample_aspect_ratio == Fraction(64, 45)
    assert info.resized(1024, 576).sample_aspect_ratio == 1
    assert info.resized(1024, 576).display_aspect_ratio == Fraction(16, 9) == info.display_aspect_ratio
    assert StreamInfo(64, 48, "gray", Fraction(1, 25)).resized(32, 48).sample_aspect_ratio is None


# -- interlacing ------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def interlaced(folder) -> dict[str, Path]:
    out = {}
    for order in ("tff", "bff"):
        path = folder / f"il_{order}.mkv"
        media.run_ffmpeg("-f", "lavfi", "-i", "testsrc2=size=64x48:rate=25", "-vf",
                         f"tinterlace=interleave_{'top' if order == 'tff' else 'bottom'},fieldorder={order}",
                         "-flags", "+ildct+ilme", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
                         "-frames:v", "6", str(path))
        out[order] = path
    return out


def test_interlaced_input_is_detected_with_its_field_order(interlaced, folder, caplog):
    source_module._REPORTED.discard(str(interlaced["tff"]))  # reported once per process
    with caplog.at_level("WARNING", logger="vproc"):
        with Source(interlaced["tff"]) as src:
            assert src.info.interlaced and src.info.top_field_first is True
    assert "interlaced (top field first)" in caplog.text
    with Source(interlaced["bff"]) as src:
        assert src.info.interlaced and src.info.top_field_first is False
    with Source(_stored(folder)) as src:
        assert not src.info.interlaced and src.info.field_order == "progressive"


def test_probe_shows_geometry(interlaced, anamorphic, folder):
    v = probe(str(interlaced["tff"]))["video"]
    assert v["interlaced"] is True and v["field_order"] in ("tt", "tb")
    v = probe(str(anamorphic["pal"]))["video"]
    assert (v["sample_aspect_ratio"], v["display_aspect_ratio"], v["interlaced"]) == ("64:45", "16:9", False)
    v = probe(str(_rotated(folder, "rot90_hflip")))["video"]
    assert (v["width"], v["height"], v["rotation"], v["hflip"], v["vflip"]) == (64, 48, 90, True, False)


@pytest.mark.parametrize("order", ["tff", "bff"])
def test_an_interlaced_output_is_flagged_as_the_clis_unless_deinterlaced(interlaced, folder, order):
    src = interlaced[order]
    ours, theirs, deint = folder / f"il_{order}_ours.mkv", folder / f"il_{order}_cli.mkv", folder / f"il_{order}_d.mkv"
    run(transcode_graph(), str(src), str(ours))
    media.run_ffmpeg("-i", str(src), "-c:v", "libx264", "-preset", "ultrafast", str(theirs))
    run(transcode_graph(deinterlace="auto"), str(src), str(deint))

    def field_order(path):
        with av.open(str(path)) as c:
            return c.streams.video[0].codec_context.field_order

    assert field_order(ours) == field_order(theirs) == field_order(src) != 1
    assert field_order(deint) == 1  # progressive
