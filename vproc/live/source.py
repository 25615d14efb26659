"""A live input that never ends by itself: reconnects, fills gaps, keeps one timeline.

:class:`LiveSource` has the interface the runtime reads (``info``, ``passthrough``, ``items()``,
``stop()``, ``stats``, ``close()``) and runs the input through a sequence of *sessions*, each an
ordinary :class:`~vproc.io.source.Source` (PyAV, low-latency demux options):

- A reader thread demuxes and decodes the current session into a short buffer, stamping each
  video frame with the moment it was decoded (``meta["live_arrival"]``, monotonic seconds). When
  the session ends or stalls (no data for ``stall_timeout``: FFmpeg's ``rw_timeout``), it
  connects again with capped exponential back-off (a listening input waits for the next
  publisher). A file ends the run at its end, paced at its own rate with ``realtime``.
- :meth:`items` hands the buffered frames and audio packets to the graph on one continuous
  timeline: the first session keeps its own timestamps; each later session, and each segment of
  a session whose clock starts again or leaps (a publisher replaced on the same connection), is
  shifted to start where the output has got to, so pts stay increasing across reconnects (the
  audio moves with its video; packets that would overlap what was already sent are dropped).
- While no frame arrives for ``gap`` seconds (source down or stalled), it repeats the last
  picture (or shows the ``slate`` image) at the stream's rate with silent AAC audio (encoded
  here, same rate and channels), so the output stays up and players and platforms keep it.
- Real-time policy: the buffer holds at most ``max_latency`` of frames (the oldest goes when it
  overflows), and a frame older than half of ``max_latency`` when the graph asks for it is
  dropped if a newer one is waiting; every drop is counted. Audio is never dropped by the
  policy.

The graph's StreamInfo is the first session's; later sessions of another size are scaled to it
(as :class:`~vproc.io.source.Source` does mid-stream). Only the first audio stream is carried.
"""

from __future__ import annotations

import io
import logging
import threading
import time
from collections import deque
from dataclasses import dataclass
from fractions import Fraction

import av
import numpy as np

from ..errors import MediaError
from ..frame import Frame
from ..io.source import DecodeStats, Source
from .stats import LiveStats

log = logging.getLogger("vproc")

#: Seconds before the first reconnection attempt; each next waits twice as long, up to the cap.
FIRST_RETRY = 0.1
# A forward jump in a session's video timestamps larger than this starts a new segment too.
_LEAP = Fraction(5)


@dataclass
class LivePacket:
    """A passthrough packet and the index of the template stream (:attr:`LiveSource.passthrough`)
    it belongs to, whatever session or encoder it came from."""

    packet: av.Packet
    index: int


def input_options(url: str, *, listen: bool, stall_timeout: float) -> dict[str, str]:
    """FFmpeg demuxer/protocol options for a low-latency live input.

    A small probe (256 KiB, 0.5 s) so the first frame comes quickly, but not ``fflags nobuffer``,
    which drops the first GOP; ``rw_timeout`` turns a stalled connection into an error after
    ``stall_timeout`` seconds, so the reader can reconnect."""
    opts = {"probesize": "262144", "analyzeduration": "500000"}
    scheme = url.split("://", 1)[0] if "://" in url else ""
    if scheme:
        opts["rw_timeout"] = str(int(stall_timeout * 1e6))
    if scheme in ("udp", "tcp", "http", "https"):
        # These read through their own socket waits, which rw_timeout does not bound: their
        # `timeout` (microseconds) does. (RTMP's `timeout` means something else: see below.)
        opts["timeout"] = str(int(stall_timeout * 1e6))
    if scheme.startswith("rtmp") and not listen:
        opts["rtmp_live"] = "live"  # play the live stream (not "any": no recorded-file fallback)
    if listen:
        opts["listen"] = "1"
        if url.startswith("rtmp"):
            opts["timeout"] = "2"  # seconds to wait for a publisher per attempt (then try again)
    return opts


_ADTS_RATES = (96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350)


def _adts_header(payload_size: int, rate: int, channels: int) -> bytes:
    """The 7-byte ADTS header of one AAC-LC frame (ISO/IEC 13818-7), no CRC."""
    length = payload_size + 7
    index = _ADTS_RATES.index(rate)
    bits = (0xFFF << 44) | (0 << 43) | (0 << 41) | (1 << 40)  # sync, MPEG-4, layer 0, no CRC
    bits |= (1 << 38) | (index << 34) | (channels << 30)  # profile LC (object type 2 - 1)
    bits |= (length << 13) | (0x7FF << 2)  # frame length, buffer fullness "variable"
    return bits.to_bytes(7, "big")


