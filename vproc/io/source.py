"""Decoding input media with PyAV.

:class:`Source` opens anything FFmpeg reads, picks the best video stream, describes it as a
:class:`~vproc.frame.StreamInfo` (size, format, bit depth, rate, time base, colour metadata) and
yields its frames as read-only views of the decoder's planes (threaded decoding), plus the raw
packets of the audio and subtitle streams, which the sink copies into the output unchanged.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction

import av

from ..errors import ConfigError, MediaError
from ..formats import FORMATS, fallback_format, get_format
from ..frame import Frame, StreamInfo
from .avframes import color_info, from_av

log = logging.getLogger("vproc")


@dataclass
class DecodeStats:
    frames: int = 0
    corrupt_skipped: int = 0
    packets_passed: int = 0


class Source:
    """An opened input: ``info`` describes its video; iterate :meth:`items` to read it.

    ``on_error`` decides what a decode error in the middle of the stream does (also a packet or
    a frame FFmpeg flags corrupt): ``"stop"`` raises :class:`MediaError` naming the time,
    ``"skip"`` logs it, counts it, drops the broken packet or frame and goes on.
    """

    def __init__(self, url: str, *, on_error: str = "stop", options: dict[str, str] | None = None,
                 audio: bool = True, subtitles: bool = True, live: bool = False):
        """``live``: a live stream, read for low delay: a frame whose pts is not after the
        previous one is passed on instead of dropped as a duplicate (a stream republished on the
        same connection starts its clock again; the live source puts it on its own timeline), no
        timestamp look-ahead, and slice threads only in the decoder (frame threads hold frames
        back, one per thread)."""
        self.live = live
        if on_error not in ("stop", "skip"):
            raise ConfigError(f"on_error must be 'stop' or 'skip' (got {on_error!r})")
        self.url = str(url)
        self.on_error = on_error
        self.stats = DecodeStats()
        self._stop = threading.Event()
        if "://" not in self.url and not os.path.exists(self.url):
            raise MediaError(f"input '{self.url}' does not exist")
        try:
            self.container = av.open(self.url, "r", options=options or {})
        except av.FFmpegError as exc:
            raise MediaError(f"input '{self.url}' cannot be opened as media: {_reason(exc)}") from None
        try:
            self._setup(audio, subtitles)
        except BaseException:
            self.container.close()
            raise

    def _setup(self, audio: bool, subtitles: bool) -> None:
        videos = [s for s in self.container.streams.video if s.codec_context is not None]
        if not videos:
            raise MediaError(f"input '{self.url}' has no video stream")
        # FFmpeg's own choice of "best" stream (largest, default disposition), as ffmpeg -map does.
        best = max(videos, key=lambda s: (bool(s.disposition & 1) if s.disposition else 0, (s.codec_context.width or 0) * (s.codec_context.height or 0)))
        self.video = best
        # Files: frame + slice threads. Live: slice threads only (see live above).
        self.video.thread_type = "SLICE" if self.live else "AUTO"
        cc = best.codec_context
        if not cc.width or not cc.height or cc.format is None:
            raise MediaError(f"input '{self.url}': video stream has no size or pixel format (is it complete?)")
        av_fmt = cc.format.name
        self._decoder_layout = (cc.width, cc.height, av_fmt)
        name = av_fmt if av_fmt in FORMATS else None
        if name is None and av_fmt.startswith("yuvj"):
            name = av_fmt.replace("yuvj", "yuv")
        self._convert_to = None
        if name is None:
            name = fallback_format(av_fmt)
            self._convert_to = name
            log.warning("input pixel format %s is converted to %s for processing", av_fmt, name)
        self.passthrough = [s for s in self.container.streams
                            if (audio and s.type == "audio") or (subtitles and s.type == "subtitle")]
        rate = best.average_rate or best.guessed_rate
        frames = best.frames or None
        if frames is None and best.duration and rate:
            frames = int(best.duration * best.time_base * rate + Fraction(1, 2))
        elif frames is None and self.container.duration and rate:
            frames = int(Fraction(self.container.duration, av.time_base) * rate + Fraction(1, 2))
        self.info = StreamInfo(
            width=cc.width,
            height=cc.height,
            format=name,
            time_base=Fraction(best.time_base),
            rate=Fraction(rate) if rate else None,
            color=color_info(cc, av_fmt),
            frames=frames,
            sample_aspect_ratio=Fraction(best.sample_aspect_ratio) if best.sample_aspect_ratio else None,
        )

    @property
    def bit_depth(self) -> int:
        return get_format(self.info.format).bits

    def stop(self) -> None:
        """Ask :meth:`items` to end early (Ctrl-C): what was read so far stays valid."""
        self._stop.set()

    def items(self) -> Iterator[Frame | av.Packet]:
        """Video frames (as :class:`Frame`) and passthrough packets, in demux order."""
        self._last_pts = None
        # Live streams come in containers with real pts, and a look-ahead would hold their
        # first frames back at every (re)connection: none for them.
        clock = _BestEffortPts(lookahead=0 if self.live else _BestEffortPts.LOOKAHEAD)
        streams = [self.video, *self.passthrough]
        packets = self.container.demux(*streams)
        while not self._stop.is_set():
            try:
                packet = next(packets)
            except StopIteration:
                break
            except av.FFmpegError as exc:  # a broken container: keep what decoded, then stop
                self._fail(exc, "demux")
                break
            if packet.is_corrupt:
                # The demuxer read it damaged (MPEG-TS continuity errors, a cut file). FFmpeg only
                # logs this and goes on; here it is an input error like any other.
                self._fail(f"corrupt {packet.stream.type} packet (stream #{packet.stream.index})", "demux")
                continue
            if packet.stream is not self.video:
                if packet.size:  # skip the demuxer's empty flush packets
                    if self.on_error == "skip" and packet.stream.type == "audio" and not self._decodes(packet):
                        continue
                    self.stats.packets_passed += 1
                    yield packet
                continue
            try:
                decoded = self.video.decode(packet)
            except av.FFmpegError as exc:
                self._fail(exc, "decode")
                continue
            for avf in decoded:
                if avf.is_corrupt:  # decoded, but with errors the decoder concealed (garbage in the bitstream)
                    self._fail("frame decoded with errors", "decode")
                    continue
                yield from self._frames(clock.push(avf))
        yield from self._frames(clock.finish())
        if self.stats.frames == 0 and not self._stop.is_set():
            raise MediaError(f"input '{self.url}': no video frame could be decoded")

    def _frames(self, decoded: list[av.VideoFrame]) -> Iterator[Frame]:
        for avf in decoded:
            if self._stop.is_set():
                return
            if avf.pts is None:  # raw streams without timestamps: step by the nominal rate
                avf.pts = 0 if self._last_pts is None else self._last_pts + _frame_step(self.info)
            if self._last_pts is not None and avf.pts <= self._last_pts and not self.live:
                log.warning("input frame at pts %d is not after pts %d; dropped as a duplicate", avf.pts, self._last_pts)
                self.stats.corrupt_skipped += 1
                continue
            if (avf.width, avf.height, avf.format.name) != self._decoder_layout:
                # Size or format changed mid-stream: scale back to what the graph was opened
                # for, as the ffmpeg CLI does, rather than fail hours into a file.
                avf = avf.reformat(self._decoder_layout[0], self._decoder_layout[1], self._decoder_layout[2])
            self._last_pts = avf.pts
            self.stats.frames += 1
            yield from_av(avf, self._convert_to, self.info.time_base)

    def _decodes(self, packet: av.Packet) -> bool:
        """Whether a passthrough audio packet decodes (checked only when skipping errors).

        FFmpeg stops at the first broken packet it is asked to copy (an AAC frame that lost its
        ADTS header, say), so skipping must drop those here, before they reach it.
        """
        try:
            packet.stream.decode(packet)
        except av.FFmpegError as exc:
            self._fail(exc, "audio decode")
            return False
        return True

    def _fail(self, exc: Exception | str, what: str) -> None:
        t = float((self._last_pts or 0) * self.info.time_base)
        msg = f"input '{self.url}': {what} error after frame {self.stats.frames} (t={t:.3f}s): {_reason(exc)}"
        # Recordings cut mid-GOP (TS captures, live dumps) start with packets that reference what
        # was cut off; that is how such files are, not damage, so before the first good frame it
        # is skipped (with a warning) whatever on_error says. A file with no good frame fails below.
        if self.on_error == "stop" and self.stats.frames > 0:
            raise MediaError(msg + " (use --on-error skip to go on)")
        self.stats.corrupt_skipped += 1
        log.warning("%s; skipped", msg)

    def close(self) -> None:
        self.container.close()

    def __enter__(self) -> Source:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class _BestEffortPts:
    """Presentation times as FFmpeg's ``best_effort_timestamp`` picks them (libavcodec's
    ``guess_correct_pts``): a frame's pts, unless pts have gone backwards more often than the
    decode timestamps, then its dts.

    Some containers carry decode-order stamps as pts (AVI with B-frames): the decoder hands out
    frames in presentation order with shuffled pts, and the dts are the right clock. The choice is
    first made over a look-ahead of the opening frames, so a file is not switched from one clock to
    the other after a few frames (the two would collide there), then kept up to date per frame.
    """

    LOOKAHEAD = 16

    def __init__(self, lookahead: int = LOOKAHEAD):
        self.lookahead = lookahead
        self.pending: list[av.VideoFrame] | None = [] if lookahead > 0 else None
        self.faulty_pts = self.faulty_dts = 0
        self.last_pts = self.last_dts = None

    def push(self, avf: av.VideoFrame) -> list[av.VideoFrame]:
        self._count(avf)
        if self.pending is None:
            return [self._stamp(avf)]
        self.pending.append(avf)
        return self.finish() if len(self.pending) >= self.lookahead else []

    def finish(self) -> list[av.VideoFrame]:
        """Stamp and release the look-ahead (at its end, or at the end of the stream)."""
        held, self.pending = self.pending or [], None
        return [self._stamp(f) for f in held]

    def _count(self, avf: av.VideoFrame) -> None:
        if avf.dts is not None:
            self.faulty_dts += self.last_dts is not None and avf.dts <= self.last_dts
            self.last_dts = avf.dts
        if avf.pts is not None:
            self.faulty_pts += self.last_pts is not None and avf.pts <= self.last_pts
            self.last_pts = avf.pts

    def _stamp(self, avf: av.VideoFrame) -> av.VideoFrame:
        if avf.pts is None or self.faulty_pts > self.faulty_dts:
            # On the dts clock; frames drained at the end have none: then None, and the source
            # steps on from the last frame by the nominal rate, as the ffmpeg CLI does.
            avf.pts = avf.dts
        return avf


def _frame_step(info: StreamInfo) -> int:
    if info.rate:
        return max(1, round(1 / (info.rate * info.time_base)))
    return 1


def _reason(exc: Exception) -> str:
    return getattr(exc, "strerror", None) or str(exc)


def probe(url: str) -> dict:
    """A summary of an input's streams (for ``vproc probe``)."""
    with Source(url) as src:
        c = src.container
        info = src.info
        streams = []
        for s in c.streams:
            entry = {"index": s.index, "type": s.type, "codec": s.codec_context.name if s.codec_context else None,
                     "time_base": str(s.time_base) if s.time_base else None}
            if s.type == "audio":
                entry.update(sample_rate=s.codec_context.sample_rate, channels=s.codec_context.channels,
                             layout=s.codec_context.layout.name if s.codec_context.layout else None)
            if s.language:
                entry["language"] = s.language
            streams.append(entry)
        return {
            "url": url,
            "format": c.format.name,
            "duration": float(c.duration / av.time_base) if c.duration else None,
            "video": {
                "stream": src.video.index, "codec": src.video.codec_context.name,
                "width": info.width, "height": info.height, "pix_fmt": src.video.codec_context.format.name,
                "format": info.format, "bit_depth": src.bit_depth,
                "rate": str(info.rate) if info.rate else None, "time_base": str(info.time_base),
                "frames": info.frames, "color": dataclasses.asdict(info.color),
            },
            "streams": streams,
        }
