"""Encoding through FFmpeg: processed frames + the source's audio/subtitles -> file (or URL).

Shape (see DESIGN.md): PyAV muxes the processed frames as rawvideo, with their own pts, together
with the source's audio and subtitle packets into a NUT stream written to the stdin of one FFmpeg
process, whose command line ffmpeg-python builds. FFmpeg encodes the video with any encoder it
has, copies those packets (or re-encodes them where the container refuses the codec), copies the
source's other video streams, cover art and attachments from the file itself, and writes the
container. This keeps variable frame rates and A/V sync exact,
gives every FFmpeg encoder and muxer, and runs the encoder in its own process, beside ours.

Where the output goes (a file under a temporary name renamed when complete, an image sequence,
standard output, a FIFO or device written in place, a URL) is :class:`~vproc.io.target.OutputTarget`'s
business; :meth:`FFmpegSink.close` after an interrupt still gives a valid file holding what was
processed. The codecs are the container's sensible defaults unless named (:func:`default_video_codec`,
:func:`default_audio_codec`), and the source's tags, dispositions and chapters are restated to
FFmpeg (:mod:`vproc.io.streammeta`), since the NUT pipe does not carry them.
"""

from __future__ import annotations

import functools
import logging
import os
import re
import subprocess
import tempfile
import threading
from collections import deque
from fractions import Fraction
from math import ceil, lcm
from pathlib import Path

import av
import ffmpeg

from ..colorspace import TAG_FOR_MATRIX, full_range, matrix_of
from ..errors import ConfigError, MediaError
from ..formats import nearest_format
from ..frame import Frame, StreamInfo
from ..graph import OutputOptions
from .avframes import to_av
from .ffmpeg import ask, check_video_encoder, ffmpeg_binary, muxers, popen
from .hdr import HDR_TRANSFERS
from .streammeta import SourceMetadata
from .target import STDIN_NAMES, STDOUT_NAMES, OutputTarget, is_url

log = logging.getLogger("vproc")

_TS_SHIFT_SECONDS = 1000  # more than any negative start (priming, edit lists) a source has

# Subtitle codecs FFmpeg converts text subtitles to, per container, when a copy is refused.
_TEXT_SUBTITLE_FOR = {"mp4": "mov_text", "mov": "mov_text", "ipod": "mov_text", "webm": "webvtt", "matroska": "ass"}


# The encoder each container gets when none is named. FFmpeg's own muxer defaults where they are
# what people expect (mp4/mov/mkv: H.264, webm: VP9, y4m: raw frames); better ones where FFmpeg's
# are of another age (MPEG-TS: MPEG-2 video, AVI/NUT: MPEG-4 part 2, FLV: Sorenson).
_VIDEO_CODEC_FOR = {"mp4": "libx264", "mov": "libx264", "ipod": "libx264", "matroska": "libx264",
                    "webm": "libvpx-vp9", "mpegts": "libx264", "hls": "libx264", "flv": "libx264",
                    "avi": "libx264", "nut": "ffv1", "yuv4mpegpipe": "wrapped_avframe", "null": "wrapped_avframe",
                    "ogg": "libtheora", "ogv": "libtheora", "mpeg": "mpeg2video", "vob": "mpeg2video",
                    "dvd": "mpeg2video", "mxf": "mpeg2video"}
# image2 takes its codec from the file extension, as FFmpeg's av_guess_codec does.
_IMAGE_CODEC_FOR = {".png": "png", ".jpg": "mjpeg", ".jpeg": "mjpeg", ".bmp": "bmp", ".tif": "tiff",
                    ".tiff": "tiff", ".webp": "libwebp", ".ppm": "ppm", ".pgm": "pgm", ".pam": "pam",
                    ".dpx": "dpx", ".exr": "exr", ".jxl": "libjxl", ".gif": "gif"}
# The audio encoder used when the source's audio cannot be copied into the container (or --audio
# aac is not what the container takes): the container's own default, as FFmpeg picks it.
_AUDIO_CODEC_FOR = {"mp4": "aac", "mov": "aac", "ipod": "aac", "webm": "libopus", "matroska": "libopus",
                    "mpegts": "aac", "hls": "aac", "flv": "aac", "avi": "libmp3lame", "nut": "libopus",
                    "ogg": "libvorbis", "ogv": "libvorbis", "null": "pcm_s16le", "mpeg": "mp2", "vob": "ac3",
                    "dvd": "ac3", "mxf": "pcm_s16le"}
