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

from .avframes import side_data_entries

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
        for sd in side_data_entries(side_data):
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

    def settings(self, display: str, light: str, xy_unit: int | None, lum_unit: int | None) -> list[str]:
        """``display=G(x,y)B(x,y)R(x,y)WP(x,y)L(max,min)`` and ``light=MaxCLL,MaxFALL`` as an
        encoder spells them: values as integers in ``1/xy_unit`` and ``1/lum_unit`` (x264 and
        x265: 0.00002 and 0.0001 cd/m2), or as decimals where the unit is None (SVT-AV1)."""

        def num(value: Fraction, unit: int | None) -> str:
            return str(round(value * unit)) if unit else f"{float(value):.4f}"

        out = []
        if self.primaries and self.white and self.luminance:
            (r, g, b), w = self.primaries, self.white
            xy = {name: f"({num(p[0], xy_unit)},{num(p[1], xy_unit)})" for name, p in zip("GBRW", (g, b, r, w))}
            out.append(f"{display}=G{xy['G']}B{xy['B']}R{xy['R']}WP{xy['W']}"
                       f"L({num(self.luminance[1], lum_unit)},{num(self.luminance[0], lum_unit)})")
        if self.max_cll is not None:
            out.append(f"{light}={self.max_cll},{self.max_fall or 0}")
        return out

    def encoder_args(self, codec: str, args: list[str]) -> tuple[list[str], bool]:
        """``args`` (the user's extra encoder arguments) with this metadata added for ``codec``,
        and whether the encoder takes it at all (x264, x265 and SVT-AV1 do; others are left alone)."""
        flag, settings = {"libx265": ("-x265-params", self.settings("master-display", "max-cll", 50000, 10000)),
                          "libx264": ("-x264-params", self.settings("mastering-display", "cll", 50000, 10000)),
                          "libsvtav1": ("-svtav1-params", self.settings("mastering-display", "content-light", None, None)),
                          }.get(codec, (None, []))
        if flag is None:
            return list(args), False
        if not settings:
            return list(args), True
        out = list(args)
        given = [i for i, a in enumerate(out[:-1]) if a in (flag, f"{flag}:v", f"{flag}:v:0")]
        if given:  # the user's own params: ours go first, so the user's win where both set one
            i = given[0] + 1
            out[i] = f"{':'.join(settings)}:{out[i]}"
        else:
            out += [flag, ":".join(settings)]
        return out, True
