"""Trimming an input to a time range, as ``ffmpeg -ss START -to END -i IN`` (or ``-t DURATION``).

:class:`Trimmed` wraps a :class:`~vproc.io.source.Source`: it seeks the container to the last
keyframe at or before ``start`` (so only that GOP's head is decoded in vain), keeps the video
frames whose time is in ``[start, end)`` exactly (FFmpeg's accurate seek: the frames before
``start`` are decoded and discarded, not counted as drops), keeps the audio and subtitle packets
that overlap the range (copied packets cannot be cut inside, as with FFmpeg's ``-c:a copy``), and
moves every timestamp back by ``start``, so the output starts at zero as FFmpeg's does. Frame
accounting stays exact: the frames out are the frames of the range.
"""

from __future__ import annotations

from fractions import Fraction

import av

from ..errors import ConfigError
from ..frame import Frame


def parse_time(text: str | float | None, what: str) -> Fraction | None:
    """FFmpeg's time syntax: seconds (``90``, ``1.5``, ``-0.5`` is refused) or ``[HH:]MM:SS[.ms]``."""
    if text is None:
        return None
    if isinstance(text, (int, float)):
        value = Fraction(text).limit_denominator(1_000_000)
    else:
        parts = str(text).strip().split(":")
        try:
            if len(parts) > 3 or not all(parts):
                raise ValueError
            value = Fraction(0)
            for p in parts:
                value = value * 60 + Fraction(p)
        except (ValueError, ZeroDivisionError):
            raise ConfigError(f"{what} must be a time such as 90, 1.5 or 00:01:30.5 (got {text!r})") from None
    if value < 0:
        raise ConfigError(f"{what} must not be negative (got {text!r})")
    return value


def trim_range(start=None, to=None, duration=None) -> tuple[Fraction, Fraction | None] | None:
    """``(start, end)`` in seconds from ``--ss``/``--to``/``--t`` (None when nothing is trimmed)."""
    s = parse_time(start, "--ss")
    e = parse_time(to, "--to")
    d = parse_time(duration, "--t")
    if e is not None and d is not None:
        raise ConfigError("give --to or --t, not both")
    if s is None and e is None and d is None:
        return None
    s = s or Fraction(0)
    end = e if e is not None else (s + d if d is not None else None)
    if end is not None and end <= s:
        raise ConfigError(f"the end ({float(end):g}s) must come after the start ({float(s):g}s)")
    return s, end


class Trimmed:
    """A Source limited to ``[start, end)`` seconds of its timeline (see the module docstring);
    everything else (``info``, ``passthrough``, ``stats``, ``container`` ...) is the source's."""

    def __init__(self, source, start: Fraction, end: Fraction | None):
        self.source = source
        self.start, self.end = Fraction(start), None if end is None else Fraction(end)
        # The source's own zero: the time of its first frame is not always 0 (MPEG-TS starts at 1.4 s).
        self.origin = _start_time(source)
        duration = source.container.duration
        if duration and self.start >= Fraction(duration, av.time_base):
            raise ConfigError(f"--ss {float(self.start):g}s is past the end of the input "
                              f"({float(Fraction(duration, av.time_base)):.3f}s)")
        info = source.info
        frames = info.frames
        if frames is not None and info.rate:
            last = Fraction(frames) / info.rate
            stop = min(last, self.end) if self.end is not None else last
            frames = max(0, int((stop - min(self.start, last)) * info.rate + Fraction(1, 2)))
        self.info = info.replace(frames=frames)

    def __getattr__(self, name):
        return getattr(self.source, name)

    @property
    def span(self) -> tuple[Fraction, Fraction | None]:
        """The range kept, in seconds of the source's own timeline (its start time included)."""
        return self.origin + self.start, None if self.end is None else self.origin + self.end

    def items(self):
        begin, end = self.span
        if self.start > 0:
            self._seek_before(begin)
        for item in self.source.items():
            if isinstance(item, Frame):
                t = Fraction(item.pts) * item.time_base
                if t < begin:
                    continue
                if end is not None and t >= end:
                    self.source.stop()
                    continue
                item.pts -= int(round(begin / item.time_base))
                yield item
            else:
                if item.pts is None:
                    continue
                t = Fraction(item.pts) * item.time_base
                length = Fraction(item.duration or 0) * item.time_base
                if t + length <= begin or (end is not None and t >= end):
                    continue
                shift = int(round(begin / item.time_base))
                item.pts -= shift
                if item.dts is not None:
                    item.dts -= shift
                yield item

    def _seek_before(self, begin: Fraction) -> None:
        """Put the demuxer on a keyframe at or before ``begin``. An indexed file (MP4, MKV)
        lands there at once; MPEG-TS has no index, and its seek lands near the time asked,
        often after the keyframe before it: then the seek is retried further back (1, 2, 4 ...
        s) until the first keyframe read is not after ``begin``, or from the start."""
        container, video = self.source.container, self.source.video
        margin = Fraction(0)
        while True:
            target = begin - margin
            try:
                container.seek(max(0, int(target * av.time_base)), backward=True, any_frame=False)
            except av.FFmpegError:
                return  # not seekable (a pipe): read from the beginning and discard
            if target <= self.origin:
                return  # from the start: nothing is earlier
            keyframe = None
            for n, packet in enumerate(container.demux(video)):
                if n > 2000:
                    break
                if packet.is_keyframe and packet.pts is not None:
                    keyframe = Fraction(packet.pts) * packet.time_base
                    break
            if keyframe is not None and keyframe <= begin:
                container.seek(max(0, int(target * av.time_base)), backward=True, any_frame=False)  # the same place again
                return
            margin = max(Fraction(1), 2 * margin)

    def close(self) -> None:
        self.source.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _start_time(source) -> Fraction:
    """Where the source's timeline starts, in seconds (the container's start time)."""
    c = source.container
    if c.start_time is not None:
        return Fraction(c.start_time, av.time_base)
    return Fraction(0)
