"""HDR10 static metadata: the mastering display and the content light level, source to output.

The ffmpeg CLI carries a source's mastering-display colour volume (SMPTE ST 2086) and content
light level (MaxCLL/MaxFALL) to its encoder as side data. vproc's frames reach FFmpeg as
rawvideo through a NUT pipe, which carries no side data, so the values are read from the
source's first frame (:meth:`HDRMetadata.from_side_data`) and handed to the encoders that write
them, in their own syntax (:meth:`HDRMetadata.encoder_args`): x265's ``master-display`` and
``max-cll``, x264's ``mastering-display`` and ``cll``, SVT-AV1's ``mastering-display`` and ``content-light``. They are written only while
the output is still HDR (a PQ or HLG transfer), since a graph may have made it something else.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from fractions import Fraction

#: Transfers of HDR video: SMPTE ST 2084 (PQ) and ARIB STD-B67 (HLG).
HDR_TRANSFERS = ("smpte2084", "arib-std-b67")


def _q(num: int, den: int) -> Fraction:
    return Fraction(num, den) if den else Fraction(0)


@dataclass(frozen=True)
class HDRMetadata:
    """Chromaticities (CIE 1931 xy) of the display's red, green, blue and white point, its
    luminance range (cd/m2), and the content's MaxCLL/MaxFALL (cd/m2); None where absent."""

    primaries: tuple[tuple[Fraction, Fraction], ...] | None = None  # (r, g, b), each (x, y)
    white: tuple[Fraction, Fraction] | None = None
    luminance: tuple[Fraction, Fraction] | None = None  # (min, max)
    max_cll: int | None = None
    max_fall: int | None = None

    @classmethod
    def from_side_data(cls, side_data) -> HDRMetadata | None:
        """From a decoded frame's side data (PyAV); None when it has neither kind."""
        primaries = white = luminance = None
        cll = fall = None
        found = False
        for sd in side_data:
            name = getattr(sd.type, "name", str(sd.type))
            raw = bytes(sd)
            if name == "MASTERING_DISPLAY_METADATA" and len(raw) >= 88:
                # AVMasteringDisplayMetadata: AVRational display_primaries[3][2] (r, g, b),
                # white_point[2], min_luminance, max_luminance; int has_primaries, has_luminance
                v = struct.unpack("<20i2i", raw[:88])
                rats = [_q(v[i], v[i + 1]) for i in range(0, 20, 2)]
                has_primaries, has_luminance = v[20], v[21]
                if has_primaries:
                    primaries = ((rats[0], rats[1]), (rats[2], rats[3]), (rats[4], rats[5]))
                    white = (rats[6], rats[7])
                if has_luminance:
                    luminance = (rats[8], rats[9])
                found = found or bool(has_primaries or has_luminance)
            elif name == "CONTENT_LIGHT_LEVEL" and len(raw) >= 8:
                cll, fall = struct.unpack("<2I", raw[:8])  # AVContentLightMetadata: MaxCLL, MaxFALL
                found = True
        if not found:
            return None
        return cls(primaries, white, luminance, cll, fall)

    def x265(self, names=("master-display", "max-cll")) -> list[str]:
        """x265's settings (x264's too, with its own names): chromaticities in 0.00002 units
        (G, B, R order), luminance in 0.0001 cd/m2."""
        out = []
        if self.primaries and self.white and self.luminance:
            (r, g, b), w = self.primaries, self.white

            def xy(p):
                return f"({round(p[0] * 50000)},{round(p[1] * 50000)})"

            out.append(f"{names[0]}=G{xy(g)}B{xy(b)}R{xy(r)}WP{xy(w)}"
                       f"L({round(self.luminance[1] * 10000)},{round(self.luminance[0] * 10000)})")
        if self.max_cll is not None:
            out.append(f"{names[1]}={self.max_cll},{self.max_fall or 0}")
        return out

    def svtav1(self) -> list[str]:
        """SVT-AV1's settings: the same quantities as decimals."""
        out = []
        if self.primaries and self.white and self.luminance:
            (r, g, b), w = self.primaries, self.white

            def xy(p):
                return f"({float(p[0]):.4f},{float(p[1]):.4f})"

            out.append(f"mastering-display=G{xy(g)}B{xy(b)}R{xy(r)}WP{xy(w)}"
                       f"L({float(self.luminance[1]):.4f},{float(self.luminance[0]):.4f})")
        if self.max_cll is not None:
            out.append(f"content-light={self.max_cll},{self.max_fall or 0}")
        return out

    def encoder_args(self, codec: str, args: list[str]) -> tuple[list[str], bool]:
        """``args`` (the user's extra encoder arguments) with this metadata added for ``codec``,
        and whether the encoder takes it at all (x264, x265 and SVT-AV1 do; others are left alone)."""
        flag, settings = {"libx265": ("-x265-params", self.x265()),
                          "libx264": ("-x264-params", self.x265(("mastering-display", "cll"))),
                          "libsvtav1": ("-svtav1-params", self.svtav1())}.get(codec, (None, []))
        if flag is None:
            return list(args), False
        if not settings:
            return list(args), True
        out = list(args)
        if flag in out[:-1]:  # the user's own params: ours are appended to them
            i = out.index(flag) + 1
            out[i] = f"{out[i]}:{':'.join(settings)}"
        else:
            out += [flag, ":".join(settings)]
        return out, True