# Encoders whose time base must be the frame rate (MPEG-1/2 take only the standard rates; Theora
# codes a frame's time as its number): they get the stream's rate, not the source's time base
# (1/12800 from an MP4 is no MPEG-2 frame rate).
_RATE_TIME_BASE = {"mpeg1video", "mpeg2video", "libtheora"}
# Containers without audio (or without any stream but video).
_NO_AUDIO = {"yuv4mpegpipe", "image2", "apng", "gif", "rawvideo"}


def default_video_codec(fmt: str, target: str = "") -> str:
    """The video encoder for container ``fmt`` (``target`` for image files) when none is named."""
    if fmt in ("image2", "image2pipe"):
        return _IMAGE_CODEC_FOR.get(Path(target).suffix.lower(), "png")
    if fmt in _VIDEO_CODEC_FOR:
        return _VIDEO_CODEC_FOR[fmt]
    return _muxer_default(fmt, "video") or "libx264"


def default_audio_codec(fmt: str) -> str | None:
    """The audio encoder for container ``fmt`` when a copy is refused; None: it takes no audio."""
    if fmt in _NO_AUDIO:
        return None
    if fmt in _AUDIO_CODEC_FOR:
        return _AUDIO_CODEC_FOR[fmt]
    return _muxer_default(fmt, "audio", unknown="aac")


def _muxer_default(fmt: str, kind: str, unknown: str | None = None) -> str | None:
    """The encoder of muxer ``fmt``'s own default ``kind`` ("video"/"audio") codec, as FFmpeg
    picks it for a container vproc has no choice for; None where it has none, ``unknown`` where
    the muxer or its codec is not known here."""
    with tempfile.TemporaryDirectory() as tmp:
        try:
            with av.open(os.path.join(tmp, "probe"), "w", format=fmt) as probe:
                name = getattr(probe, f"default_{kind}_codec")
            return None if name in (None, "none") else av.codec.Codec(name, "w").name
        except (ValueError, av.FFmpegError, TypeError):
            return unknown


