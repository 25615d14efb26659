"""Decoding input media with PyAV.

:class:`Source` opens anything FFmpeg reads, picks the best video stream, describes it as a
:class:`~vproc.frame.StreamInfo` (size, format, bit depth, rate, time base, colour metadata) and
yields its frames as read-only views of the decoder's planes (threaded decoding), plus the raw
packets of the audio and subtitle streams, which the sink copies into the output unchanged.

Geometry, as the ``ffmpeg`` CLI keeps it:

- Rotation (a phone's display matrix): by default frames are turned upright before the graph
  sees them (FFmpeg's autorotate): the filters ``ffmpeg`` would insert
  (:func:`vproc.io.orientation.autorotate_filters`: ``transpose``, ``hflip``/``vflip``,
  ``rotate``) run in-process through libavfilter (:class:`vproc.io.lavfi.FilterChain`), so the
  frames are bit-identical to ``ffmpeg -i in -f rawvideo -``'s and ``info`` describes them
  upright (width and height swapped for 90 and 270 degrees, the sample aspect ratio inverted, as
  ``transpose`` does). Formats ``transpose`` does not take (chroma subsampled differently across
  and down: ``yuv422p``) are converted as FFmpeg converts them, by its own negotiation: 4:2:2
  rotated by 90 degrees comes out ``yuv444p`` (chroma upsampled by swscale), as from the ``ffmpeg``
  CLI, since a 4:2:2 frame turned on its side would be 4:4:0. Measured on 720p ``yuv420p``, 2
  cores: ``transpose`` 0.49 ms a frame, numpy ``rot90`` + a contiguous copy 1.3 ms, OpenCV
  ``rotate`` 0.26 ms, ``hflip,vflip`` 0.14 ms; all far below decoding, and only libavfilter gives
  FFmpeg's pixels and format choices for every format, so it is the one used. Keypoints and
  sidecars are then in upright coordinates, as the frames are. ``autorotate=False`` keeps the
  frames as stored and puts the matrix into ``info`` (``rotation``, ``hflip``, ``vflip``), which
  the sink writes back (``-display_rotation``): the output has the input's display matrix.

  The matrix is read from the first decoded frame of a second, short-lived open of the file
  (PyAV has no reader for a stream's coded side data), for local files only: a pipe or a URL
  cannot be opened twice, and its frames are then kept as stored, with a warning when the first
  one turns out to carry a rotation.
- Sample aspect ratio: ``info.sample_aspect_ratio``, as FFmpeg guesses it (container, then codec).
- Interlacing: ``info.interlaced`` and ``info.field_order`` from the codec parameters and the
  first frame's flags, logged when interlaced and shown by :func:`probe`.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from fractions import Fraction

import av

from ..errors import ConfigError, MediaError
from ..formats import FORMATS, fallback_format, get_format
from ..frame import Frame, StreamInfo
from .avframes import color_info, from_av, h264_qp
from .hdr import HDRMetadata
from .streammeta import disposition_names
from .target import STDIN_NAMES, is_sequence, sequence_files
from .lavfi import FilterChain
from .orientation import autorotate_filters, cli_options, matrix_of, swaps_sides

log = logging.getLogger("vproc")



@dataclass
class DecodeStats:
    """What reading the input met (:meth:`Source.items`).

    ``concealed``: video frames the decoder flagged as decoded with errors it concealed (kept, as
    the ffmpeg CLI keeps them); ``dropped``: video frames lost (a packet the decoder refused, a
    frame whose time is not after the one before); ``packets_dropped``: damaged audio or subtitle
    packets left out of the copy.
    """

    frames: int = 0
    concealed: int = 0
    dropped: int = 0
    packets_dropped: int = 0
    packets_passed: int = 0

    @property
    def corrupt_skipped(self) -> int:
        """Everything damage touched, concealed or dropped (the one counter of older versions,
        ``RunStats.skipped_corrupt``)."""
        return self.concealed + self.dropped + self.packets_dropped

    @corrupt_skipped.setter
    def corrupt_skipped(self, value: int) -> None:  # ``stats.corrupt_skipped += 1`` counts a dropped frame
        self.dropped += value - self.corrupt_skipped


class Source:
    """An opened input: ``info`` describes its video; iterate :meth:`items` to read it.

    ``on_error`` decides what a decode error in the middle of the stream does (also a packet or
    a frame FFmpeg flags corrupt): ``"stop"`` raises :class:`MediaError` naming the time (seconds
    from the start of the stream); ``"skip"`` goes on as the ffmpeg CLI does, keeping the frames
    the decoder concealed errors in and dropping only what does not decode, and counts both
    (:class:`DecodeStats`), logging the first few.
    """

    def __init__(self, url: str, *, on_error: str = "stop", options: dict[str, str] | None = None,
                 audio: bool = True, subtitles: bool = True, live: bool = False, autorotate: bool = True,
                 video_stream: int | None = None, reads_meta: Iterable[str] = ()):
        """``video_stream``: the index of the video stream to process (``ffmpeg -map 0:N``);
        default: FFmpeg's choice (the default-disposition, then the largest, never cover art).
        The sink copies the others (``FFmpegSink.attach_source``).

        ``autorotate``: turn frames upright by the input's display matrix, as the ``ffmpeg``
        CLI does by default (see the module docstring); False keeps them as stored and
        describes the matrix in ``info`` for the sink to write again.

        ``live``: a live stream, read for low delay: a frame whose pts is not after the
        previous one is passed on instead of dropped as a duplicate (a stream republished on the
        same connection starts its clock again; the live source puts it on its own timeline), no
        timestamp look-ahead, and slice threads only in the decoder (frame threads hold frames
        back, one per thread).

        ``reads_meta``: the decoder side information the graph's nodes read (Graph.reads_meta):
        ``"h264_qp"`` has an 8-bit H.264 decoder export each frame's quantisers, their mean put
        in ``Frame.meta["h264_qp"]``."""
        self._reads_meta = frozenset(reads_meta)
        self.live = live
        self.autorotate = autorotate
        if on_error not in ("stop", "skip"):
            raise ConfigError(f"on_error must be 'stop' or 'skip' (got {on_error!r})")
        self.url = str(url)
        self.on_error = on_error
        self.video_stream = video_stream
        self.stats = DecodeStats()
        self._stop = threading.Event()
        opened = "pipe:0" if self.url in STDIN_NAMES else self.url  # ffmpeg -i -: standard input
        if "://" not in self.url and opened == self.url and not os.path.exists(self.url):
            if not is_sequence(self.url):
                raise MediaError(f"input '{self.url}' does not exist")
            if not sequence_files(self.url):  # frame_%04d.png: FFmpeg's image2 pattern
                raise MediaError(f"input '{self.url}': no image matches the pattern")
        self._options = dict(options or {})
        try:
            self.container = av.open(opened, "r", options=options or {})
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
        if self.video_stream is not None:
            chosen = [s for s in videos if s.index == self.video_stream]
            if not chosen:
                raise ConfigError(f"input '{self.url}' has no video stream #{self.video_stream} "
                                  f"(its video streams: {', '.join('#' + str(s.index) for s in videos)})")
            best = chosen[0]
        else:
            # FFmpeg's own choice of "best" stream (default disposition, then largest), as ffmpeg
            # does without -map; cover art (an attached picture) only when there is nothing else.
            moving = [s for s in videos if not _is_picture(s)] or videos
            best = max(moving, key=lambda s: (bool(s.disposition & 1) if s.disposition else 0, (s.codec_context.width or 0) * (s.codec_context.height or 0)))
        self.video = best
        # Files: frame + slice threads. Live: slice threads only (see live above).
        self.video.thread_type = "SLICE" if self.live else "AUTO"
        cc = best.codec_context
        # 8-bit H.264, when a node reads it: the decoder exports each frame's quantisers, which
        # Frame.meta["h264_qp"] carries to the nodes (denoise takes the coding error from it).
        self._export_qp = ("h264_qp" in self._reads_meta and cc.name == "h264" and cc.format is not None
                           and cc.format.name in _QP_FORMATS)
        if self._export_qp:
            cc.options = {**cc.options, "export_side_data": "venc_params"}
        if not cc.width or not cc.height or cc.format is None:
            raise MediaError(f"input '{self.url}': video stream has no size or pixel format (is it complete?)")
        av_fmt = cc.format.name
        self._decoder_layout = (cc.width, cc.height, av_fmt)
        width, height = cc.width, cc.height
        sar = Fraction(best.sample_aspect_ratio) if best.sample_aspect_ratio else None
        # The display matrix and the first frame's interlacing: from a second open of the file
        # (see the module docstring); None where it cannot be opened twice.
        first = self._peek(best.index) if not self.live and os.path.isfile(self.url) else None
        self._check_matrix = first is None  # read it from the first frame instead, to warn
        matrix = first[0] if first else None
        # HDR10 static metadata (mastering display, content light level) for the sink to restate
        self.hdr = first[2] if first else None
        self.display_matrix = matrix
        self._rotate: FilterChain | None = None
        rotation, hflip, vflip = 0, False, False
        if matrix is not None and self.autorotate:
            filters = autorotate_filters(matrix)
            if filters:
                self._rotate = FilterChain(filters, width=cc.width, height=cc.height, pix_fmt=av_fmt,
                                           time_base=Fraction(best.time_base), sar=sar,
                                           colorspace=int(cc.colorspace or 2), color_range=int(cc.color_range or 0) or None)
                upright = self._rotate.probe()
                width, height, av_fmt = upright.width, upright.height, upright.format.name
                if sar and swaps_sides(matrix):
                    sar = 1 / sar  # as transpose sets it
                log.info("input '%s' is rotated (display matrix): turned upright with %s", self.url, self._rotate.text)
        elif matrix is not None:
            rotation, hflip, vflip = cli_options(matrix)
        field_order = _FIELD_ORDERS.get(int(cc.field_order or 0))
        interlaced = field_order in ("tt", "bb", "tb", "bt") or bool(first and first[1])
        if interlaced and self.url not in _REPORTED:
            _REPORTED.add(self.url)  # once per input and process (segmented runs open it again per segment)
            order = {True: "top field first", False: "bottom field first", None: "field order unknown"}[
                True if field_order in ("tt", "tb") else False if field_order in ("bb", "bt") else None]
            log.warning("input '%s' is interlaced (%s)", self.url, order)
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
            width=width,
            height=height,
            format=name,
            time_base=Fraction(best.time_base),
            rate=Fraction(rate) if rate else None,
            color=self._color(cc, av_fmt),
            frames=frames,
            sample_aspect_ratio=sar,
            rotation=rotation,
            hflip=hflip,
            vflip=vflip,
            interlaced=interlaced,
            field_order=field_order,
            codec=cc.name,
        )

    def _peek(self, index: int) -> tuple[tuple[int, ...] | None, bool, HDRMetadata | None] | None:
        """``(display matrix, interlaced, HDR10 metadata)`` of the first frame of stream ``index``
        that decodes, from a second open of the input; None if none decodes within the first packets."""
        try:
            with av.open(self.url, "r", options=dict(self._options)) as c:
                stream = c.streams[index]
                stream.thread_type = "SLICE"  # one frame wanted: frame threads would hold it back
                for n, packet in enumerate(c.demux(stream)):
                    if n >= _PEEK_PACKETS:
                        break
                    try:
                        frames = stream.decode(packet)
                    except av.FFmpegError:
                        continue  # a recording cut mid-GOP: its first packets need what was cut off
                    if frames:
                        self._first_color = color_info(frames[0], frames[0].format.name)
                        return (matrix_of(frames[0].side_data), bool(frames[0].interlaced_frame),
                                HDRMetadata.from_side_data(frames[0].side_data))
        except (av.FFmpegError, OSError, IndexError):
            pass
        return None

    def _color(self, cc, av_fmt: str):
        """The stream's colour description: the codec parameters', each field the container left
        unspecified taken from the first frame (Matroska files often carry the primaries and
        transfer only in the bitstream's VUI, which the decoder reads)."""
        from dataclasses import replace

        color = color_info(cc, av_fmt)
        first = getattr(self, "_first_color", None)
        if first is None:
            return color
        return replace(color, **{k: getattr(first, k) for k in ("matrix", "range", "primaries", "transfer")
                                 if getattr(color, k) is None and getattr(first, k) is not None})

    @property
    def bit_depth(self) -> int:
        return get_format(self.info.format).bits

    def stop(self) -> None:
        """Ask :meth:`items` to end early (Ctrl-C): what was read so far stays valid."""
        self._stop.set()

    def items(self) -> Iterator[Frame | av.Packet]:
        """Video frames (as :class:`Frame`) and passthrough packets, in demux order.

        Damage is met as the ffmpeg CLI meets it: a packet the demuxer flags corrupt still goes to
        the decoder, a frame the decoder concealed errors in is kept (``stats.concealed``), and
        only what does not decode is lost (``stats.dropped``); ``on_error="stop"`` stops at the
        first of these instead, with one line (:meth:`_fail`).
        """
        self._last_pts = None
        # Times in messages count from the start of the stream (where the output's clock starts
        # too): the stream's start time, else the first decoded frame's.
        self._start_pts = self.video.start_time
        self._at_pts = None  # the latest decoded frame's
        self._decoded = self._good = 0  # frames out of the decoder (the look-ahead holds some back)
        self._logged = self._unlogged = 0
        # Live streams come in containers with real pts, and a look-ahead would hold their
        # first frames back at every (re)connection: none for them.
        clock = _BestEffortPts(lookahead=0 if self.live else _BestEffortPts.LOOKAHEAD)
        streams = [self.video, *self.passthrough]
        packets = self.container.demux(*streams)
        flushed = False
        while not self._stop.is_set():
            try:
                packet = next(packets)
            except StopIteration:
                break
            except av.FFmpegError as exc:  # a broken container: keep what decoded, then stop
                self._fail(exc, "demux", None, "reading stops here")
                break
            if packet.stream is not self.video:
                if packet.is_corrupt and packet.size:  # copied as it is, it could stop FFmpeg: left out
                    self._fail(f"corrupt {packet.stream.type} packet (stream #{packet.stream.index})", "demux",
                               "packets_dropped")
                    continue
                if packet.size:  # skip the demuxer's empty flush packets
                    if self.on_error == "skip" and packet.stream.type == "audio" and not self._decodes(packet):
                        continue
                    self.stats.packets_passed += 1
                    yield packet
                continue
            if packet.is_corrupt and packet.size:
                # The demuxer read it damaged (MPEG-TS continuity errors, a cut file). FFmpeg logs
                # this and decodes it anyway: the decoder conceals what it cannot read (below).
                self._fail("corrupt video packet", "demux", None, "decoding what it holds", _packet_pts(packet))
            flushed = flushed or not packet.size  # the demuxer's last, empty packet drains the decoder
            try:
                decoded = self.video.decode(packet)
            except av.FFmpegError as exc:
                self._fail(exc, "decode", "dropped", pts=_packet_pts(packet))
                continue
            for avf in decoded:
                yield from self._frames(clock.push(self._decoded_frame(avf)))
        if not flushed and not self._stop.is_set():  # stopped by a demux error: drain the decoder
            try:
                for avf in self.video.decode(None):
                    yield from self._frames(clock.push(self._decoded_frame(avf)))
            except av.FFmpegError as exc:
                self._fail(exc, "decode", "dropped")
        yield from self._frames(clock.finish())
        for held in getattr(self, "_held_warnings", ()):  # the run went on: they were worth saying
            log.warning("%s", held)
        self._held_warnings = []
        if self._unlogged:
            s = self.stats
            log.warning("input '%s': %d more reports of damage not shown; in all %d frames concealed, %d dropped, "
                        "%d audio/subtitle packets left out", self.url, self._unlogged, s.concealed, s.dropped,
                        s.packets_dropped)
        if self.stats.frames == 0 and not self._stop.is_set():
            raise MediaError(f"input '{self.url}': no video frame could be decoded")

    def _decoded_frame(self, avf: av.VideoFrame) -> av.VideoFrame:
        """Note a frame out of the decoder; one it concealed errors in is reported (:meth:`_fail`)."""
        pts = avf.pts if avf.pts is not None else avf.dts
        if pts is not None:
            if self._start_pts is None:
                self._start_pts = pts
            self._at_pts = pts
        if avf.is_corrupt:  # decoded, but with errors the decoder concealed (garbage in the bitstream)
            self._fail("frame decoded with errors", "decode", "concealed", "kept, as the decoder concealed them")
        else:
            self._good += 1
        self._decoded += 1
        return avf

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
            if self._check_matrix:  # a pipe or URL: the matrix comes with the first frame, too late to turn it
                self._check_matrix = False
                matrix = matrix_of(avf.side_data)
                if matrix is not None and autorotate_filters(matrix):
                    log.warning("input '%s' has a display matrix (%s) that only its frames carry (not a local file); "
                                "frames are kept as stored and the output has no display matrix",
                                self.url, ",".join(f"{n}={a}" if a else n for n, a in autorotate_filters(matrix)))
                if HDRMetadata.from_side_data(avf.side_data) is not None:
                    log.warning("input '%s' has HDR10 metadata (mastering display, light level) that only its frames "
                                "carry (not a local file); the output is written without it", self.url)
            qp = h264_qp(avf.side_data) if self._export_qp else None
            if self._rotate is not None:
                avf = self._rotate.push(avf)[0]  # transpose/flip/rotate: one frame out per frame in, no delay
            self._last_pts = avf.pts
            self.stats.frames += 1
            frame = from_av(avf, self._convert_to, self.info.time_base)
            if qp is not None:
                frame.meta["h264_qp"] = qp
            yield frame

    def _decodes(self, packet: av.Packet) -> bool:
        """Whether a passthrough audio packet decodes (checked only when skipping errors).

        FFmpeg stops at the first broken packet it is asked to copy (an AAC frame that lost its
        ADTS header, say), so skipping must drop those here, before they reach it.
        """
        try:
            packet.stream.decode(packet)
        except av.FFmpegError as exc:
            self._fail(exc, "audio decode", "packets_dropped")
            return False
        return True

    # Damage reports logged in skip mode; the rest are counted, and summed up at the end.
    _MAX_LOGGED = 5

    def _fail(self, exc: Exception | str, what: str, counter: str | None = "dropped", outcome: str = "skipped",
              pts: int | None = None) -> None:
        """Damage met: with ``on_error="stop"``, one MediaError; else ``stats.<counter>`` counts it
        and a warning says what became of it (``outcome``). The time named is ``pts`` (the damaged
        packet's, when it has a plausible one), else the latest decoded frame's, in seconds from
        the start of the stream."""
        # (getattr: the counters are items()'s, which may not have started)
        start, at = getattr(self, "_start_pts", None), getattr(self, "_at_pts", None)
        tb = self.info.time_base
        if pts is not None and start is not None and 0 <= pts - start and (
                self.container.duration is None or (pts - start) * tb <= Fraction(self.container.duration, av.time_base) + 1):
            at = pts  # the demuxer runs ahead of the decoder's output: the packet's own time is nearer
        t = float((at - start) * tb) if start is not None and at is not None else 0.0
        decoded = getattr(self, "_decoded", self.stats.frames)
        msg = f"input '{self.url}': {what} error after frame {decoded} (t={t:.3f}s): {_reason(exc)}"
        # Recordings cut mid-GOP (TS captures, live dumps) start with packets that reference what
        # was cut off; that is how such files are, not damage, so before the first good frame it
        # is skipped (with a warning) whatever on_error says. A file with no good frame fails below.
        if self.on_error == "stop" and getattr(self, "_good", self.stats.frames) > 0:
            raise MediaError(msg + " (use --on-error skip to go on)")
        if counter is not None:
            setattr(self.stats, counter, getattr(self.stats, counter) + 1)
        logged = getattr(self, "_logged", 0)
        if logged < self._MAX_LOGGED:
            self._logged = logged + 1
            if self.on_error == "stop":
                # damage before the first good frame, let through in stop mode: said at the end if
                # the run goes on, so a run that then stops says one line, the error
                self._held_warnings = getattr(self, "_held_warnings", []) + [f"{msg}; {outcome}"]
            else:
                log.warning("%s; %s", msg, outcome)
        else:
            self._unlogged = getattr(self, "_unlogged", 0) + 1

    def close(self) -> None:
        self.container.close()

    def __enter__(self) -> Source:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _packet_pts(packet: av.Packet) -> int | None:
    return packet.pts if packet.pts is not None else packet.dts


#: The most packets :meth:`Source._peek` reads to find the first frame.
_PEEK_PACKETS = 256
#: Inputs whose interlacing was reported already (once per process).
_REPORTED: set[str] = set()
#: Decoder formats whose H.264 quantisers are exported (8-bit: the QP scale Denoise is calibrated on).
_QP_FORMATS = frozenset({"yuv420p", "yuvj420p", "yuv422p", "yuvj422p", "yuv444p", "yuvj444p", "gray"})
#: FFmpeg's AVFieldOrder values -> the names its ``-field_order`` option takes.
_FIELD_ORDERS = {1: "progressive", 2: "tt", 3: "bb", 4: "tb", 5: "bt"}


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


def _is_picture(stream) -> bool:
    """Whether a video stream is an attached picture (cover art), not moving video."""
    return bool(stream.disposition) and bool(int(stream.disposition) & int(av.stream.Disposition.attached_pic))


def _frame_step(info: StreamInfo) -> int:
    if info.rate:
        return max(1, round(1 / (info.rate * info.time_base)))
    return 1


def _reason(exc: Exception) -> str:
    return getattr(exc, "strerror", None) or str(exc)


def _ratio(r: Fraction | None) -> str | None:
    return f"{r.numerator}:{r.denominator}" if r else None


def probe(url: str) -> dict:
    """A summary of an input's streams (for ``vproc probe``). The video's size is the stored
    one, as ``ffmpeg -i`` shows it, with the display matrix beside it (``rotation``
    counter-clockwise, ``hflip``, ``vflip``: processing turns the frames upright by them)."""
    with Source(url, autorotate=False) as src:
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
            disposition = disposition_names(s)
            if disposition:
                entry["disposition"] = "+".join(disposition)
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
                "sample_aspect_ratio": _ratio(info.sample_aspect_ratio),
                "display_aspect_ratio": _ratio(info.display_aspect_ratio) if info.sample_aspect_ratio else None,
                "rotation": info.rotation, "hflip": info.hflip, "vflip": info.vflip,
                "interlaced": info.interlaced, "field_order": info.field_order,
            },
            "streams": streams,
        }