class _Silence:
    """Silent AAC packets matching an audio stream's rate and channels, for the gaps."""

    def __init__(self, stream):
        cc = stream.codec_context
        self.rate = cc.sample_rate
        self.time_base = Fraction(stream.time_base)
        enc = av.CodecContext.create("aac", "w")
        enc.sample_rate = self.rate
        enc.layout = cc.layout.name
        enc.format = "fltp"
        enc.time_base = Fraction(1, self.rate)
        enc.open()
        channels = len(cc.layout.channels)
        payload = None
        for i in range(6):  # past the encoder's priming: a steady silent frame
            frame = av.AudioFrame.from_ndarray(np.zeros((channels, 1024), np.float32), format="fltp", layout=cc.layout.name)
            frame.sample_rate = self.rate
            frame.pts = 1024 * i
            for packet in enc.encode(frame):
                payload = bytes(packet)
        if not cc.extradata and self.rate in _ADTS_RATES:
            # The stream carries its configuration in-band (ADTS, as MPEG-TS does): so must we.
            payload = _adts_header(len(payload), self.rate, channels) + payload
        self.payload = payload
        self.duration = Fraction(1024, self.rate)  # seconds per packet

    def packet(self, t: Fraction) -> av.Packet:
        """One silent packet starting at ``t`` seconds."""
        p = av.Packet(self.payload)
        p.time_base = self.time_base
        p.pts = p.dts = round(t / self.time_base)
        p.duration = round(self.duration / self.time_base)
        return p


def _detached_templates(streams) -> tuple[list, object | None]:
    """Copies of ``streams``' codec descriptions in a small in-memory container, so the sink can
    (re)start from them after the session that owned them is closed. Returns the template
    streams and the container holding them (keep it open while they are used)."""
    if not streams:
        return [], None
    stream = streams[0]
    buf = io.BytesIO()
    # NUT: it takes AAC with or without extradata (FLV's has it; MPEG-TS's is in-band ADTS).
    with av.open(buf, "w", format="nut") as out:
        tmpl = out.add_stream_from_template(stream)
        out.start_encoding()
        # One packet, so the header can be read back; a silent one of the right codec will do.
        silent = _Silence(stream).packet(Fraction(0))
        silent.stream = tmpl
        out.mux(silent)
    buf.seek(0)
    holder = av.open(buf, "r", format="nut")
    return list(holder.streams.audio[:1]), holder


