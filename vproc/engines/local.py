"""The local segmented engine: segments one after another on this machine, then the join.

Each finished segment is kept in the work folder (:mod:`~vproc.engines.resume`), so a run that
crashed or was stopped at 90 % costs 10 % when run again. The output appears only after the join.

What every engine shares lives here too: :func:`prepare` (the checks, the plan, the graph's
context, the work folder and its manifest), :meth:`SegmentedRun.record` (one finished segment into
the manifest and the statistics) and :meth:`SegmentedRun.finish` (the join, the statistics, the
work folder's removal). An engine differs only in how it runs the unfinished segments
(:func:`run_segmented` here, :func:`vproc.engines.ray.run_ray` on a Ray cluster).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ConfigError, MediaError
from ..graph import Graph
from ..runtime import RunStats, StageStats
from . import join as joiner
from . import resume
from .segments import SEGMENT_SUFFIX, Context, Plan, graph_context, plan_segments, run_segment

log = logging.getLogger("vproc")

DEFAULT_SEGMENT_SECONDS = 30.0


@dataclass
class SegmentedRun:
    """A prepared segmented run: the plan, the context, the work folder and the statistics so far."""

    graph: Graph
    input: str
    output: str
    plan: Plan
    context: Context
    work: resume.WorkDir
    device: str | None
    on_error: str
    overwrite: bool
    keep_work: bool
    progress: object
    start_t: float
    stats: RunStats
    stages: dict[str, StageStats] = field(default_factory=dict)
    done_frames: int = 0  # frames of the finished segments, those of earlier runs included

    @property
    def total(self) -> int:
        return self.plan.frames

    def unfinished(self) -> list[int]:
        """The segments still to process, in order."""
        return [seg for seg in range(len(self.plan)) if seg not in self.work.done]

    def path(self, seg: int) -> Path:
        return self.work.path(seg, SEGMENT_SUFFIX)

    def report(self, extra: int = 0) -> None:
        """Progress: the finished segments' frames plus ``extra`` frames of segments under way."""
        if self.progress:
            self.progress(min(self.done_frames + extra, self.total), self.total)

    def interrupted(self, seg: int) -> MediaError:
        self.path(seg).unlink(missing_ok=True)
        self.stats.interrupted = True
        return MediaError(f"interrupted in segment {seg + 1} of {len(self.plan)}; {len(self.work.done)} finished "
                          f"segment(s) are kept in '{self.work.folder}': run the same command again to go on")

    def record(self, seg: int, seg_stats: RunStats) -> None:
        """Segment ``seg`` is complete (its file in place): into the manifest and the statistics."""
        if seg_stats.interrupted:
            raise self.interrupted(seg)
        self.work.finished(seg, self.path(seg))
        self.done_frames += self.plan.count(seg)
        stats = self.stats
        stats.frames_in += seg_stats.frames_in
        stats.frames_out += seg_stats.frames_out
        stats.skipped_corrupt += seg_stats.skipped_corrupt
        for counter in ("concealed", "dropped", "packets_dropped"):
            setattr(stats, counter, getattr(stats, counter) + getattr(seg_stats, counter, 0))
        for st in seg_stats.stages:
            acc = self.stages.setdefault(st.name, StageStats(st.name, st.kind, st.device))
            acc.frames_in += st.frames_in
            acc.frames_out += st.frames_out
            acc.busy_s += st.busy_s
            acc.summary = st.summary
        for k, v in seg_stats.transfers.items():
            stats.transfers[k] = stats.transfers.get(k, 0) + v

    def finish(self) -> RunStats:
        """Join the segments into the output, remove the work folder (unless kept), the statistics."""
        missing = self.unfinished()
        if missing:
            raise MediaError(f"segment(s) {', '.join(str(s) for s in missing)} missing before the join")
        files = [self.path(seg) for seg in range(len(self.plan))]
        stats = self.stats
        stats.notices += joiner.join(self.plan, files, self.input, self.output, self.graph.output,
                                     work_dir=self.work.folder, overwrite=self.overwrite)
        stats.stages = list(self.stages.values())
        if self.keep_work:
            log.info("finished segments kept in '%s' (--keep-work)", self.work.folder)
        else:
            self.work.remove()
        if self.progress:
            self.progress(self.total, self.total)
        stats.wall_s = time.perf_counter() - self.start_t
        return stats


