"""Which YUV<->RGB matrix and range apply to a stream, in one place for every converter.

FFmpeg leaves the matrix unspecified in many files; like most players, vproc then assumes BT.709
for HD sizes (height >= 720) and BT.601 below, and limited ("tv") range for YUV.
"""

from __future__ import annotations

from .frame import StreamInfo

# FFmpeg colorspace names -> the matrix family they use for YUV<->RGB.
MATRIX_FAMILY = {
    "bt709": "bt709", "bt470bg": "bt601", "smpte170m": "bt601", "fcc": "fcc",
    "smpte240m": "smpte240m", "bt2020nc": "bt2020", "bt2020c": "bt2020",
}


# The FFmpeg colorspace tag written for each matrix family.
TAG_FOR_MATRIX = {"bt601": "smpte170m", "bt709": "bt709", "bt2020": "bt2020nc", "smpte240m": "smpte240m", "fcc": "fcc"}


def matrix_of(info: StreamInfo) -> str:
    """The matrix family (bt601, bt709, bt2020, smpte240m, fcc) the stream's YUV uses."""
    family = MATRIX_FAMILY.get(info.color.matrix or "")
    if family:
        return family
    return "bt709" if info.height >= 720 else "bt601"


def full_range(info: StreamInfo) -> bool:
    """Whether the stream's samples use the full range; RGB and grey from RGB are always full."""
    if info.color.range:
        return info.color.range == "pc"
    return info.pixel_format.family == "rgb"
