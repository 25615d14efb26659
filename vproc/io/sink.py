"""Encoding through FFmpeg: processed frames + the source's audio/subtitles -> file (or URL).

Shape (see DESIGN.md): PyAV muxes the processed frames as rawvideo, with their own pts, together
with the source's audio packets (copied, not re-encoded) into a NUT stream written to the stdin of
one FFmpeg process, whose command line ffmpeg-python builds. FFmpeg encodes the video with any
encoder it has and writes the container. This keeps variable frame rates and A/V sync exact,
gives every FFmpeg encoder and muxer, and runs the encoder in its own process, beside ours.

Files are written under a temporary name in the output's folder and renamed when complete, so a
failed run leaves nothing behind; :meth:`FFmpegSink.close` after an interrupt still gives a valid
file holding what was processed.
"""

from __future__ import annotations

import logging
import os
import subprocess
import tempfile
import threading
from collections import deque
from fractions import Fraction
from math import ceil, lcm
from pathlib import Path

import av
import ffmpeg

from ..colorspace import TAG_FOR_MATRIX, matrix_of
from ..errors import ConfigError, MediaError
from ..frame import Frame, StreamInfo
from ..graph import OutputOptions
from .avframes import to_av
from .ffmpeg import check_video_encoder, ffmpeg_binary, muxers

log = logging.getLogger("vproc")

_TS_SHIFT_SECONDS = 1000  # more than any negative start (priming, edit lists) a source has

# Subtitle codecs FFmpeg converts text subtitles to, per container, when a copy is refused.
_TEXT_SUBTITLE_FOR = {"mp4": "mov_text", "mov": "mov_text", "ipod": "mov_text", "webm": "webvtt", "matroska": "ass"}


def is_url(target: str) -> bool:
    return "://" in target


def guess_format(target: str) -> str:
    """The FFmpeg muxer for an output name, as FFmpeg itself would pick it."""
    scheme = target.split("://", 1)[0] if is_url(target) else ""
    if scheme in ("rtmp", "rtmps"):
        return "flv"
    if scheme in ("srt", "udp", "rtp"):
        return "mpegts"
    suffix = Path(target).suffix
    if not suffix:
        raise ConfigError(f"output '{target}' has no file extension; name the container with --format")
    with tempfile.TemporaryDirectory() as tmp:
        try:
            with av.open(os.path.join(tmp, "probe" + suffix), "w") as probe:
                return probe.format.name.split(",")[0]
        except (ValueError, av.FFmpegError):
            raise ConfigError(f"output '{target}': no container format is known for '{suffix}'; name one with --format") from None


def container_accepts(fmt: str, stream) -> bool:
    """Whether the ``fmt`` muxer takes ``stream``'s codec as it is (a trial header write)."""
    with tempfile.TemporaryDirectory() as tmp:
        try:
            with av.open(os.path.join(tmp, "probe"), "w", format=fmt) as out:
                out.add_stream_from_template(stream)
                out.start_encoding()
            return True
        except (ValueError, av.FFmpegError):
            return False