def prepare(graph: Graph, input: str, output: str, *, segment_seconds: float = DEFAULT_SEGMENT_SECONDS,
            work_dir: str | Path | None = None, resume_: bool = True, keep_work: bool = False,
            device: str | None = None, on_error: str = "stop", progress=None, overwrite: bool = True) -> SegmentedRun:
    """The checks, the plan, the graph's context and the work folder of a segmented run (any engine)."""
    from ..io.output import Output
    from ..io.sink import is_url
    from ..io.source import Source

    start_t = time.perf_counter()
    if segment_seconds is None or not segment_seconds > 0:
        raise ConfigError(f"--segment-seconds must be more than 0 (got {segment_seconds})")
    if is_url(str(input)):
        raise ConfigError(f"segmented runs (--resume, --engine ray) need a seekable input file, not a URL ('{input}')")
    if is_url(str(output)):
        raise ConfigError(f"segmented runs (--resume, --engine ray) write a file, not a URL ('{output}')")
    if not Path(input).is_file():
        raise MediaError(f"input '{input}' does not exist" if not Path(input).exists() else f"input '{input}' is not a file")
    target = Output(output, graph.output, input=input, kind="segmented", overwrite=overwrite)
    resume.check_work_dir(work_dir)
    target.check()  # target and codec checks, before decoding

    with Source(input, on_error=on_error, audio=False, subtitles=False) as src:
        info = src.info
    plan = plan_segments(input, segment_seconds)
    context = graph_context(graph, info, device=device)
    key = {"graph": resume.graph_hash(graph, device), "input": resume.input_hash(input),
           "settings": {"segment_seconds": float(segment_seconds), "on_error": on_error,
                        "time_base": str(plan.time_base), "cuts": plan.cut_points()}}
    work = resume.WorkDir(work_dir or resume.default_work_dir(output), key, resume=resume_)
    log.info("%d segment(s) of about %gs; %d warm-up and %d look-ahead frame(s) per segment",
             len(plan), segment_seconds, context.warmup, context.latency)
    run = SegmentedRun(graph=graph, input=str(input), output=str(output), plan=plan, context=context, work=work,
                       device=device, on_error=on_error, overwrite=overwrite, keep_work=keep_work, progress=progress,
                       start_t=start_t, stats=RunStats(output=str(output), notices=list(plan.notes)))
    run.done_frames = sum(plan.count(i) for i in work.done)
    run.stats.frames_out = run.done_frames  # frames in the output: the finished segments' and those made now
    run.report()
    return run


def run_segmented(graph: Graph, input: str, output: str, *, segment_seconds: float = DEFAULT_SEGMENT_SECONDS,
                  work_dir: str | Path | None = None, resume_: bool = True, keep_work: bool = False,
                  device: str | None = None, on_error: str = "stop", progress=None, overwrite: bool = True,
                  on_segment=None) -> RunStats:
    """Run ``graph`` on ``input`` into ``output`` segment by segment with resume (see the module
    docstring). ``progress(done, total)`` counts frames over the whole run, finished segments
    included; ``on_segment(index)`` is called before each segment is processed (tests)."""
    run = prepare(graph, input, output, segment_seconds=segment_seconds, work_dir=work_dir, resume_=resume_,
                  keep_work=keep_work, device=device, on_error=on_error, progress=progress, overwrite=overwrite)
    for seg in run.unfinished():
        if on_segment:
            on_segment(seg)
        seg_stats = run_segment(graph, input, seg, run.plan, run.path(seg), context=run.context, device=device,
                                on_error=on_error, progress=(lambda d, t: run.report(d)) if progress else None)
        run.record(seg, seg_stats)
    return run.finish()
