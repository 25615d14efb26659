"""Cutting a video into segments at keyframes, and running the graph on one segment.

A :class:`Plan` lists every video frame's presentation time (from the demuxed packets, nothing
decoded) and the cut points: segments run from one keyframe to the next cut keyframe, the last to
the end of the stream. :func:`run_segment` runs the graph with the normal
:class:`~vproc.runtime.Runtime` on a source that starts ``warmup`` frames before the segment
(decoding from the keyframe at or before that frame) and stops ``latency`` frames after it, and a
sink that keeps only the frames whose time lies in the segment: a temporal node sees the same
neighbours as in a run over the whole file, so segment boundaries do not show. The segment file
holds exactly the segment's frames with their original pts.
"""

from __future__ import annotations

import bisect
import dataclasses
import logging
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av

from ..errors import ConfigError, MediaError
from ..frame import Frame, StreamInfo
from ..graph import SOURCE, Graph
from ..runtime import RunStats, Runtime

log = logging.getLogger("vproc")

#: The container of segment files: keeps any time base exactly (Matroska rounds to 1 ms), holds
#: every codec FFmpeg encodes, and FFmpeg's concat demuxer joins it by stream copy.
SEGMENT_FORMAT = "nut"
SEGMENT_SUFFIX = ".nut"


@dataclass
class Plan:
    """Frame times and cut points of an input's video stream.

    ``times``: every frame's pts (stream time base), sorted; ``keyframes``: ``(pts, dts)`` of the
    keyframe packets, sorted by pts; ``cuts``: index into ``times`` of each segment's first frame
    (``cuts[0] == 0``). ``exact`` is False for an input whose packet times cannot be trusted: then
    it is one segment, the whole stream, and ``times`` only estimates its frames.
    """

    time_base: Fraction
    times: list[int]
    keyframes: list[tuple[int, int | None]]
    cuts: list[int]
    notes: list[str] = field(default_factory=list)
    exact: bool = True

    def __len__(self) -> int:
        return len(self.cuts)

    @property
    def frames(self) -> int:
        return len(self.times)

    def bounds(self, seg: int) -> tuple[int, int]:
        """Indexes ``[first, end)`` of segment ``seg``'s frames in :attr:`times`."""
        end = self.cuts[seg + 1] if seg + 1 < len(self.cuts) else len(self.times)
        return self.cuts[seg], end

    def span(self, seg: int) -> tuple[int, int | None]:
        """``[start, stop)`` pts of segment ``seg``; ``stop`` is None for the last one."""
        first, end = self.bounds(seg)
        return self.times[first], self.times[end] if end < len(self.times) else None

    def count(self, seg: int) -> int:
        first, end = self.bounds(seg)
        return end - first

    def cut_points(self) -> list[int]:
        """pts of every segment's first frame (what the manifest records)."""
        return [self.times[i] for i in self.cuts]

    def keyframe_at_or_before(self, pts: int) -> tuple[int, int | None] | None:
        i = bisect.bisect_right([k for k, _ in self.keyframes], pts) - 1
        return self.keyframes[i] if i >= 0 else None


