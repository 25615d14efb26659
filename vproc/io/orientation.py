"""Display matrices (phone rotation) as FFmpeg reads, applies and writes them.

A display matrix is FFmpeg's ``AV_PKT_DATA_DISPLAYMATRIX`` / ``AV_FRAME_DATA_DISPLAYMATRIX``:
nine int32 (16.16 fixed point, the last column 2.30) saying how a player must turn the stored
frames to show them upright. Three things are done with one, each as FFmpeg does it:

- :func:`rotation_get`: libavutil's ``av_display_rotation_get``, the counter-clockwise angle
  FFmpeg prints as "displaymatrix: rotation of 90.00 degrees".
- :func:`autorotate_filters`: the filters the ``ffmpeg`` CLI inserts when it autorotates
  (``fftools/ffmpeg_filter.c``, with ``cmdutils.c``'s ``get_rotation``): ``transpose=cclock``
  for 90 degrees counter-clockwise, ``clock`` for 270, ``hflip``/``vflip`` for 180, their
  ``_flip`` variants for mirrored matrices, ``rotate`` for odd angles. The source runs them
  through :class:`vproc.io.lavfi.FilterChain`, so frames come out as ``ffmpeg -i`` decodes them.
- :func:`cli_options`: the ``-display_rotation`` / ``-display_hflip`` / ``-display_vflip``
  input options that make FFmpeg write the same matrix again (``av_display_rotation_set`` then
  ``av_display_matrix_flip``), for outputs that keep the frames as stored (``autorotate=False``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from .avframes import side_data_entries


def matrix_of(side_data) -> tuple[int, ...] | None:
    """The display matrix in a PyAV frame's ``side_data``, or None."""
    for sd in side_data_entries(side_data):
        if "DISPLAYMATRIX" in str(sd.type):
            values = np.frombuffer(bytes(sd), np.int32)
            return tuple(int(v) for v in values[:9]) if values.size >= 9 else None
    return None


def _fp(v: int) -> float:  # CONV_FP: 16.16 fixed point
    return v / 65536.0


def rotation_get(m: Sequence[int]) -> float:
    """``av_display_rotation_get``: degrees the matrix turns the frame counter-clockwise, in
    [-180, 180]; NaN for a degenerate matrix."""
    s0 = math.hypot(_fp(m[0]), _fp(m[3]))
    s1 = math.hypot(_fp(m[1]), _fp(m[4]))
    if s0 == 0 or s1 == 0:
        return math.nan
    return -math.degrees(math.atan2(_fp(m[1]) / s1, _fp(m[0]) / s0))


def theta(m: Sequence[int] | None) -> float:
    """``get_rotation`` of the ffmpeg CLI: the clockwise angle in [0, 360) it rotates by."""
    t = 0.0
    if m is not None:
        r = rotation_get(m)
        if not math.isnan(r):
            t = -float(math.floor(r + 0.5) if r >= 0 else math.ceil(r - 0.5))  # C's round()
    return t - 360 * math.floor(t / 360 + 0.9 / 360)


def autorotate_filters(m: Sequence[int] | None) -> list[tuple[str, str | None]]:
    """The filters ``ffmpeg`` inserts to show frames with display matrix ``m`` upright."""
    if m is None:
        return []
    t = theta(m)
    if abs(t - 90) < 1.0:
        return [("transpose", "cclock_flip" if m[3] > 0 else "clock")]
    if abs(t - 180) < 1.0:
        return ([("hflip", None)] if m[0] < 0 else []) + ([("vflip", None)] if m[4] < 0 else [])
    if abs(t - 270) < 1.0:
        return [("transpose", "clock_flip" if m[3] < 0 else "cclock")]
    if abs(t) > 1.0:
        return [("rotate", f"{t:f}*PI/180")]
    return [("vflip", None)] if m[4] < 0 else []


def swaps_sides(m: Sequence[int] | None) -> bool:
    """Whether autorotation exchanges width and height (a transpose)."""
    return any(name == "transpose" for name, _ in autorotate_filters(m))


def rotation_set(degrees_ccw: float, hflip: bool = False, vflip: bool = False) -> tuple[int, ...]:
    """The matrix FFmpeg's ``-display_rotation degrees_ccw [-display_hflip] [-display_vflip]``
    writes (``av_display_rotation_set(-degrees)`` then ``av_display_matrix_flip``)."""
    radians = math.radians(degrees_ccw)  # av_display_rotation_set(angle=-deg): radians = -angle * pi / 180
    c, s = math.cos(radians), math.sin(radians)
    conv = lambda x: int(x * 65536)  # CONV_DB truncates toward zero  # noqa: E731
    m = [conv(c), conv(-s), 0, conv(s), conv(c), 0, 0, 0, 1 << 30]
    flip = (-1 if hflip else 1, -1 if vflip else 1, 1)
    return tuple(v * flip[i % 3] for i, v in enumerate(m))


def cli_options(m: Sequence[int] | None) -> tuple[int, bool, bool]:
    """``(degrees counter-clockwise in [0, 360), hflip, vflip)`` that FFmpeg's display options
    turn back into ``m``: exactly for the eight right-angle orientations phones and cameras
    write; for any other matrix the nearest whole angle, without flips."""
    if m is None:
        return 0, False, False
    for degrees in (0, 90, 180, 270):
        for hflip, vflip in ((False, False), (True, False), (False, True)):
            cand = rotation_set(degrees, hflip, vflip)
            if all(abs(cand[i] - m[i]) <= 64 for i in (0, 1, 3, 4)):
                return degrees, hflip, vflip
    r = rotation_get(m)
    return (0 if math.isnan(r) else int(round(r)) % 360), False, False
