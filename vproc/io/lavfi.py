"""FFmpeg's own filters (libavfilter), run in-process through PyAV's filter graph.

:class:`FilterChain` wraps one linear chain ``buffer -> f1 -> f2 ... -> buffersink``: frames are
pushed in as ``av.VideoFrame`` and pulled out as FFmpeg produced them, so whatever FFmpeg's CLI
does with ``-vf`` (format negotiation, the scalers it inserts, the filters' own threads) happens
here bit for bit. The source uses it for autorotation (``transpose``/``hflip``/``vflip``/
``rotate``, as the ``ffmpeg`` CLI's autorotate), and the ``ffmpeg`` and ``deinterlace`` nodes run
user chains and ``bwdif`` on it (:mod:`vproc.nodes.avfilter`).

Design points:

- Text chains (``"unsharp=5:5:1.0,scale=320:-2"``) are split as libavfilter's own parser does
  (:func:`parse_chain`: ``av_get_token``'s quoting and backslash escapes, one level removed, the
  arguments then parsed by the filter itself). Only linear chains: labels (``[in]``) and ``;`` are
  refused, as a node has one input and one output.
- What comes out: PyAV exposes neither the buffersink's link properties nor a frame's sample
  aspect ratio, so :meth:`FilterChain.probe` builds a second graph from the same description,
  pushes one blank frame and the end of stream through it and reads the first frame out (size,
  pixel format, time base, colour tags). A chain that gives no frame for one frame in (``select``
  dropping it, ``trim``) cannot be described this way: :class:`~vproc.errors.ConfigError`.
- Frames with negative line sizes (``vflip`` flips by pointer arithmetic) cannot be viewed by
  numpy; they go through a ``copy`` filter (one ``av_frame_copy``) before they leave.
- Which filters: those of the libavfilter PyAV bundles, an LGPL build: GPL filters (``hqdn3d``,
  ``eq``, ``pp``, ``smartblur``, ``drawtext``, ...) are not there, and an unknown name is a
  :class:`~vproc.errors.ConfigError` saying so.
- Colour tags: the buffer is declared with the stream's matrix and range, and a pushed frame
  whose tags differ (one vproc built itself, untagged) is tagged the same first, so libavfilter
  neither warns about changing properties nor converts with other coefficients.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from fractions import Fraction

import av

from ..errors import ConfigError, MediaError, did_you_mean

_WHITESPACE = " \n\t\r"

# FFmpeg's enum values (libavutil/pixfmt.h) of the names vproc's ColorInfo uses.
_SPACE_VALUES = {"gbr": 0, "bt709": 1, "fcc": 4, "bt470bg": 5, "smpte170m": 6, "smpte240m": 7, "ycgco": 8,
                 "bt2020nc": 9, "bt2020c": 10, "ictcp": 14}
_RANGE_VALUES = {"tv": 1, "pc": 2}
_PRIMARIES_VALUES = {"bt709": 1, "bt470m": 4, "bt470bg": 5, "smpte170m": 6, "smpte240m": 7, "film": 8,
                     "bt2020": 9, "smpte428": 10, "smpte431": 11, "smpte432": 12, "jedec-p22": 22}
_TRANSFER_VALUES = {"bt709": 1, "gamma22": 4, "gamma28": 5, "smpte170m": 6, "smpte240m": 7, "linear": 8,
                    "log100": 9, "log316": 10, "iec61966-2-4": 11, "bt1361e": 12, "iec61966-2-1": 13,
                    "bt2020-10": 14, "bt2020-12": 15, "smpte2084": 16, "smpte428": 17, "arib-std-b67": 18}


def _get_token(text: str, pos: int, term: str) -> tuple[str, int]:
    """libavutil's ``av_get_token``: the text up to a ``term`` character outside quotes, with
    ``'...'`` quoting and ``\\`` escapes removed and outer whitespace trimmed; and where it ended."""
    n = len(text)
    while pos < n and text[pos] in _WHITESPACE:
        pos += 1
    out: list[str] = []
    end = 0  # length of the part that trailing-whitespace trimming must keep (quoted/escaped)
    while pos < n and text[pos] not in term:
        c = text[pos]
        pos += 1
        if c == "\\" and pos < n:
            out.append(text[pos])
            pos += 1
            end = len(out)
        elif c == "'":
            while pos < n and text[pos] != "'":
                out.append(text[pos])
                pos += 1
            if pos < n:
                pos += 1
                end = len(out)
        else:
            out.append(c)
    token = "".join(out)
    keep = len(token.rstrip(_WHITESPACE))
    return token[: max(keep, end)], pos


def parse_chain(text: str) -> list[tuple[str, str | None]]:
    """``"name=args,name2,..."`` -> ``[(name, args), (name2, None), ...]``, as libavfilter's
    graph parser reads a linear chain (the arguments keep their own ``:`` syntax)."""
    if not isinstance(text, str) or not text.strip():
        raise ConfigError("an FFmpeg filter chain must be a non-empty string, e.g. 'atadenoise' or 'scale=320:-2'")
    filters: list[tuple[str, str | None]] = []
    pos, n = 0, len(text)
    while True:
        name, pos = _get_token(text, pos, "=,;[]")
        if pos < n and text[pos] in "[];":
            raise ConfigError(f"filter chain '{text}': only a linear chain (filters separated by ',') is "
                              f"supported: no [labels] and no ';'")
        if not name:
            raise ConfigError(f"filter chain '{text}': a filter name is missing (at character {pos})")
        args = None
        if pos < n and text[pos] == "=":
            args, pos = _get_token(text, pos + 1, "[],;")
            if pos < n and text[pos] in "[];":
                raise ConfigError(f"filter chain '{text}': only a linear chain (filters separated by ',') is "
                                  f"supported: no [labels] and no ';'")
        filters.append((name, args))
        while pos < n and text[pos] in _WHITESPACE:
            pos += 1
        if pos >= n:
            return filters
        pos += 1  # the ','


def _chain_text(filters: Sequence[tuple[str, str | None]]) -> str:
    return ",".join(name if args is None else f"{name}={args}" for name, args in filters)


class FilterChain:
    """A linear libavfilter chain for frames of one size, pixel format and time base.

    ``filters``: a chain as text (:func:`parse_chain`) or ``[(name, args or None), ...]``.
    ``pix_fmt`` is FFmpeg's name of the frames pushed (an ``av.VideoFrame``'s ``format.name``);
    ``sar`` their sample aspect ratio (None: unknown); ``colorspace``/``color_range``/
    ``primaries``/``transfer`` FFmpeg's enum values (None: unspecified).
    """

    def __init__(self, filters: str | Iterable[tuple[str, str | None]], *, width: int, height: int, pix_fmt: str,
                 time_base: Fraction, sar: Fraction | None = None, colorspace: int | None = None,
                 color_range: int | None = None, primaries: int | None = None, transfer: int | None = None):
        self.filters = parse_chain(filters) if isinstance(filters, str) else list(filters)
        self.text = filters if isinstance(filters, str) else _chain_text(self.filters)
        self.width, self.height, self.pix_fmt = int(width), int(height), pix_fmt
        self.time_base = Fraction(time_base)
        self.sar = sar
        self.colours = (colorspace, color_range, primaries, transfer)
        self._graph = self._build(self.filters)
        self._copy: tuple[tuple, av.filter.Graph] | None = None
        self._ended = False

    @classmethod
    def for_info(cls, filters, info, pix_fmt: str | None = None) -> FilterChain:
        """A chain for the frames a :class:`~vproc.frame.StreamInfo` describes (as :func:`to_av`
        hands them over: in the format's transport pix_fmt unless ``pix_fmt`` says otherwise)."""
        c = info.color
        yuv = info.pixel_format.family != "rgb"
        return cls(filters, width=info.width, height=info.height, pix_fmt=pix_fmt or info.pixel_format.transport,
                   time_base=info.time_base, sar=info.sample_aspect_ratio,
                   colorspace=_SPACE_VALUES.get(c.matrix) if yuv else None,
                   color_range=_RANGE_VALUES.get("pc" if not yuv else c.range),
                   primaries=_PRIMARIES_VALUES.get(c.primaries), transfer=_TRANSFER_VALUES.get(c.transfer))

    # -- building -------------------------------------------------------------------------
    def _buffer_args(self) -> dict[str, str]:
        sar = self.sar if self.sar else Fraction(0, 1)
        args = {"video_size": f"{self.width}x{self.height}", "pix_fmt": self.pix_fmt,
                "time_base": f"{self.time_base.numerator}/{self.time_base.denominator}",
                "pixel_aspect": f"{sar.numerator}/{sar.denominator}"}
        space, rng = self.colours[:2]
        if space is not None:
            args["colorspace"] = str(space)
        if rng is not None:
            args["range"] = str(rng)
        return args

    def _build(self, filters) -> av.filter.Graph:
        graph = av.filter.Graph()
        last = graph.add("buffer", **self._buffer_args())
        for name, args in filters:
            if name not in av.filter.filters_available:
                raise ConfigError(
                    f"FFmpeg filter '{name}' is not in the libavfilter vproc runs in-process (PyAV's FFmpeg "
                    f"{getattr(av, 'ffmpeg_version_info', '')}, an LGPL build: GPL filters such as hqdn3d, eq, "
                    f"pp or drawtext are left out){did_you_mean(name, av.filter.filters_available)}")
            try:
                ctx = graph.add(name, args)
            except (ValueError, av.FFmpegError) as exc:
                raise ConfigError(f"FFmpeg filter '{name}'{'=' + args if args else ''}: {_reason(exc)}") from None
            last.link_to(ctx)
            last = ctx
        last.link_to(graph.add("buffersink"))
        try:
            graph.configure()
        except (ValueError, av.FFmpegError) as exc:
            raise ConfigError(f"FFmpeg filter chain '{self.text}' cannot take {self.width}x{self.height} "
                              f"{self.pix_fmt}: {_reason(exc)}") from None
        return graph

    def probe(self) -> av.VideoFrame:
        """The first frame the chain gives for one blank input frame and the end of stream (on
        a graph of its own): what its output looks like (see the module docstring)."""
        graph = self._build(self.filters)
        blank = av.VideoFrame(self.width, self.height, self.pix_fmt)
        blank.pts, blank.time_base = 0, self.time_base
        self._tag(blank)
        try:
            graph.push(blank)
            graph.push(None)
            out = _drain(graph)
        except av.FFmpegError as exc:
            raise ConfigError(f"FFmpeg filter chain '{self.text}' failed on a test frame: {_reason(exc)}") from None
        if not out:
            raise ConfigError(f"FFmpeg filter chain '{self.text}' gave no frame for a test frame, so its output "
                              f"size and format cannot be known before the video starts")
        return out[0]

    # -- running ----------------------------------------------------------------------------
    def push(self, avf: av.VideoFrame) -> list[av.VideoFrame]:
        """Frames out for one frame in (any number: filters may hold frames back)."""
        self._tag(avf)
        try:
            self._graph.push(avf)
            return [self._positive(f) for f in _drain(self._graph)]
        except av.FFmpegError as exc:
            raise MediaError(f"FFmpeg filter chain '{self.text}' failed: {_reason(exc)}") from None

    def flush(self) -> list[av.VideoFrame]:
        """End of stream: the frames still held."""
        if self._ended:
            return []
        self._ended = True
        try:
            self._graph.push(None)
            return [self._positive(f) for f in _drain(self._graph)]
        except av.FFmpegError as exc:
            raise MediaError(f"FFmpeg filter chain '{self.text}' failed at the end: {_reason(exc)}") from None

    def _tag(self, avf: av.VideoFrame) -> None:
        # Only where they differ: a decoder frame shared with other consumers is left as it is.
        for attr, value in zip(("colorspace", "color_range", "color_primaries", "color_trc"), self.colours):
            if value is not None and int(getattr(avf, attr) or 0) != value:
                setattr(avf, attr, value)

    def _positive(self, avf: av.VideoFrame) -> av.VideoFrame:
        """``avf``, or a copy of it with positive line sizes (see the module docstring)."""
        if all(p.line_size > 0 for p in avf.planes):
            return avf
        key = (avf.width, avf.height, avf.format.name, Fraction(avf.time_base or self.time_base))
        if self._copy is None or self._copy[0] != key:
            graph = av.filter.Graph()
            tb = key[3]
            src = graph.add("buffer", video_size=f"{key[0]}x{key[1]}", pix_fmt=key[2],
                            time_base=f"{tb.numerator}/{tb.denominator}")
            copy = graph.add("copy")
            src.link_to(copy)
            copy.link_to(graph.add("buffersink"))
            graph.configure()
            self._copy = (key, graph)
        graph = self._copy[1]
        graph.push(avf)
        return graph.vpull()


def _drain(graph: av.filter.Graph) -> list[av.VideoFrame]:
    out = []
    while True:
        try:
            out.append(graph.vpull())
        except (BlockingIOError, av.EOFError):
            return out


def _reason(exc: Exception) -> str:
    return getattr(exc, "strerror", None) or str(exc)
