"""Conversions between PyAV's VideoFrame and vproc's Frame, and FFmpeg's colour names.

Decoded frames become Frames whose arrays are read-only numpy *views* of the decoder's planes
(no copy); the other way, a Frame still viewing an untouched decoder frame hands that frame back.
"""

from __future__ import annotations

import struct
from fractions import Fraction

import av
import numpy as np

from ..formats import get_format
from ..frame import ColorInfo, Frame

# FFmpeg's enum values (libavutil/pixfmt.h, stable ABI) -> the names its command line takes.
COLORSPACES = {0: "gbr", 1: "bt709", 4: "fcc", 5: "bt470bg", 6: "smpte170m", 7: "smpte240m",
               8: "ycgco", 9: "bt2020nc", 10: "bt2020c", 14: "ictcp"}
PRIMARIES = {1: "bt709", 4: "bt470m", 5: "bt470bg", 6: "smpte170m", 7: "smpte240m", 8: "film",
             9: "bt2020", 10: "smpte428", 11: "smpte431", 12: "smpte432", 22: "jedec-p22"}
TRANSFERS = {1: "bt709", 4: "gamma22", 5: "gamma28", 6: "smpte170m", 7: "smpte240m", 8: "linear",
             9: "log100", 10: "log316", 11: "iec61966-2-4", 12: "bt1361e", 13: "iec61966-2-1",
             14: "bt2020-10", 15: "bt2020-12", 16: "smpte2084", 17: "smpte428", 18: "arib-std-b67"}
RANGES = {1: "tv", 2: "pc"}


def side_data_entries(side_data) -> list:
    """The entries (each with ``.type`` and the buffer protocol) of a PyAV frame's ``side_data``.

    PyAV 18.1.1 made the container a mapping from type to entry, whose iteration yields the
    types; before, iterating it yielded the entries."""
    values = getattr(side_data, "values", None)
    return list(values()) if callable(values) else list(side_data)


def h264_qp(side_data) -> float | None:
    """The mean quantiser (QP, 0..51, area-weighted over the macroblocks) of a frame an H.264
    decoder exported its encoding parameters for (``export_side_data=venc_params``:
    ``AV_FRAME_DATA_VIDEO_ENC_PARAMS`` of type H.264), or None."""
    for sd in side_data_entries(side_data):
        if "VIDEO_ENC_PARAMS" not in str(sd.type):
            continue
        raw = bytes(sd)
        if len(raw) < 32:
            return None
        # AVVideoEncParams: unsigned nb_blocks; size_t blocks_offset, block_size; enum type; int32 qp
        nb, offset, size = struct.unpack_from("<I4xQQ", raw, 0)
        kind, qp = struct.unpack_from("<Ii", raw, 24)
        if kind != _ENC_PARAMS_H264:
            return None
        if not nb or size < 20 or offset + nb * size > len(raw):
            return float(qp)
        # AVVideoBlockParams: int src_x, src_y, w, h; int32 delta_qp
        blocks = np.ndarray((nb, size // 4), np.int32, raw, offset, (size, 4))[:, :5]
        area = blocks[:, 2].astype(np.float64) * blocks[:, 3]
        return float(qp + (blocks[:, 4] * area).sum() / area.sum()) if area.sum() > 0 else float(qp)
    return None


_ENC_PARAMS_H264 = 1  # AV_VIDEO_ENC_PARAMS_H264


def color_info(obj, pix_fmt: str = "") -> ColorInfo:
    """ColorInfo of a codec context or VideoFrame (both carry FFmpeg's colour fields)."""
    rng = RANGES.get(int(obj.color_range or 0))
    if rng is None and pix_fmt.startswith("yuvj"):
        rng = "pc"  # the deprecated J formats mean full range
    return ColorInfo(
        matrix=COLORSPACES.get(int(obj.colorspace or 2)),
        range=rng,
        primaries=PRIMARIES.get(int(obj.color_primaries or 2)),
        transfer=TRANSFERS.get(int(obj.color_trc or 2)),
    )


def plane_views(avf: av.VideoFrame, fmt_name: str, writable: bool = False) -> tuple[np.ndarray, ...]:
    """Numpy views of an av.VideoFrame's planes, cropped from their line padding.

    Read-only unless ``writable`` (for filling a frame vproc allocated itself): decoded frames
    are shared by every consumer of a branching graph.
    """
    fmt = get_format(fmt_name)
    views = []
    for plane, spec, shape in zip(avf.planes, fmt.planes, fmt.plane_shapes(avf.width, avf.height)):
        row = plane.line_size // fmt.dtype.itemsize
        arr = np.frombuffer(plane, fmt.dtype)[: shape[0] * row].reshape(shape[0], row)
        arr = arr[:, : shape[1] * spec.channels]
        if spec.channels > 1:
            arr = arr.reshape(shape)
        arr.flags.writeable = writable
        views.append(arr)
    return tuple(views)


def from_av(avf: av.VideoFrame, fmt_name: str | None = None, time_base: Fraction | None = None) -> Frame:
    """A Frame viewing ``avf``'s planes; a ``fmt_name`` other than avf's converts (a copy) first."""
    name = fmt_name or avf.format.name
    fmt = get_format(name)
    if avf.format.name != fmt.transport:
        avf = avf.reformat(format=fmt.transport)
    tb = Fraction(time_base or avf.time_base)
    duration = avf.duration or None
    if fmt.is_float:  # 16-bit RGB -> planar float RGB in [0, 1]
        rgb = avf.to_ndarray()
        data = rgb.transpose(2, 0, 1).astype(np.float32) * np.float32(1 / 65535)
        return Frame(data, int(avf.pts), tb, name, duration=duration)
    planes = plane_views(avf, name)
    data = planes[0] if len(planes) == 1 else planes
    return Frame(data, int(avf.pts), tb, name, duration=duration, _av_frame=avf)


def to_av(frame: Frame) -> av.VideoFrame:
    """An av.VideoFrame with the Frame's pixels and pts (no copy when it still views one).

    Float RGB frames become 16-bit RGB frames (their transport format).
    """
    avf = frame._av_frame
    if avf is None:
        fmt = get_format(frame.format)
        avf = av.VideoFrame(frame.width, frame.height, fmt.transport)
        views = plane_views(avf, fmt.transport, writable=True)
        if fmt.is_float:
            rgb = np.stack(frame.planes, axis=-1) * np.float32(65535)
            np.clip(rgb + np.float32(0.5), 0, 65535, out=rgb)
            np.copyto(views[0], rgb, casting="unsafe")  # truncation after +0.5: round to nearest
        else:
            for dst, src in zip(views, frame.planes):
                np.copyto(dst, src, casting="no")
    avf.pts = frame.pts
    avf.time_base = frame.time_base
    return avf