def guess_format(target: str) -> str:
    """The FFmpeg muxer for an output name, as FFmpeg itself would pick it."""
    scheme = target.split("://", 1)[0] if is_url(target) else ""
    if scheme in ("rtmp", "rtmps"):
        return "flv"
    if scheme in ("srt", "udp", "rtp"):
        return "mpegts"
    if os.path.realpath(target) == os.devnull:
        return "null"  # ffmpeg -f null /dev/null: encode, keep nothing
    suffix = Path(target).suffix
    if not suffix:
        where = "standard output" if target in STDOUT_NAMES else f"output '{target}'"
        raise ConfigError(f"{where} has no file extension to tell the container; name it with --format (e.g. --format nut)")
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
        self._stderr_first: list[str] = []  # FFmpeg's first words: usually the reason, the rest follows from it
        self.metadata: SourceMetadata | None = None
        self._meta_file: str | None = None
        self._ts_offset = Fraction(0)
        self._out_name: str | None = None
        self._planned_piped: list = []
        self._others: list = []  # the source's streams besides its video and the passthrough ones
        self._source_formats: frozenset[str] = frozenset()  # its demuxer's names ("mov", "mp4", ...)
        self._trim: tuple[Fraction, Fraction | None] | None = None  # its range in the source's timeline, seconds
        self._origin = Fraction(0)  # the source's start time, taken off every timestamp
        self._file_start = Fraction(0)  # the start time FFmpeg counts a file input's -ss from
        self.hdr = None  # the source's HDR10 static metadata (vproc.io.hdr)
        self.frames_written = 0
        self.notices: list[str] = []
        self.partial_path: str | None = None
        self.format = self.options.format or guess_format(self.target)
        # HLS and DASH write segment files named after the playlist: renaming the playlist would
        # leave them under the temporary name, so those are written in place.
        self.out = OutputTarget(self.target, atomic=atomic and self.format not in ("hls", "dash"))
        self.codec = self.options.codec or default_video_codec(self.format, self.target)
        self._check_target()
        check_video_encoder(self.codec)

    def attach_passthrough(self, streams) -> None:
        """The source's audio/subtitle streams to carry over (before :meth:`open`)."""
        self._passthrough = list(streams)

    def attach_source(self, source) -> None:
        """Carry over what an opened :class:`~vproc.io.source.Source` has besides its video
        frames: its passthrough streams, and the tags, dispositions and chapters of the
        container and its streams (before :meth:`open`)."""
        from .trim import Trimmed

        self.attach_passthrough(source.passthrough)
        self.metadata = SourceMetadata.of(source.container)
        start = source.container.start_time
        if isinstance(source, Trimmed):  # its frames are moved back by the start of the range already
            self._trim = source.span
            self._file_start = source.origin
            self.metadata = self.metadata.trimmed(*self._trim)
        elif start and start > 0:
            # FFmpeg starts its output at zero: a source that starts later (MPEG-TS, a cut
            # recording) would leave an empty lead-in as long as its start time
            self._origin = Fraction(start, av.time_base)
        self._video_index = source.video.index
        self._source_formats = frozenset(source.container.format.name.split(","))
        self.hdr = getattr(source, "hdr", None)
        kept = {source.video.index} | {s.index for s in source.passthrough}
        self._others = [s for s in source.container.streams
                        if s.index not in kept and s.type in ("video", "attachment", "data")]

    # -- checks that must fail before anything is decoded --------------------------------
    def _check_target(self) -> None:
        if self.format not in muxers():
            raise ConfigError(f"output format '{self.format}' is not known to FFmpeg")
        self.out.check(self.overwrite)

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
                if opts.audio == "aac" and self.format not in _NO_AUDIO:
                    codec = "aac"
                elif copy_ok:
                    codec = "copy"
                else:
                    codec = default_audio_codec(self.format)
                    if codec is None:
                        self._notice(f"audio stream #{s.index} ({s.codec_context.name}) dropped: {self.format} holds no audio")
                        continue
                    self._notice(f"audio stream #{s.index} ({s.codec_context.name}) cannot be copied into {self.format}; re-encoding it to {codec}")
            else:
                codec = "copy" if copy_ok else _TEXT_SUBTITLE_FOR.get(self.format)
                if codec is None:
                    self._notice(f"subtitle stream #{s.index} ({s.codec_context.name}) cannot be stored in {self.format}; dropped")
                    continue
                if codec != "copy":
                    self._notice(f"subtitle stream #{s.index} ({s.codec_context.name}) converted to {codec} for {self.format}")
            if self._source_is_file() and s.type == "subtitle":
                # From the file itself where it can be read: NUT loses what subtitle packets
                # carry beyond their start (an ASS event's duration), and carries some not at all.
                codecs.append(("file", s.index, codec))
            elif container_accepts("nut", s):
                piped.append(s)
                codecs.append(("pipe", len(piped), codec))
            elif self._source_is_file():
                # NUT cannot carry some subtitle codecs: FFmpeg reads those from the file itself.
                codecs.append(("file", s.index, codec))
            else:
                self._notice(f"{s.type} stream #{s.index} ({s.codec_context.name}) cannot be carried by the pipe into FFmpeg (a live or piped input, or a trimmed run); dropped")
        for s in self._others:
            # The video streams not processed (a second angle, cover art) and attachments (fonts):
            # copied from the file, as ffmpeg -map 0 -c copy would, where the container takes them.
            name = (s.codec_context.name if s.codec_context else s.name) or s.type
            if s.type == "data" and self._restated(s):
                log.info("data stream #%d (%s) is written anew from the source's %s", s.index, name,
                         "timecode" if "timecode" in s.metadata else "chapters")
                continue
            kind = "cover art" if s.type == "video" and "attached_pic" in self._dispositions(s) else f"{s.type} stream"
            if not self._source_is_file():
                self._notice(f"{kind} #{s.index} ({name}) is not processed and cannot be copied from a live or piped input; dropped")
            elif (s.type == "attachment" and self.format != "matroska"
                  or kind == "cover art" and self.format not in ("mp4", "mov", "ipod", "matroska")
                  or kind != "cover art" and s.type in ("video", "data") and not container_accepts(self.format, s)):
                self._notice(f"{kind} #{s.index} ({name}) cannot be stored in {self.format}; dropped")
            else:
                if s.type == "video" and kind != "cover art":
                    self._notice(f"video stream #{s.index} ({name}) is not processed (choose with --video-stream); copied as it is")
                codecs.append(("file", s.index, "copy"))
        return piped, codecs

    def _restated(self, stream) -> bool:
        """Whether a data stream is one the muxers write anew from metadata vproc carries: a
        QuickTime timecode track (from the video's ``timecode`` tag) or MP4/MOV chapters'
        text track (from the chapter list). Copied as well, they would be there twice."""
        if "timecode" in stream.metadata:
            return True
        chapters = bool(self.metadata and self.metadata.chapters)
        return chapters and stream.name == "bin_data" and bool({"mov", "mp4"} & self._source_formats)

    def _source_is_file(self) -> bool:
        """Whether FFmpeg can read streams from the source file itself (not a pipe or a URL)."""
        return bool(self._source_url) and not is_url(self._source_url) and self._source_url not in STDIN_NAMES

    def _file_input_options(self) -> dict[str, str]:
        """How FFmpeg reads the source file for the streams it takes from there, so they land on
        the processed video's timeline: moved back by the source's start time as the frames are
        (-itsoffset), and trimmed as they are (-ss/-t, then moved back by the start)."""
        if self._trim is not None:
            begin, end = self._trim  # -ss counts from the file's start; with -copyts its times stay absolute
            out = {"ss": f"{float(begin - self._file_start):.6f}", "itsoffset": f"{-float(begin):.6f}"}
            if end is not None:
                out["t"] = f"{float(end - begin):.6f}"
            return out
        return {"itsoffset": f"{-float(self._origin):.6f}"} if self._origin else {}

    def _dispositions(self, stream) -> list[str]:
        meta = self.metadata.streams.get(stream.index) if self.metadata else None
        return meta.disposition if meta else []

    def _command(self, info: StreamInfo, codecs) -> list[str]:
        opts = self.options
        # NUT cannot hold negative timestamps (AAC priming packets have them), and libavformat
        # would shift every stream to avoid them; so all streams are written shifted by a whole
        # number of ticks of every time base, and FFmpeg's -itsoffset undoes it exactly.
        # rawvideo in NUT carries no colour description: declare it on the input, or FFmpeg
        # takes the frames as unspecified and "converts" them into the tagged output range.
        # Nor a display matrix (frames kept as stored, autorotate=False) or interlacing: those
        # too are declared.
        pipe_in = ffmpeg.input("pipe:0", format="nut", itsoffset=str(-float(self._ts_offset + self._origin)),
                               **_colour_options(info), **_geometry_options(info))
        maps = [pipe_in["v:0"]]
        file_in = None
        for where, index, _ in codecs:
            if where == "pipe":
                maps.append(pipe_in[str(index)])
            else:
                file_in = file_in or ffmpeg.input(self._source_url, **self._file_input_options())
                maps.append(file_in[str(index)])
        kw: dict[str, object] = {"c:v:0": self.codec, "f": self.format, "fps_mode": "passthrough",
                                 "enc_time_base:v:0": "demux", "max_muxing_queue_size": 4096}
        if self.codec in _RATE_TIME_BASE or self.format == "yuv4mpegpipe":  # (y4m's header states the rate)
            del kw["enc_time_base:v:0"], kw["fps_mode"]
            if info.rate:
                kw["r:v:0"] = str(info.rate)
        for out_index, (_, _, codec) in enumerate(codecs, start=1):
            kw[f"c:{out_index}"] = codec
        if opts.bitrate is not None:
            kw["b:v:0"] = opts.bitrate
        elif opts.crf is not None or self.codec in ("libx264", "libx265", "libvpx-vp9", "libaom-av1", "libsvtav1"):
            kw["crf"] = opts.crf if opts.crf is not None else 18 if self.codec != "libvpx-vp9" else 31
            if self.codec == "libvpx-vp9":
                kw["b:v:0"] = 0  # libvpx's constant-quality mode: without it crf only caps a bitrate
        if self.format == "image2" and not self.out.kind == "sequence":
            kw["update"] = 1  # one image: each frame replaces it (the last stays), as -update 1
        if opts.preset:
            kw["preset"] = opts.preset
        pix_fmt = opts.pix_fmt or _encodable_pix_fmt(info, getattr(self, "_source_info", None), self.codec)
        kw["pix_fmt"] = pix_fmt
        c = info.color
        matrix, rng = c.matrix, c.range
        if info.pixel_format.family == "rgb" and pix_fmt.startswith(("yuv", "nv", "p0")):
            # FFmpeg's own RGB -> YUV step would use BT.601 whatever the tags say: name the
            # stream's matrix, and write the limited range players expect, then tag them.
            family = matrix_of(info)
            # (yuvj* formats are full range by definition: chosen only for a full-range source)
            out_range = "pc" if pix_fmt.startswith("yuvj") else "tv"
            kw["filter:v:0"] = f"scale=out_color_matrix={family}:out_range={out_range}"
            matrix, rng = TAG_FOR_MATRIX[family], out_range
        for flag, value in (("colorspace", matrix), ("color_range", rng),
                            ("color_primaries", c.primaries), ("color_trc", c.transfer)):
            if value:
                kw[flag] = value
        if info.sample_aspect_ratio:
            # NUT writes AVStream.sample_aspect_ratio, which PyAV cannot set (only the codec
            # context's): FFmpeg would read square pixels. The output gets it from a setsar.
            kw["filter:v:0"] = ",".join(v for v in (kw.get("filter:v:0"), _setsar(info.sample_aspect_ratio)) if v)
        out_name = self._out_name or self.target
        out = ffmpeg.output(*maps, out_name, **kw)
        args = ffmpeg.compile(out, cmd=ffmpeg_binary())
        # ffmpeg-python appends global options after the output name, where FFmpeg warns that
        # trailing options may be ignored: put them first. Extra user arguments are output
        # options, so they go just before the output name, and so do the source's tags.
        at = len(args) - 1 - args[::-1].index(out_name)
        global_opts = ["-hide_banner", "-nostdin", "-loglevel", "error", "-copyts", "-y"]
        meta_in, meta_opts = self._metadata_args(codecs, n_inputs=1 + (file_in is not None))
        extra = list(opts.args)
        # written while the output is HDR, or its transfer unknown (FFmpeg writes it then too);
        # not onto a transfer a graph made SDR
        if self.hdr is not None and info.color.transfer in HDR_TRANSFERS + (None,):
            extra, written = self.hdr.encoder_args(self.codec, extra)
            if not written:
                self._notice(f"the source's HDR10 metadata (mastering display, light level) cannot be written by {self.codec}; "
                             "dropped (libx264, libx265 and libsvtav1 write it)")
        middle = args[1:at]
        last_input = max(i for i, a in enumerate(middle) if a == "-i") + 2  # inputs come before outputs
        middle = middle[:last_input] + meta_in + middle[last_input:]
        return args[:1] + global_opts + middle + meta_opts + extra + args[at:]

    def _metadata_args(self, codecs, n_inputs: int) -> tuple[list[str], list[str]]:
        """The FFMETADATA input (container tags, chapters) and the per-stream tag and
        disposition options that restate the source's (see :mod:`vproc.io.streammeta`)."""
        meta = self.metadata
        if meta is None:
            return [], []
        opts: list[str] = []
        self._meta_file = meta.write_ffmetadata()
        inputs: list[str] = []
        if self._meta_file:
            inputs = ["-f", "ffmetadata", "-i", self._meta_file]
            opts += ["-map_metadata", str(n_inputs), "-map_chapters", str(n_inputs)]
        else:
            opts += ["-map_metadata", "-1", "-map_chapters", "-1"]
        video_index = getattr(self, "_video_index", None)
        if video_index is not None:
            opts += meta.stream_options(video_index, 0)
        piped = [s.index for s in self._planned_piped]
        for out_index, (where, index, _) in enumerate(codecs, start=1):
            opts += meta.stream_options(piped[index - 1] if where == "pipe" else index, out_index)
        return inputs, opts

    # -- lifecycle ----------------------------------------------------------------------------
    def open(self, info: StreamInfo, source_info: StreamInfo | None = None) -> None:
        """Start FFmpeg and the NUT writer for frames described by ``info``.

        ``source_info``: the decoded source's stream; the encoded pixel format defaults to the
        source's bit depth and chroma layout (see :func:`_encodable_pix_fmt`), whatever the
        graph computed in. Without it, the graph's format is the reference."""
        self._source_info = source_info
        piped, codecs = self._plan_streams()
        numerators = [info.time_base.numerator] + [Fraction(st.time_base).numerator for st in piped]
        unit = lcm(*numerators)
        self._ts_offset = Fraction(unit * ceil(_TS_SHIFT_SECONDS / unit))
        self._planned_piped = piped
        self._out_name = self.out.begin()
        self.partial_path = self.out.partial
        try:
            cmd = self._command(info, codecs)
            log.debug("ffmpeg command: %s", " ".join(cmd))
            # Own process group: Ctrl-C reaches vproc only, which then finishes the file cleanly;
            # and it dies with vproc, even when vproc is killed (see ffmpeg.popen).
            self._proc = popen(cmd, stdin=subprocess.PIPE, stderr=subprocess.PIPE, process_group=0)
        except BaseException:
            self.abort()
            raise
        _widen_pipe(self._proc.stdin.fileno())
        self._stderr_reader = threading.Thread(target=self._read_stderr, daemon=True, name="ffmpeg-stderr")
        self._stderr_reader.start()
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
        self._remove_meta_file()
        if code != 0:
            self._remove_partial()
            raise MediaError(f"FFmpeg failed writing '{self.target}' (exit {code}): {self._ffmpeg_says() or 'no message'}")
        self.written = self.out.commit()
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
        self.out.discard()
        self.partial_path = None
        self._remove_meta_file()

    def _remove_meta_file(self) -> None:
        if self._meta_file:
            Path(self._meta_file).unlink(missing_ok=True)
            self._meta_file = None

    def _read_stderr(self) -> None:
        for raw in self._proc.stderr:
            line = raw.decode("utf-8", "replace").rstrip()
            if line:
                if len(self._stderr_first) < 20:
                    self._stderr_first.append(line)
                self._stderr.append(line)

    def _ffmpeg_says(self) -> str:
        """FFmpeg's reason for a failure: its first specific error line (the last ones, such as
        "Nothing was written into output file", only say that something failed)."""
        if self._proc is not None:
            try:
                self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
            reader = getattr(self, "_stderr_reader", None)
            if reader is not None and self._proc.poll() is not None:
                reader.join(timeout=2)  # FFmpeg has exited: its last words are on their way
        return ffmpeg_reason(self._stderr_first + [line for line in self._stderr if line not in self._stderr_first])

    def _notice(self, text: str) -> None:
        self.notices.append(text)
        log.warning(text)