def plan_segments(input: str, segment_seconds: float) -> Plan:
    """Read ``input``'s video packets (no decoding) and cut it into segments of about
    ``segment_seconds`` at keyframes. Inputs whose packet timestamps cannot be trusted (missing,
    repeated, or decode-order stamps as AVI with B-frames carries) get one segment, said in the log.
    """
    if not segment_seconds or segment_seconds <= 0:
        raise ConfigError(f"segment length must be more than 0 seconds (got {segment_seconds})")
    try:
        container = av.open(str(input), "r")
    except av.FFmpegError as exc:
        raise MediaError(f"input '{input}' cannot be opened as media: {getattr(exc, 'strerror', None) or exc}") from None
    with container:
        video = _best_video(container, input)
        tb = Fraction(video.time_base)
        pts_list: list[int | None] = []
        keys: list[tuple[int | None, int | None]] = []
        same_as_dts = True
        try:
            for packet in container.demux(video):
                if not packet.size or packet.is_discard or packet.is_corrupt:
                    continue
                pts_list.append(packet.pts)
                same_as_dts = same_as_dts and packet.pts == packet.dts
                if packet.is_keyframe:
                    keys.append((packet.pts, packet.dts))
        except av.FFmpegError as exc:
            raise MediaError(f"input '{input}': cannot read its packets: {getattr(exc, 'strerror', None) or exc}") from None
        reorders = (video.codec_context.has_b_frames or 0) > 0
    if not pts_list:
        raise MediaError(f"input '{input}' has no video packets")
    times = sorted(p for p in pts_list if p is not None)
    why = None
    if len(times) < len(pts_list):
        why = "some video packets carry no timestamp"
    elif len(set(times)) < len(times):
        why = "video packets repeat timestamps"
    elif same_as_dts and reorders:
        why = "its video timestamps are in decode order (as AVI with B-frames stores them)"
    if why is not None:
        times = list(range(len(pts_list)))  # a count, not times: nothing is cut or skipped by time
        note = f"input '{input}': {why}; it is processed as one segment"
        log.warning(note)
        return Plan(tb, times, [], [0], [note], exact=False)
    keyframes = sorted((p, d) for p, d in keys if p is not None)
    step = Fraction(segment_seconds) / tb  # segment length in ticks
    cuts = [0]
    index = {t: i for i, t in enumerate(times)}
    for k, _ in keyframes:
        i = index.get(k)
        if i is None or i <= cuts[-1]:
            continue
        if k - times[cuts[-1]] >= step:
            cuts.append(i)
    return Plan(tb, times, keyframes, cuts)


def _best_video(container, input: str):
    """The video stream :class:`~vproc.io.source.Source` decodes (its choice, repeated)."""
    videos = [s for s in container.streams.video if s.codec_context is not None]
    if not videos:
        raise MediaError(f"input '{input}' has no video stream")
    return max(videos, key=lambda s: (bool(s.disposition & 1) if s.disposition else 0,
                                      (s.codec_context.width or 0) * (s.codec_context.height or 0)))


# -- what the graph needs around a segment -------------------------------------------------------
@dataclass(frozen=True)
class Context:
    """Frames a segment needs beyond its own: ``warmup`` before its first, ``latency`` after its
    last (the largest sums of the nodes' values over the paths from the source to the output)."""

    warmup: int
    latency: int


class _InfoOnly:
    def __init__(self, info: StreamInfo):
        self.info = info


def graph_context(graph: Graph, info: StreamInfo, *, device: str | None = None) -> Context:
    """Open the graph's nodes once on ``info`` (their ``warmup``/``latency`` are known after
    ``open()``), sum both along every path from the source to the output, take the largest."""
    rt = Runtime(graph, _InfoOnly(info), None, device=device)
    try:
        rt.open_nodes()
        warm: dict[str, int] = {SOURCE: 0}
        late: dict[str, int] = {SOURCE: 0}
        for spec in graph.nodes.values():  # topological order
            node = rt._runs[spec.id].node
            warm[spec.id] = int(node.warmup) + max(warm[i] for i in spec.inputs)
            late[spec.id] = int(node.latency) + max(late[i] for i in spec.inputs)
    finally:
        rt.close_nodes()
    return Context(warm[graph.output_in], late[graph.output_in])


# -- one segment --------------------------------------------------------------------------------
class _SegmentSource:
    """A :class:`~vproc.io.source.Source` (video only) that yields frames ``from_pts .. to_pts``.

    It seeks to the keyframe at or before ``from_pts`` and skips what comes before it; should the
    seek land after it (an imprecise index), it decodes from the start of the file instead.
    """

    def __init__(self, input: str, plan: Plan, from_pts: int | None, to_pts: int | None, on_error: str,
                 reads_meta=()):
        from ..io.source import Source

        self._open = lambda: Source(input, on_error=on_error, audio=False, subtitles=False, reads_meta=reads_meta)
        self.src = self._open()
        self.info = self.src.info
        self.passthrough: list = []
        self.plan = plan
        self.from_pts, self.to_pts = from_pts, to_pts
        self.first_pts: int | None = None  # the first frame decoded (after a seek)
        self.stopped = False

    @property
    def stats(self):
        return self.src.stats

    def items(self):
        if self.from_pts is None:  # the whole stream
            yield from self.src.items()
            return
        key = self.plan.keyframe_at_or_before(self.from_pts) if self.from_pts > self.plan.times[0] else None
        if key is not None:
            k_pts, k_dts = key
            try:
                self.src.container.seek(k_dts if k_dts is not None else k_pts, stream=self.src.video, backward=True)
            except av.FFmpegError as exc:
                log.info("seeking to pts %d failed (%s); decoding from the start", k_pts, exc)
                self._restart()
        while True:
            missed = False
            frames = self.src.items()
            try:
                for item in frames:
                    if not isinstance(item, Frame):
                        continue
                    if self.first_pts is None:
                        self.first_pts = item.pts
                        if item.pts > self.from_pts:
                            missed = True
                            break
                    if item.pts < self.from_pts:
                        continue  # decoded only to reach the first frame wanted
                    yield item
                    if item.pts >= self.to_pts:
                        return
            finally:
                frames.close()
            if not missed:
                return
            log.info("seek landed at pts %d, after pts %d; decoding from the start", self.first_pts, self.from_pts)
            self._restart()

    def _restart(self) -> None:
        self.src.close()
        self.src = self._open()
        self.first_pts = None
        if self.stopped:
            self.src.stop()

    def stop(self) -> None:
        self.stopped = True
        self.src.stop()

    def close(self) -> None:
        self.src.close()


