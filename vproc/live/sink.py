"""A live output that survives its server: encoder settings for live, restarts, latency bound.

:class:`LiveSink` has the video sink's interface (``open``, ``write``, ``write_packet``,
``close``, ``abort``, ``frames_written``) around an :class:`~vproc.io.sink.FFmpegSink` writing in
place (no temporary file: a live output is read while it is written):

- When FFmpeg fails (the RTMP server went away, a network error: FFmpeg's ``rw_timeout`` makes
  a stuck connection fail too), the output is marked down and started again with capped
  exponential back-off, continuing the same timeline; frames meanwhile are dropped and counted,
  audio packets skipped. The new encoder starts with a keyframe.
- Real-time policy: a frame that reaches the sink more than ``max_latency`` after it was decoded
  (``meta["live_arrival"]``) is dropped and counted, so the added latency of what is sent stays
  under the bound whatever the graph does; every written frame's latency goes into the stats.

:func:`live_output_options` turns the live flags into encoder settings: x264/x265
``zerolatency``, keyframes every ``keyint`` seconds (by time, so dropped or repeated frames do
not move them) and no scene-cut keyframes, CBR through VBV (``maxrate`` = ``bufsize`` = the
bitrate, x264 ``nal-hrd=cbr``) when a bitrate is given, FLV without the header rewrite it cannot
do on a stream, HLS segments of ``keyint`` seconds with a short rolling playlist.
"""

from __future__ import annotations

import dataclasses
import logging
import time

from ..errors import MediaError
from ..frame import Frame, StreamInfo
from ..graph import OutputOptions
from ..io.sink import FFmpegSink, default_video_codec, guess_format, is_url
from .source import FIRST_RETRY, LivePacket
from .stats import LiveStats

log = logging.getLogger("vproc")


def live_output_options(base: OutputOptions, target: str, *, keyint: float = 2.0, bitrate: str | None = None,
                        maxrate: str | None = None, bufsize: str | None = None,
                        preset: str | None = None) -> OutputOptions:
    """``base`` (the graph's output block) with the live encoder settings added (module docstring)."""
    fmt = base.format or guess_format(target)
    codec = base.codec or default_video_codec(fmt, target)
    args: list[str] = []
    if codec in ("libx264", "libx265"):
        args += ["-tune", "zerolatency"]
    args += ["-force_key_frames", f"expr:gte(t,n_forced*{keyint:g})"]
    if codec == "libx264":
        args += ["-sc_threshold", "0"]
    bitrate = bitrate or base.bitrate
    if bitrate and not maxrate:  # CBR: the VBV buffer as large as one second of the rate
        maxrate, bufsize = bitrate, bufsize or bitrate
        if codec == "libx264":
            args += ["-x264-params", "nal-hrd=cbr"]
    if maxrate:
        args += ["-maxrate", maxrate, "-bufsize", bufsize or maxrate]
    if fmt == "flv":
        args += ["-flvflags", "no_duration_filesize"]
    if fmt == "hls":
        args += ["-hls_time", f"{keyint:g}", "-hls_list_size", "6",
                 "-hls_flags", "delete_segments+independent_segments"]
    if is_url(target):
        args += ["-rw_timeout", "3000000"]  # a server that stops reading fails FFmpeg in 3 s
    crf = base.crf if (base.crf is not None or bitrate) else 23
    return dataclasses.replace(base, codec=codec, bitrate=bitrate, crf=None if bitrate else crf,
                               preset=preset or base.preset or "veryfast", args=tuple(args) + tuple(base.args))


