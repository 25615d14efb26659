"""The Ray engine: the segments of a run as Ray tasks over a cluster, then the join.

It shares the preparation and the finish with the local engine (:mod:`~vproc.engines.local`);
only the loop differs: every unfinished segment is a Ray task that calls
:func:`~vproc.engines.segments.run_segment` on a worker (``num_gpus=1`` when the graph runs on
CUDA, so Ray places it on a GPU), at most ``workers`` at a time. The driver records each segment
in the manifest as its task completes, so a run that stopped resumes with either engine. A worker
that dies mid-segment has its task retried by Ray (``max_retries``); a node's exception is not
retried (it would fail again) and stops the run with its own message.

Workers read the input and write the segment files themselves: the input and the work folder must
be on a filesystem every worker sees at the same path. This module is the only one that imports
Ray.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

from ..errors import ConfigError, MediaError, VprocError
from ..graph import Graph
from ..runtime import RunStats
from .local import DEFAULT_SEGMENT_SECONDS, prepare

log = logging.getLogger("vproc")

MAX_RETRIES = 3
POLL_S = 0.5  # how often the progress is polled while tasks run


def _import_ray():
    try:
        import ray
    except ImportError:
        raise ConfigError("--engine ray needs Ray: pip install 'vproc[ray]'") from None
    return ray


def uses_cuda(graph: Graph, device: str | None = None) -> bool:
    """Whether any node of the graph runs on CUDA (the run's device, the graph's or a node's)."""
    if (device or graph.device) == "cuda":
        return True
    return any(n.device == "cuda" for n in graph.nodes.values())


def _node_classes(graph: Graph) -> dict:
    """The class of each node kind of the graph, shipped with the task: a kind registered at run
    time in the driver (a test's, a script's) is then known on the worker too."""
    from .. import registry

    return {n.type: registry.get(n.type) for n in graph.nodes.values()}


def _segment_task(graph, kinds, input, seg, plan, path, context, device, on_error, reporter):
    """On the worker: register the graph's kinds if missing, run one segment, return its stats."""
    from .. import registry
    from .segments import run_segment

    for kind, cls in kinds.items():
        registry._KINDS.setdefault(kind, cls)
    last = [0.0]

    def progress(done, total):
        now = time.monotonic()
        if reporter is not None and (now - last[0] >= POLL_S or done == total):
            last[0] = now
            reporter.set.remote(seg, done)

    if reporter is not None:
        reporter.set.remote(seg, 0)  # a retried task starts again from 0
    return run_segment(graph, input, seg, plan, path, context=context, device=device, on_error=on_error,
                       progress=progress)


class _Progress:
    """A small actor: frames done per segment under way (the workers set them, the driver reads)."""

    def __init__(self):
        self.done: dict[int, int] = {}

    def set(self, seg: int, done: int) -> None:
        self.done[seg] = done

    def drop(self, seg: int) -> None:
        self.done.pop(seg, None)

    def total(self) -> int:
        return sum(self.done.values())


def _connect(ray, address: str | None, workers: int | None) -> bool:
    """Start or join Ray; True when vproc started it (and shuts it down after the run)."""
    if ray.is_initialized():
        return False
    quiet = dict(log_to_driver=False, logging_level=logging.WARNING, include_dashboard=False,
                 configure_logging=True)
    if address in (None, "", "local"):
        ray.init(num_cpus=workers or os.cpu_count(), **quiet)
        return True
    if address.startswith("ray://"):  # Ray Client: include_dashboard is the head's business
        quiet.pop("include_dashboard")
    try:
        ray.init(address=address, **quiet)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise ConfigError(f"cannot connect to the Ray cluster at '{address}': {str(exc).splitlines()[0] if str(exc) else exc}") from None
    return False


def _cause(ray, exc: BaseException) -> BaseException:
    """A task's error as the driver should raise it: a vproc error as itself (one line)."""
    cause = getattr(exc, "cause", None)
    if isinstance(cause, VprocError):
        return cause
    if isinstance(exc, (ray.exceptions.WorkerCrashedError, ray.exceptions.NodeDiedError)):
        return MediaError(f"a Ray worker died {MAX_RETRIES + 1} times on the same segment")
    if isinstance(exc, ray.exceptions.RayTaskError) and cause is not None:
        return cause
    return exc


def run_ray(graph: Graph, input: str, output: str, *, segment_seconds: float = DEFAULT_SEGMENT_SECONDS,
            work_dir: str | Path | None = None, resume_: bool = True, keep_work: bool = False,
            device: str | None = None, on_error: str = "stop", progress=None, overwrite: bool = True,
            address: str | None = None, workers: int | None = None) -> RunStats:
    """Run ``graph`` on ``input`` into ``output`` as Ray tasks, one per unfinished segment (see the
    module docstring). ``address``: None or ``"local"`` starts a Ray instance on this machine for
    the run (``workers`` CPUs, default all); ``"auto"``, ``"host:port"`` or ``"ray://host:10001"``
    joins an existing cluster (left running). ``workers`` caps the tasks under way (default: the
    cluster's CPUs, or its GPUs for a CUDA graph). A Ray already initialised in this process is used."""
    if workers is not None and workers < 1:
        raise ConfigError(f"--workers must be 1 or more (got {workers})")
    ray = _import_ray()
    run = prepare(graph, input, output, segment_seconds=segment_seconds, work_dir=work_dir, resume_=resume_,
                  keep_work=keep_work, device=device, on_error=on_error, progress=progress, overwrite=overwrite)
    remaining = run.unfinished()
    if not remaining:
        return run.finish()
    gpu = uses_cuda(graph, device)
    started = _connect(ray, address, workers)
    try:
        resources = ray.cluster_resources()
        have = int(resources.get("GPU" if gpu else "CPU", 0))
        if gpu and have == 0:
            raise ConfigError("the graph runs on CUDA but the Ray cluster has no GPU")
        limit = workers or max(1, have)
        task = ray.remote(num_cpus=1, num_gpus=1 if gpu else 0, max_retries=MAX_RETRIES,
                          retry_exceptions=False)(_segment_task)
        reporter = ray.remote(num_cpus=0)(_Progress).remote() if progress else None
        shared = {"graph": ray.put(graph), "kinds": ray.put(_node_classes(graph)), "plan": ray.put(run.plan)}
        log.info("%d segment(s) to process on Ray, at most %d at a time%s", len(remaining), limit, " (GPU)" if gpu else "")
        pending = list(remaining)
        running: dict = {}  # object ref -> segment
        try:
            while pending or running:
                while pending and len(running) < limit:
                    seg = pending.pop(0)
                    ref = task.remote(shared["graph"], shared["kinds"], run.input, seg, shared["plan"],
                                      str(run.path(seg)), run.context, device, on_error, reporter)
                    running[ref] = seg
                ready, _ = ray.wait(list(running), num_returns=1, timeout=POLL_S)
                for ref in ready:
                    seg = running.pop(ref)
                    try:
                        seg_stats = ray.get(ref)
                    except Exception as exc:  # noqa: BLE001 - the task's error, unwrapped
                        raise _cause(ray, exc) from None
                    run.record(seg, seg_stats)
                    if reporter is not None:
                        reporter.drop.remote(seg)
                if reporter is not None:
                    run.report(ray.get(reporter.total.remote()))
        except BaseException as exc:
            for ref in running:  # their partial files go when the work folder is next opened
                try:
                    ray.cancel(ref, force=True)
                except Exception:  # noqa: BLE001 - Ray itself may be gone
                    pass
            if isinstance(exc, ray.exceptions.RayError):  # Ray's own failure, not a task's
                said = str(exc).strip().splitlines()
                raise MediaError(f"Ray failed ({type(exc).__name__}: {said[0] if said else 'no message'}); "
                                 f"{len(run.work.done)} finished segment(s) are kept in '{run.work.folder}'") from None
            raise
    finally:
        if started:
            ray.shutdown()
    return run.finish()