# FFmpeg's closing lines that follow from an earlier error and say nothing of its cause.
_GENERIC = re.compile(r"Nothing was written into output file|Conversion failed|Error while filtering|"
                      r"Terminating thread|Error closing file|Task finished with error|Could not open encoder before EOF|"
                      r"Error sending frames to consumers|Error marking filters as finished|"
                      r"Error while processing the decoded data|Error submitting a packet to the muxer|"
                      r"Error muxing a packet|Error writing trailer|Error initializing output stream|"
                      r"Could not write header \(incorrect codec parameters \?\)|Failed to set value|"
                      r"Error opening output files?:|Error encoding a frame", re.I)
_ADDRESS = re.compile(r" @ 0x[0-9a-f]+\]")


def ffmpeg_reason(lines: list[str]) -> str:
    """The line of FFmpeg's error output that says why it failed (see :meth:`FFmpegSink._ffmpeg_says`),
    without the object addresses (``[webm @ 0x55...]`` -> ``[webm]``)."""
    specific = [line for line in lines if not _GENERIC.search(line)]
    line = (specific or lines or [""])[0]
    return _ADDRESS.sub("]", line)


def _widen_pipe(fd: int, size: int = 1 << 20) -> None:
    """Give the pipe into FFmpeg a 1 MiB buffer (Linux's default is 64 KiB): a 720p frame is
    1.4 MB of rawvideo, which a small pipe splits into some twenty writes, each waking FFmpeg."""
    try:
        import fcntl

        fcntl.fcntl(fd, getattr(fcntl, "F_SETPIPE_SZ", 1031), size)
    except (ImportError, OSError):  # not Linux, or above /proc/sys/fs/pipe-max-size: keep the default
        pass