class _SegmentSink:
    """Writes only the frames whose time lies in ``[start, stop)`` (seconds) to ``inner``."""

    def __init__(self, inner, start: Fraction | None, stop: Fraction | None):
        self.inner = inner
        self.start, self.stop = start, stop
        self.frames_written = 0
        self.last_pts: int | None = None

    @property
    def notices(self):
        return self.inner.notices

    @property
    def target(self):
        return self.inner.target

    def open(self, info: StreamInfo, source_info: StreamInfo | None = None) -> None:
        self.inner.open(info, source_info=source_info)  # every segment: the source's pixel format

    def write(self, frame: Frame) -> None:
        t = frame.time
        if (self.start is not None and t < self.start) or (self.stop is not None and t >= self.stop):
            return  # warm-up or look-ahead: computed only for its neighbours
        self.inner.write(frame)
        self.frames_written += 1

    def write_packet(self, packet, index=None) -> None:
        pass  # audio and subtitles are joined once over the whole output

    def close(self) -> None:
        self.inner.close()

    def abort(self) -> None:
        self.inner.abort()


def segment_options(graph: Graph):
    """The output options segments are encoded with: the graph's video settings, no audio,
    no subtitles, no sidecar, in :data:`SEGMENT_FORMAT`; the same for every segment."""
    return dataclasses.replace(graph.output, audio="none", subtitles="none", format=SEGMENT_FORMAT, skeleton=None)


def run_segment(graph: Graph, input: str, seg: int, plan: Plan, out_path: str | Path, *, context: Context,
                device: str | None = None, on_error: str = "stop", progress=None) -> RunStats:
    """Process segment ``seg`` of ``plan`` into ``out_path`` (written under a temporary name,
    renamed when complete). Raises :class:`MediaError` if the file would not hold exactly the
    segment's frames. ``progress(done, total)`` counts this segment's frames."""
    from ..io.sink import FFmpegSink

    first, end = plan.bounds(seg)
    tb = plan.time_base
    if plan.exact:
        from_pts = plan.times[max(0, first - context.warmup)]
        to_pts = plan.times[min(len(plan.times) - 1, end - 1 + context.latency)]
        start, stop = plan.span(seg)
        sink = _SegmentSink(FFmpegSink(str(out_path), segment_options(graph)), start * tb,
                            stop * tb if stop is not None else None)
    else:  # the whole stream as it decodes
        from_pts = to_pts = None
        sink = _SegmentSink(FFmpegSink(str(out_path), segment_options(graph)), None, None)
    source = _SegmentSource(input, plan, from_pts, to_pts, on_error, graph.reads_meta())
    expected = plan.count(seg)

    def report(done: int, total: int | None) -> None:
        if progress:
            progress(done, expected)

    stats = Runtime(graph, source, sink, device=device, progress=report).run()
    if stats.interrupted:
        return stats  # the caller discards the file: it may miss frames
    if plan.exact and sink.frames_written != expected:
        msg = (f"segment {seg} of '{input}' got {sink.frames_written} frames, its plan {expected}"
               + (" (broken frames were skipped)" if stats.skipped_corrupt else ""))
        if on_error == "skip" and stats.skipped_corrupt:
            log.warning(msg)
        else:
            Path(out_path).unlink(missing_ok=True)
            raise MediaError(msg + "; run without --resume")
    return stats
