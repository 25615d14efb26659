"""The local segmented engine: segments one after another on this machine, then the join.

Each finished segment is kept in the work folder (:mod:`~vproc.engines.resume`), so a run that
crashed or was stopped at 90 % costs 10 % when run again. The output appears only after the join.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from ..errors import ConfigError, MediaError
from ..graph import Graph
from ..runtime import RunStats, StageStats
from . import join as joiner
from . import resume
from .segments import SEGMENT_SUFFIX, graph_context, plan_segments, run_segment

log = logging.getLogger("vproc")

DEFAULT_SEGMENT_SECONDS = 30.0


def run_segmented(graph: Graph, input: str, output: str, *, segment_seconds: float = DEFAULT_SEGMENT_SECONDS,
                  work_dir: str | Path | None = None, resume_: bool = True, keep_work: bool = False,
                  device: str | None = None, on_error: str = "stop", progress=None, overwrite: bool = True,
                  on_segment=None) -> RunStats:
    """Run ``graph`` on ``input`` into ``output`` segment by segment with resume (see the module
    docstring). ``progress(done, total)`` counts frames over the whole run, finished segments
    included; ``on_segment(index)`` is called before each segment is processed (tests)."""
    from ..io.sink import FFmpegSink, is_url
    from ..io.source import Source

    start_t = time.perf_counter()
    if segment_seconds is None or not segment_seconds > 0:
        raise ConfigError(f"--segment-seconds must be more than 0 (got {segment_seconds})")
    if is_url(str(input)):
        raise ConfigError(f"segmented runs (--resume) need a seekable input file, not a URL ('{input}')")
    if is_url(str(output)):
        raise ConfigError(f"segmented runs (--resume) write a file, not a URL ('{output}')")
    if not Path(input).is_file():
        raise MediaError(f"input '{input}' does not exist" if not Path(input).exists() else f"input '{input}' is not a file")
    if Path(input).resolve() == Path(output).resolve():
        raise ConfigError(f"output '{output}' would overwrite the input")
    if graph.output.skeleton is not None:
        raise ConfigError("the pose sidecar (output.skeleton, --pose-out) is not supported with --resume yet")
    resume.check_work_dir(work_dir)
    FFmpegSink(output, graph.output, overwrite=overwrite, source_url=input)  # target and codec checks, before decoding

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

    stats = RunStats(output=str(output), notices=list(plan.notes))
    stages: dict[str, StageStats] = {}
    total = plan.frames
    done = sum(plan.count(i) for i in work.done)
    stats.frames_out = done  # frames in the output: the finished segments' and those made now
    files = []
    if progress:
        progress(done, total)
    for seg in range(len(plan)):
        path = work.path(seg, SEGMENT_SUFFIX)
        files.append(path)
        if seg in work.done:
            continue
        if on_segment:
            on_segment(seg)
        base = done
        seg_stats = run_segment(graph, input, seg, plan, path, context=context, device=device, on_error=on_error,
                                progress=(lambda d, t, base=base: progress(base + d, total)) if progress else None)
        if seg_stats.interrupted:
            path.unlink(missing_ok=True)
            stats.interrupted = True
            raise MediaError(f"interrupted in segment {seg + 1} of {len(plan)}; {len(work.done)} finished segment(s) "
                             f"are kept in '{work.folder}': run the same command again to go on")
        work.finished(seg, path)
        done += plan.count(seg)
        stats.frames_in += seg_stats.frames_in
        stats.frames_out += seg_stats.frames_out
        stats.skipped_corrupt += seg_stats.skipped_corrupt
        for st in seg_stats.stages:
            acc = stages.setdefault(st.name, StageStats(st.name, st.kind, st.device))
            acc.frames_in += st.frames_in
            acc.frames_out += st.frames_out
            acc.busy_s += st.busy_s
            acc.summary = st.summary
        for k, v in seg_stats.transfers.items():
            stats.transfers[k] = stats.transfers.get(k, 0) + v
    stats.notices += joiner.join(plan, files, input, output, graph.output, work_dir=work.folder, overwrite=overwrite)
    stats.stages = list(stages.values())
    if keep_work:
        log.info("finished segments kept in '%s' (--keep-work)", work.folder)
    else:
        work.remove()
    if progress:
        progress(total, total)
    stats.wall_s = time.perf_counter() - start_t
    return stats