def _colour_options(info: StreamInfo) -> dict[str, str]:
    """FFmpeg options describing the colour of the frames vproc sends (an RGB stream is full range)."""
    c = info.color
    rng = "pc" if info.pixel_format.family == "rgb" else c.range
    opts = {"colorspace": c.matrix, "color_range": rng, "color_primaries": c.primaries, "color_trc": c.transfer}
    return {k: v for k, v in opts.items() if v}


def _geometry_options(info: StreamInfo) -> dict[str, str | None]:
    """FFmpeg input options giving the frames vproc sends what ``info`` says of them and NUT's
    rawvideo does not carry: the display matrix (frames kept as stored, see
    :class:`~vproc.io.source.Source`), with FFmpeg kept from turning them upright itself, so the
    output has the matrix as ``ffmpeg -noautorotate``'s has; and interlacing (the rawvideo
    decoder's ``top``: frames flagged interlaced in their field order), so an interlaced source
    not deinterlaced is flagged as the ffmpeg CLI flags it."""
    opts: dict[str, str | None] = {}
    if info.rotation or info.hflip or info.vflip:
        opts.update({"display_rotation:v": str(info.rotation), "noautorotate": None})
        if info.hflip:
            opts["display_hflip:v"] = None  # (boolean flags: no value)
        if info.vflip:
            opts["display_vflip:v"] = None
    if info.interlaced and info.top_field_first is not None:
        opts["top:v"] = "1" if info.top_field_first else "0"
    return opts