class FFmpegSink:
    """Writes frames (and passthrough packets) to ``target`` through one FFmpeg process.

    Call :meth:`open` with the StreamInfo of the frames that will come, then :meth:`write` /
    :meth:`write_packet` from one thread, then :meth:`close` (success) or :meth:`abort` (failure).
    """

    def __init__(self, target: str, options: OutputOptions | None = None, *, passthrough=(),
                 source_url: str | None = None, overwrite: bool = True, atomic: bool = True):
        """Check the target, format and codec now, so mistakes fail before any decoding.

        ``atomic``: write a file under a temporary name and move it into place when complete
        (the default); live outputs (HLS playlists, growing files) are written in place."""
        self.target = str(target)
        self.atomic = atomic
        self.options = options or OutputOptions()
        self.overwrite = overwrite
        self._passthrough = list(passthrough)
        self._source_url = source_url
        self._proc: subprocess.Popen | None = None
        self._nut = None
        self._video = None
        self._stream_map: dict[int, object] = {}
        self._stderr: deque[str] = deque(maxlen=40)
        self._ts_offset = Fraction(0)
        self.frames_written = 0
        self.notices: list[str] = []
        self.partial_path: str | None = None
        self.format = self.options.format or guess_format(self.target)
        self._check_target()
        check_video_encoder(self.options.codec)

    def attach_passthrough(self, streams) -> None:
        """The source's audio/subtitle streams to carry over (before :meth:`open`)."""
        self._passthrough = list(streams)

    # -- checks that must fail before anything is decoded --------------------------------
    def _check_target(self) -> None:
        if self.format not in muxers():
            raise ConfigError(f"output format '{self.format}' is not known to FFmpeg")
        if is_url(self.target):
            return
        path = Path(self.target)
        folder = path.parent if str(path.parent) else Path(".")
        if not folder.is_dir():
            raise MediaError(f"cannot write output '{self.target}': folder '{folder}' does not exist")
        if not os.access(folder, os.W_OK):
            raise MediaError(f"cannot write output '{self.target}': folder '{folder}' is not writable")
        if path.is_dir():
            raise MediaError(f"cannot write output '{self.target}': it is a folder")
        if path.exists() and not self.overwrite:
            raise MediaError(f"output '{self.target}' exists and overwriting is off")

    # -- the FFmpeg command -----------------------------------------------------------------
    def _plan_streams(self):
        """Decide, per passthrough stream, whether it rides in the NUT pipe and how it is coded."""
        opts = self.options
        piped, codecs = [], []
        for s in self._passthrough:
            wanted = s.type == "audio" and opts.audio != "none" or s.type == "subtitle" and opts.subtitles != "none"
            if not wanted:
                continue
            copy_ok = container_accepts(self.format, s)
            if s.type == "audio":
                if opts.audio == "aac" or not copy_ok:
                    if not copy_ok:
                        self._notice(f"audio stream #{s.index} ({s.codec_context.name}) cannot be copied into {self.format}; re-encoding it to AAC")
                    codec = "aac"
                else:
                    codec = "copy"
            else:
                codec = "copy" if copy_ok else _TEXT_SUBTITLE_FOR.get(self.format)
                if codec is None:
                    self._notice(f"subtitle stream #{s.index} ({s.codec_context.name}) cannot be stored in {self.format}; dropped")
                    continue
                if codec != "copy":
                    self._notice(f"subtitle stream #{s.index} ({s.codec_context.name}) converted to {codec} for {self.format}")
            if container_accepts("nut", s):
                piped.append(s)
                codecs.append(("pipe", len(piped), codec))
            elif self._source_url and not is_url(self._source_url):
                # NUT cannot carry some subtitle codecs: FFmpeg reads those from the file itself.
                codecs.append(("file", s.index, codec))
            else:
                self._notice(f"{s.type} stream #{s.index} ({s.codec_context.name}) cannot be passed through a live pipe; dropped")
        return piped, codecs

    def _command(self, info: StreamInfo, codecs) -> list[str]:
        opts = self.options
        # NUT cannot hold negative timestamps (AAC priming packets have them), and libavformat
        # would shift every stream to avoid them; so all streams are written shifted by a whole
        # number of ticks of every time base, and FFmpeg's -itsoffset undoes it exactly.
        # rawvideo in NUT carries no colour description: declare it on the input, or FFmpeg
        # takes the frames as unspecified and "converts" them into the tagged output range.
        pipe_in = ffmpeg.input("pipe:0", format="nut", itsoffset=str(-float(self._ts_offset)),
                               **_colour_options(info))
        maps = [pipe_in["v:0"]]
        file_in = None
        for where, index, _ in codecs:
            if where == "pipe":
                maps.append(pipe_in[str(index)])
            else:
                file_in = file_in or ffmpeg.input(self._source_url)
                maps.append(file_in[str(index)])
        kw: dict[str, object] = {"c:v": opts.codec, "f": self.format, "fps_mode": "passthrough",
                                 "enc_time_base:v": "demux", "max_muxing_queue_size": 4096}
        for out_index, (_, _, codec) in enumerate(codecs, start=1):
            kw[f"c:{out_index}"] = codec
        if opts.bitrate is not None:
            kw["b:v"] = opts.bitrate
        elif opts.crf is not None or opts.codec in ("libx264", "libx265", "libvpx-vp9", "libaom-av1", "libsvtav1"):
            kw["crf"] = opts.crf if opts.crf is not None else 18
        if opts.preset:
            kw["preset"] = opts.preset
        pix_fmt = opts.pix_fmt or _encodable_pix_fmt(info)
        kw["pix_fmt"] = pix_fmt
        c = info.color
        matrix, rng = c.matrix, c.range
        if info.pixel_format.family == "rgb" and pix_fmt.startswith(("yuv", "nv", "p0")):
            # FFmpeg's own RGB -> YUV step would use BT.601 whatever the tags say: name the
            # stream's matrix, and write the limited range players expect, then tag them.
            family = matrix_of(info)
            kw["vf"] = f"scale=out_color_matrix={family}:out_range=tv"
            matrix, rng = TAG_FOR_MATRIX[family], "tv"
        for flag, value in (("colorspace", matrix), ("color_range", rng),
                            ("color_primaries", c.primaries), ("color_trc", c.transfer)):
            if value:
                kw[flag] = value
        out_name = self.partial_path or self.target
        out = ffmpeg.output(*maps, out_name, **kw)
        args = ffmpeg.compile(out, cmd=ffmpeg_binary())
        # ffmpeg-python appends global options after the output name, where FFmpeg warns that
        # trailing options may be ignored: put them first. Extra user arguments are output
        # options, so they go just before the output name.
        at = len(args) - 1 - args[::-1].index(out_name)
        global_opts = ["-hide_banner", "-nostdin", "-loglevel", "error", "-copyts", "-y"]
        return args[:1] + global_opts + args[1:at] + list(opts.args) + args[at:]

    # -- lifecycle ----------------------------------------------------------------------------
    def open(self, info: StreamInfo) -> None:
        """Start FFmpeg and the NUT writer for frames described by ``info``."""
        piped, codecs = self._plan_streams()
        numerators = [info.time_base.numerator] + [Fraction(st.time_base).numerator for st in piped]
        unit = lcm(*numerators)
        self._ts_offset = Fraction(unit * ceil(_TS_SHIFT_SECONDS / unit))
        if self.atomic and not is_url(self.target):
            path = Path(self.target)
            fd, self.partial_path = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=f".partial{path.suffix}", dir=path.parent or ".")
            os.close(fd)
            os.chmod(self.partial_path, 0o666 & ~current_umask())  # mkstemp makes it private; outputs are not
        cmd = self._command(info, codecs)
        log.debug("ffmpeg command: %s", " ".join(cmd))
        # Own process group: Ctrl-C reaches vproc only, which then finishes the file cleanly.
        self._proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stderr=subprocess.PIPE, process_group=0)
        threading.Thread(target=self._read_stderr, daemon=True, name="ffmpeg-stderr").start()
        try:
            # No index and no syncpoints: they are seeking aids, and nothing seeks a pipe, while
            # both ends keep every syncpoint (about one per packet) in memory until the end,
            # which grows without bound on long and live runs (measured: 0.3-0.6 KB per frame
            # in vproc, 1 MB a minute in FFmpeg at 720p30). NUT calls a stream without
            # syncpoints "experimental" because damage cannot be resynchronised; a local pipe
            # is not damaged.
            self._nut = av.open(f"pipe:{self._proc.stdin.fileno()}", "w", format="nut",
                                options={"write_index": "0", "syncpoints": "none", "strict": "experimental"})
            video = self._nut.add_stream("rawvideo", rate=info.rate)
            video.width, video.height = info.width, info.height
            video.pix_fmt = info.pixel_format.transport
            video.time_base = info.time_base
            video.codec_context.time_base = info.time_base
            if info.sample_aspect_ratio:
                video.codec_context.sample_aspect_ratio = info.sample_aspect_ratio
            self._video = video
            for s in piped:
                self._stream_map[s.index] = self._nut.add_stream_from_template(s)
            self._nut.start_encoding()
        except av.FFmpegError as exc:
            self.abort()
            raise MediaError(f"cannot start encoding '{self.target}': {self._ffmpeg_says() or exc}") from None

    def write(self, frame: Frame) -> None:
        """Encode one processed frame (pts as the frame says)."""
        avf = to_av(frame)
        avf.pts = frame.pts + int(self._ts_offset / frame.time_base)
        try:
            for packet in self._video.encode(avf):
                self._nut.mux(packet)
        except (av.FFmpegError, OSError) as exc:
            raise MediaError(f"encoding '{self.target}' failed: {self._ffmpeg_says() or exc}") from None
        self.frames_written += 1

    def write_packet(self, packet: av.Packet, index: int | None = None) -> None:
        """Copy one source packet (audio/subtitles) into the output, unless it is not kept.
        ``index``: the passthrough stream it belongs to, when not ``packet.stream`` (packets
        of a reconnected live source, or encoded here)."""
        stream = self._stream_map.get(packet.stream.index if index is None else index)
        if stream is None:
            return
        shift = int(self._ts_offset / packet.time_base)
        if packet.pts is not None:
            packet.pts += shift
        if packet.dts is not None:
            packet.dts += shift
        packet.stream = stream
        try:
            self._nut.mux(packet)
        except (av.FFmpegError, OSError) as exc:
            raise MediaError(f"writing '{self.target}' failed: {self._ffmpeg_says() or exc}") from None

    def close(self) -> None:
        """Finish the stream, wait for FFmpeg and move the file into place."""
        try:
            for packet in self._video.encode(None):
                self._nut.mux(packet)
            self._nut.close()
            self._proc.stdin.close()
        except (av.FFmpegError, OSError):
            pass  # FFmpeg went away; its own message is more useful, and comes from wait()
        code = self._proc.wait()
        if code != 0:
            self._remove_partial()
            raise MediaError(f"FFmpeg failed writing '{self.target}' (exit {code}): {self._ffmpeg_says() or 'no message'}")
        if self.partial_path:
            os.replace(self.partial_path, self.target)
            self.partial_path = None

    def exited(self) -> str | None:
        """None while FFmpeg runs (or before :meth:`open`); once it has exited, what it said."""
        if self._proc is None or self._proc.poll() is None:
            return None
        return f"FFmpeg exited ({self._proc.returncode}): {self._ffmpeg_says() or 'no message'}"

    def abort(self) -> None:
        """Stop FFmpeg and remove the partial output; safe to call at any point."""
        if self._nut is not None:
            try:
                self._nut.close()
            except Exception:  # the writer may be half-open; we are discarding it anyway
                pass
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()
        self._remove_partial()

    # -- helpers ----------------------------------------------------------------------------
    def _remove_partial(self) -> None:
        if self.partial_path and os.path.exists(self.partial_path):
            os.unlink(self.partial_path)
        self.partial_path = None

    def _read_stderr(self) -> None:
        for raw in self._proc.stderr:
            line = raw.decode("utf-8", "replace").rstrip()
            if line:
                self._stderr.append(line)

    def _ffmpeg_says(self) -> str:
        if self._proc is not None:
            try:
                self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        return self._stderr[-1] if self._stderr else ""

    def _notice(self, text: str) -> None:
        self.notices.append(text)
        log.warning(text)


def current_umask() -> int:
    """The process's umask (files vproc moves into place get the permissions a plain open would)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _colour_options(info: StreamInfo) -> dict[str, str]:
    """FFmpeg options describing the colour of the frames vproc sends (an RGB stream is full range)."""
    c = info.color
    rng = "pc" if info.pixel_format.family == "rgb" else c.range
    opts = {"colorspace": c.matrix, "color_range": rng, "color_primaries": c.primaries, "color_trc": c.transfer}
    return {k: v for k, v in opts.items() if v}


def _encodable_pix_fmt(info: StreamInfo) -> str:
    """The encoder's pixel format when the user names none: the graph's, or the nearest common one."""
    fmt = info.pixel_format
    if fmt.is_float or fmt.family == "rgb":
        return "yuv420p10le" if fmt.bits > 8 else "yuv420p"
    if fmt.name in ("nv12", "p010le"):
        return "yuv420p" if fmt.bits == 8 else "yuv420p10le"
    return fmt.name


