"""Joining segment files into the output: one FFmpeg command, video by stream copy.

FFmpeg's concat demuxer reads the segments one after another; it starts the first file at 0 and
each next one at the sum of the earlier files' ``duration``, moving every file's packets by (that
start - the file's own start time). With ``duration`` = the next segment's start minus this one's
and the concat input offset by the first segment's start (``-itsoffset``, ``-copyts``), the
output keeps the source's pts exactly, as a run over the whole file does, also where a segment
file starts a little late (a muxer shifts a file whose decode times would start below 0). The
audio and subtitles come once, over the whole output, from the input file itself, planned as
:class:`~vproc.io.sink.FFmpegSink` plans them (copy, or AAC where the container refuses a copy).
"""

from __future__ import annotations

import logging
import subprocess
from fractions import Fraction
from pathlib import Path

from ..errors import MediaError
from ..graph import OutputOptions
from .segments import Plan

log = logging.getLogger("vproc")


def _us(t: Fraction) -> int:
    return round(t * 1_000_000)


def _seconds(us: int) -> str:
    sign = "-" if us < 0 else ""
    us = abs(us)
    return f"{sign}{us // 1_000_000}.{us % 1_000_000:06d}"


def concat_list(plan: Plan, segment_files: list[str | Path]) -> str:
    """The concat demuxer's script for the segments (see the module docstring): each file but
    the last gets ``duration`` = the next segment's start minus its own."""
    starts = [_us(p * plan.time_base) for p in plan.cut_points()]
    lines = ["ffconcat version 1.0"]
    for i, path in enumerate(segment_files):
        quoted = str(Path(path).resolve()).replace("'", "'\\''")
        lines.append(f"file '{quoted}'")
        if i + 1 < len(segment_files):
            lines.append(f"duration {_seconds(starts[i + 1] - starts[i])}")
    return "\n".join(lines) + "\n"


def _file_start(path) -> int:
    """A file's start time in microseconds (one segment, when the plan has no times)."""
    import av

    with av.open(str(path)) as c:
        return c.start_time or 0


def _priming_shift(src, piped, codecs, fmt: str) -> int:
    """Microseconds the normal sink's output is shifted by where this join's would not be.

    Copied AAC starts with priming packets at negative times. The normal sink pipes them to FFmpeg
    without the stream's ``initial_padding``, and a Matroska/WebM muxer then shifts every stream
    so the first packet is at 0; copied here from the file, the muxer writes a codec delay
    instead and shifts nothing. The join shifts by as much, so both outputs keep the same times.
    """
    if fmt not in ("matroska", "webm"):
        return 0
    copied = {(piped[i - 1].index if where == "pipe" else i) for where, i, codec in codecs if codec == "copy"}
    streams = [s for s in src.passthrough if s.index in copied and s.type == "audio"]
    if not streams:
        return 0
    first: dict[int, int] = {}
    for packet in src.container.demux(*streams):
        if packet.size and packet.pts is not None and packet.stream.index not in first:
            first[packet.stream.index] = _us(packet.pts * packet.time_base)
        if len(first) == len(streams):
            break
    return max(0, -min(first.values(), default=0))


def join(plan: Plan, segment_files: list[str | Path], input: str, output: str, options: OutputOptions, *,
         work_dir: str | Path | None = None, overwrite: bool = True) -> list[str]:
    """Write ``output``: the segments' video (stream copy) and ``input``'s audio and subtitles
    (as ``options`` says), under a temporary name renamed when complete. Returns the notices
    (streams re-encoded or dropped), as the normal sink gives them."""
    from ..io.ffmpeg import ffmpeg_binary, popen
    from ..io.sink import FFmpegSink, ffmpeg_reason
    from ..io.source import Source
    from ..io.streammeta import SourceMetadata

    if len(segment_files) != len(plan):
        raise MediaError(f"join: {len(segment_files)} segment files for a plan of {len(plan)} segments")
    sink = FFmpegSink(output, options, source_url=input, overwrite=overwrite)  # checks the target
    with Source(input, audio=options.audio != "none", subtitles=options.subtitles != "none") as src:
        sink.attach_passthrough(src.passthrough)
        piped, codecs = sink._plan_streams()
        shift = _priming_shift(src, piped, codecs, sink.format)
        meta = SourceMetadata.of(src.container)
        maps, codec_args = ["-map", "0:v:0"], ["-c:v", "copy"]
        # the source's container tags and chapters, and its video stream's tags and disposition
        meta_args = ["-map_metadata", "1", "-map_chapters", "1", *meta.stream_options(src.video.index, 0)]
        for out_index, (where, index, codec) in enumerate(codecs, start=1):
            stream_index = piped[index - 1].index if where == "pipe" else index  # (streams die with src)
            maps += ["-map", f"1:{stream_index}"]
            codec_args += [f"-c:{out_index}", codec]
            meta_args += meta.stream_options(stream_index, out_index)
    # The concat demuxer starts its first file at 0 and moves each file's packets by (where it
    # starts the file - the file's own start time); this moves them back to the source's times.
    start = _us(plan.times[plan.cuts[0]] * plan.time_base) if plan.exact else _file_start(segment_files[0])
    folder = Path(work_dir) if work_dir else Path(output).parent
    listing = folder / "concat.txt"
    listing.write_text(concat_list(plan, segment_files))
    target = sink.out
    partial = target.begin()
    inputs = ["-f", "concat", "-safe", "0", *(["-itsoffset", _seconds(start)] if start else []), "-i", str(listing),
              "-i", str(input)]
    cmd = [ffmpeg_binary(), "-hide_banner", "-nostdin", "-loglevel", "error", "-copyts", "-y", *inputs,
           *maps, *codec_args, *meta_args, "-max_muxing_queue_size", "4096",
           *(["-output_ts_offset", _seconds(shift)] if shift else []), "-f", sink.format, partial]
    log.debug("ffmpeg command: %s", " ".join(cmd))
    try:
        proc = popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        _, err = proc.communicate()
        if proc.returncode != 0:
            said = err.decode("utf-8", "replace").strip().splitlines()
            raise MediaError(f"FFmpeg failed joining the segments into '{output}' (exit {proc.returncode}): "
                             f"{ffmpeg_reason(said) or 'no message'}")
        target.commit()
    except BaseException:
        target.discard()
        raise
    finally:
        listing.unlink(missing_ok=True)
    return list(sink.notices)