def _setsar(sar: Fraction) -> str:
    """The ``setsar`` filter for ``sar`` exactly (its ``max`` bounds the reduced fraction's terms)."""
    return f"setsar=r={sar.numerator}/{sar.denominator}:max={max(sar.numerator, sar.denominator, 100)}"


def _encodable_pix_fmt(info: StreamInfo, source_info: StreamInfo | None = None, codec: str = "libx264") -> str:
    """The encoder's pixel format when the user names none (``--pix-fmt`` overrides).

    The source's format where the encoder takes it (8-bit 4:2:0 in, 8-bit 4:2:0 out, whatever
    the graph computed in: ``lowlight``'s float RGB does not turn an 8-bit source into High 10),
    else the one of the encoder's formats FFmpeg itself would convert the source to
    (:func:`vproc.formats.nearest_format`, FFmpeg's loss function: same family, chroma and at
    least the bits where it can; RGB into libx264 is yuv444p, 10-bit into an 8-bit-only encoder
    8-bit), so the output is what ``ffmpeg -i SOURCE -c:v CODEC`` writes. Without
    ``source_info`` the graph's format (``info``) is the reference."""
    ref = source_info if source_info is not None else info
    fmt = ref.pixel_format
    candidates = _encoder_pix_fmts(codec)
    if not candidates:  # the encoder lists none (rawvideo, wrapped_avframe): it takes the source's
        return fmt.transport
    if not (fmt.family in ("yuv", "gray") and full_range(ref)):
        # FFmpeg negotiates the range with the format: yuvj* (full range only) are for full-range
        # YUV and grey; an RGB or limited-range source gets limited-range YUV.
        candidates = [c for c in candidates if not c.startswith("yuvj")] or candidates
    return nearest_format(fmt.name, candidates)


@functools.lru_cache(maxsize=64)
def _encoder_pix_fmts(codec: str) -> tuple[str, ...]:
    """The pixel formats the FFmpeg binary's ``codec`` encoder takes (empty: it does not say).

    Asked of the binary that encodes (``ffmpeg -h encoder=``), not of PyAV's libraries, which
    may be built otherwise (PyAV's libvpx here is 8-bit only, the binary's also 10-bit)."""
    out = ask("-h", f"encoder={codec}")
    for line in out.splitlines():
        if line.strip().startswith("Supported pixel formats:"):
            return tuple(line.split(":", 1)[1].split())
    if "Encoder " in out:
        return ()  # known, but lists no formats
    try:
        return tuple(f.name for f in av.codec.Codec(codec, "w").video_formats or ())
    except Exception:  # unknown to PyAV as well: let FFmpeg decide
        return ()