class LiveSink:
    """A restarting, latency-bounded live output (see the module docstring)."""

    def __init__(self, target: str, options: OutputOptions, *, stats: LiveStats | None = None,
                 max_latency: float = 0.5, reconnect_max: float = 0.5, overwrite: bool = True):
        self.target = str(target)
        self.options = options
        self.overwrite = overwrite  # an existing file output (checked once; restarts rewrite ours)
        self.live = stats or LiveStats()
        self.max_latency = max_latency
        self.reconnect_max = reconnect_max
        self.frames_written = 0
        self.notices: list[str] = []
        self._passthrough: list = []
        self._sink = self._make()  # checks target, format and codec before any decoding
        self._info: StreamInfo | None = None
        self._up = False
        self._delay = FIRST_RETRY
        self._retry_at = 0.0
        self._restarted_at: float | None = None  # a restart not yet confirmed by a second of output
        self._error: Exception | None = None

    def _make(self) -> FFmpegSink:
        sink = FFmpegSink(self.target, self.options, atomic=False, overwrite=self.overwrite)
        self.overwrite = True  # later restarts replace what this run itself wrote
        sink.attach_passthrough(self._passthrough)
        return sink

    def attach_passthrough(self, streams) -> None:
        self._passthrough = list(streams)
        self._sink.attach_passthrough(self._passthrough)

    # -- up and down ------------------------------------------------------------------------
    def open(self, info: StreamInfo, source_info: StreamInfo | None = None) -> None:
        self._info = info
        self._source_info = source_info  # the encoded pixel format follows the source's
        self._start()
        if not self._up and not is_url(self.target):  # a file that fails at once is an error
            raise MediaError(str(self._error))

    def _start(self) -> None:
        try:
            self._sink.open(self._info, source_info=getattr(self, "_source_info", None))
        except MediaError as exc:
            self._down(exc)
            return
        self._up = True
        self.live.output_up = True
        self.notices = list(self._sink.notices)

    def _down(self, exc: Exception) -> None:
        self._error = exc
        if self._restarted_at is not None:  # the restart did not hold (server still away)
            log.info("live output '%s' not back yet: %s", self.target, exc)
        elif self._up:
            log.warning("live output '%s' failed (%s); restarting it", self.target, exc)
        self._restarted_at = None
        self._up = False
        self.live.output_up = False
        self._sink.abort()
        self._retry_at = time.monotonic() + self._delay
        self._delay = min(2 * self._delay, self.reconnect_max)

    def _restart_if_due(self) -> None:
        if self._up or time.monotonic() < self._retry_at:
            return
        self._sink = self._make()
        self._start()
        if self._up:
            self._restarted_at = time.monotonic()

    def _confirm_restart(self) -> None:
        # FFmpeg starts before it connects: a restart counts once it has kept going for 1 s.
        if self._restarted_at is not None and time.monotonic() - self._restarted_at > 1.0:
            self._restarted_at = None
            self._delay = FIRST_RETRY
            self.live.add("output_reconnects")
            log.warning("live output '%s' is back", self.target)

    def _alive(self) -> bool:
        if self._up:
            ended = self._sink.exited()
            if ended:
                self._down(MediaError(ended))
        return self._up

    # -- frames and packets ---------------------------------------------------------------------
    def write(self, frame: Frame) -> None:
        now = time.monotonic()
        latency = now - frame.meta.get("live_arrival", now)
        if latency > self.max_latency:
            self.live.add("dropped")  # too late to be worth sending: the bound holds
            return
        self._restart_if_due()
        if not self._alive():
            self.live.add("dropped")
            return
        try:
            self._sink.write(frame)
        except MediaError as exc:
            self._down(exc)
            self.live.add("dropped")
            return
        self.frames_written += 1
        self.live.written(time.monotonic() - frame.meta.get("live_arrival", now))
        self._confirm_restart()

    def write_packet(self, item) -> None:
        if not self._alive():
            return
        packet, index = (item.packet, item.index) if isinstance(item, LivePacket) else (item, None)
        try:
            self._sink.write_packet(packet, index=index)
        except MediaError as exc:
            self._down(exc)
            return
        self.live.add("audio_packets")

    def close(self) -> None:
        """Finish the stream (end of a file input, or shutdown)."""
        if not self._up:
            self._sink.abort()
            return
        try:
            self._sink.close()
        except MediaError as exc:
            if not is_url(self.target):
                raise
            log.warning("live output '%s' did not finish cleanly: %s", self.target, exc)

    def abort(self) -> None:
        self._sink.abort()