def _slate_frame(path: str, info) -> Frame:
    """The image at ``path`` as a frame of the stream (size and format): shown instead of the
    last picture while the input is away."""
    import cv2

    from ..nodes.convert import Convert, ConvertParams

    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise MediaError(f"slate '{path}' cannot be read as an image")
    rgb = cv2.cvtColor(cv2.resize(image, (info.width, info.height), interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2RGB)
    convert = Convert(ConvertParams(info.format), "cpu", "slate")
    convert.open(info.replace(format="rgb24"))
    return convert.process(Frame(rgb, 0, info.time_base, "rgb24"))[0]


class LiveSource:
    """A reconnecting, gap-filling live input on one timeline (see the module docstring)."""

    def __init__(self, url: str, *, listen: bool = False, realtime: bool = False, audio: bool = True,
                 max_latency: float = 0.5, stall_timeout: float = 2.0, gap: float = 0.5,
                 reconnect_max: float = 0.5, connect_timeout: float = 30.0, slate: str | None = None,
                 stats: LiveStats | None = None, reads_meta=()):
        self.reads_meta = tuple(reads_meta)  # (Source's: decoder side information the nodes read)
        self.url = str(url)
        self.is_file = "://" not in self.url
        self.listen = listen
        self.realtime = realtime
        self.audio = audio
        self.max_latency = max_latency
        self.gap = gap
        self.reconnect_max = reconnect_max
        self.live = stats or LiveStats()
        self.stats = DecodeStats()
        self._options = input_options(self.url, listen=listen, stall_timeout=stall_timeout)
        self._stop = threading.Event()
        session = self._connect(deadline=None if listen or self.is_file else time.monotonic() + connect_timeout)
        if session is None:
            raise MediaError(f"input '{self.url}': stopped before a stream arrived")
        self._session = session
        info = session.info
        self.info = info if self.is_file else info.replace(frames=None)  # live: no known length
        self.step = Fraction(1) / (info.rate or 30)  # seconds per frame, for repeats
        audio_streams = [s for s in session.passthrough if s.type == "audio"][:1]
        self.passthrough, self._holder = _detached_templates(audio_streams)
        try:
            self._silence = _Silence(audio_streams[0]) if audio_streams else None
            self._slate = _slate_frame(slate, self.info) if slate else None
        except BaseException:
            session.close()
            raise
        self._buffer: deque = deque()
        self._cond = threading.Condition()
        self._video_buffered = 0
        self._ended = False
        self._last_arrival = time.monotonic()
        self._reader: threading.Thread | None = None
        self.live.source_up = True

    # -- connecting ------------------------------------------------------------------------
    def _connect(self, deadline: float | None) -> Source | None:
        """A new session, retrying with capped exponential back-off until ``deadline`` (None:
        until stopped); None when stopped first. Files are opened once."""
        delay = FIRST_RETRY
        while not self._stop.is_set():
            try:
                return Source(self.url, on_error="skip", options=dict(self._options), audio=self.audio,
                              subtitles=False, live=True, reads_meta=self.reads_meta)
            except MediaError as exc:
                # A protocol this FFmpeg build lacks will not appear by waiting.
                if self.is_file or "Protocol not found" in str(exc) or (
                        deadline is not None and time.monotonic() + delay > deadline):
                    raise
                log.info("live input not available (%s); retrying in %.2fs", exc, delay)
            if self._stop.wait(delay):
                break
            delay = min(2 * delay, self.reconnect_max)
        return None

    # -- the reader thread -----------------------------------------------------------------
    def _read(self) -> None:
        session = self._session
        number = 0
        try:
            while session is not None:
                self.live.source_up = True
                try:
                    self._read_session(session, number)
                except (MediaError, av.FFmpegError) as exc:
                    log.warning("live input '%s': %s", self.url, exc)
                finally:
                    session.close()
                self.live.source_up = False
                if self.is_file or self._stop.is_set():
                    break
                log.warning("live input '%s' lost; reconnecting (the output repeats the last frame meanwhile)", self.url)
                session = self._connect(deadline=None)
                if session is not None:
                    number += 1
                    self.live.add("source_reconnects")
                    log.warning("live input '%s' is back", self.url)
        finally:
            with self._cond:
                self._ended = True
                self._cond.notify_all()

    def _read_session(self, session: Source, number: int) -> None:
        wall0 = first = last = None
        segment = 0
        audio = [s for s in session.passthrough if s.type == "audio"][:1]
        for item in session.items():
            if self._stop.is_set():
                return
            if isinstance(item, Frame):
                # A publisher replaced on the same connection restarts its clock (or leaps):
                # a new segment, which items() puts where the output has got to.
                if last is not None and not 0 < item.time - last <= _LEAP:
                    segment += 1
                    wall0 = None
                    log.warning("live input '%s': timestamps jumped from %.3fs to %.3fs; continuing on the "
                                "output's timeline", self.url, float(last), float(item.time))
                last = item.time
                if self.realtime:  # pace a file (or a burst) at its own clock
                    if wall0 is None:
                        wall0, first = time.monotonic(), item.time
                    wait = wall0 + float(item.time - first) - time.monotonic()
                    if wait > 0 and self._stop.wait(wait):
                        return
                item.meta["live_arrival"] = time.monotonic()
                self.live.add("frames_in")
                self._push(((number, segment), item))
            elif audio and item.stream is audio[0] and self.passthrough:
                # Audio follows the segment of the video around it; packets of a new publisher
                # that come before its first frame map before what was sent and are dropped.
                self._push(((number, segment), LivePacket(item, self.passthrough[0].index)))
        for counter in ("concealed", "dropped", "packets_dropped"):
            setattr(self.stats, counter, getattr(self.stats, counter) + getattr(session.stats, counter))

    def _push(self, entry) -> None:
        with self._cond:
            self._buffer.append(entry)
            if isinstance(entry[1], Frame):
                self._video_buffered += 1
                self._last_arrival = time.monotonic()
                # Never more than max_latency of frames waiting: the oldest goes.
                if self._video_buffered > max(2, int(self.max_latency / float(self.step))):
                    self._drop_oldest_frame()
            self._cond.notify_all()

    def _drop_oldest_frame(self) -> None:
        for i, (_, item) in enumerate(self._buffer):
            if isinstance(item, Frame):
                del self._buffer[i]
                self._video_buffered -= 1
                self.live.add("dropped")
                return

    # -- what the runtime reads ------------------------------------------------------------
    def items(self):
        """Video frames and :class:`LivePacket` s on one timeline, until :meth:`stop` (or a
        file's end); repeats with silent audio while the input is away."""
        self._reader = threading.Thread(target=self._read, name="live-reader", daemon=True)
        self._reader.start()
        tb = self.info.time_base
        step = self.step
        last_frame: Frame | None = None
        v_last = v_end = a_end = None  # output times (seconds) of the last frame, ends of both
        offset = Fraction(0)
        anchored = None  # the (session, segment) the offset belongs to; None after a repeat
        next_repeat = 0.0
        while not self._stop.is_set():
            with self._cond:
                if not self._buffer and not self._ended:
                    self._cond.wait(timeout=float(step))
                entry = self._buffer.popleft() if self._buffer else None
                if entry is not None and isinstance(entry[1], Frame):
                    self._video_buffered -= 1
                newer_waiting = self._video_buffered > 0
                ended = self._ended and not self._buffer
            now = time.monotonic()
            if entry is None:
                if ended:
                    return
                if last_frame is not None and now - self._last_arrival >= self.gap and now >= next_repeat:
                    # The input is away: the last picture again, one frame later, with silence.
                    t = v_last + step
                    shown = self._slate if self._slate is not None else last_frame
                    frame = shown.with_data(shown.data, pts=round(t / tb), time_base=tb)
                    frame.meta["live_arrival"] = now
                    v_last, v_end = t, t + step
                    self.live.add("repeated")
                    yield frame
                    if self._silence is not None:
                        a_end = a_end if a_end is not None else t
                        while a_end < v_end:
                            yield LivePacket(self._silence.packet(a_end), self.passthrough[0].index)
                            a_end += self._silence.duration
                    anchored = None  # whatever comes next starts after this
                    next_repeat = now + float(step)
                continue
            segment, item = entry
            if isinstance(item, Frame):
                t = item.time
            else:
                p = item.packet
                if p.pts is None:
                    continue
                t = p.pts * p.time_base
            if anchored != segment:
                ends = [e for e in (v_end, a_end) if e is not None]
                offset = (max(ends) - t) if ends else Fraction(0)
                anchored = segment
            out_t = t + offset
            if isinstance(item, Frame):
                if v_last is not None and out_t <= v_last:
                    self.live.add("dropped")  # behind what was sent (overlaps a repeat)
                    continue
                if newer_waiting and now - item.meta["live_arrival"] > self.max_latency / 2:
                    self.live.add("dropped")  # the graph is behind: skip to a newer frame
                    continue
                frame = item.with_data(item.data, pts=round(out_t / tb), time_base=tb)
                last_frame, v_last, v_end = frame, out_t, out_t + step
                yield frame
            else:
                p = item.packet
                if a_end is not None and out_t < a_end - Fraction(1, 1000):
                    self.live.add("audio_dropped")  # overlaps audio already sent (a reconnection)
                    continue
                shift = round(offset / p.time_base)
                p.pts += shift
                if p.dts is not None:
                    p.dts += shift
                a_end = out_t + (p.duration or 0) * p.time_base
                yield item

    def stop(self) -> None:
        """End :meth:`items` soon (Ctrl-C, SIGTERM): the graph then drains and the output closes."""
        self._stop.set()
        with self._cond:
            self._cond.notify_all()

    def close(self) -> None:
        self.stop()
        if self._reader is not None:
            # Briefly: a reader blocked connecting (up to the stall timeout) closes what it
            # opens once it sees the stop; it is a daemon thread and must not delay the exit.
            self._reader.join(timeout=0.5)
        elif self._session is not None:
            self._session.close()
        if self._holder is not None:
            self._holder.close()

    def __enter__(self) -> LiveSource:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
