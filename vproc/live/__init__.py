"""Live streams: ``vproc live IN OUT`` runs a graph on a stream for hours, with bounded latency.

The graph and its runtime are the file path's (:mod:`vproc.runtime`); what differs is at the
ends: :class:`~vproc.live.source.LiveSource` (reconnecting input, one timeline, repeats while the
input is away, the entrance of the real-time policy), :class:`~vproc.live.sink.LiveSink`
(restarting output, live encoder settings, the latency bound) and :mod:`vproc.live.stats`
(counters, the periodic report, ``/metrics``). Stages are joined by one-frame queues, since every
frame waiting between stages is latency.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from pathlib import Path

from ..errors import ConfigError
from ..graph import Graph
from ..io.sink import is_url
from ..runtime import RunStats, Runtime
from .sink import LiveSink, live_output_options
from .source import LiveSource
from .stats import LiveStats, Reporter


@dataclasses.dataclass(frozen=True)
class LiveOptions:
    """The ``vproc live`` flags that are not the graph's."""

    listen: bool = False
    realtime: bool = False
    max_latency_ms: float = 500.0
    keyint: float = 2.0
    bitrate: str | None = None
    maxrate: str | None = None
    bufsize: str | None = None
    preset: str | None = None
    stats_interval: float = 5.0
    json: bool = False
    metrics_port: int | None = None
    reconnect_max: float = 0.5
    connect_timeout: float = 30.0
    slate: str | None = None

    def __post_init__(self):
        if not 50 <= self.max_latency_ms <= 60_000:
            raise ConfigError(f"--max-latency must be within 50..60000 ms (got {self.max_latency_ms:g})")
        if not 0.1 <= self.keyint <= 60:
            raise ConfigError(f"--keyint must be within 0.1..60 seconds (got {self.keyint:g})")
        if not 0.1 <= self.stats_interval <= 3600:
            raise ConfigError(f"--stats-interval must be within 0.1..3600 seconds (got {self.stats_interval:g})")
        if self.metrics_port is not None and not 1 <= self.metrics_port <= 65535:
            raise ConfigError(f"--metrics-port must be a TCP port (got {self.metrics_port})")
        if self.slate is not None and not Path(self.slate).is_file():
            raise ConfigError(f"--slate '{self.slate}' does not exist")
        if not 0 < self.connect_timeout <= 86400:
            raise ConfigError(f"--connect-timeout must be within (0, 86400] seconds (got {self.connect_timeout:g})")
        if not 0.1 <= self.reconnect_max <= 300:
            raise ConfigError(f"--reconnect-max must be within 0.1..300 seconds (got {self.reconnect_max:g})")


def output_target(output: str) -> str:
    """``output`` as FFmpeg writes it: a folder (existing, or named with a trailing slash) becomes
    an HLS playlist ``index.m3u8`` in it."""
    if not is_url(output) and (output.endswith(os.sep) or Path(output).is_dir()):
        folder = Path(output)
        if not folder.is_dir():
            if not folder.parent.is_dir():
                raise ConfigError(f"cannot write HLS into '{output}': folder '{folder.parent}' does not exist")
            folder.mkdir()
        return str(folder / "index.m3u8")
    return output


def run_live(graph: Graph, input: str, output: str, options: LiveOptions = LiveOptions(), *,
             device: str | None = None, out=None, overwrite: bool = True) -> RunStats:
    """Run ``graph`` on the live ``input`` into ``output`` until the input ends (a file) or the
    process is interrupted (Ctrl-C, SIGTERM: the caller turns them into KeyboardInterrupt);
    statistics lines go to ``out`` (stdout) every ``options.stats_interval`` seconds. An existing
    output file is replaced only with ``overwrite``."""
    from ..io.output import Output

    Output(output, graph.output, input=input, kind="live")  # the rules every run's output follows
    stats = LiveStats()
    target = output_target(output)
    encode = live_output_options(graph.output, target, keyint=options.keyint, bitrate=options.bitrate,
                                 maxrate=options.maxrate, bufsize=options.bufsize, preset=options.preset)
    max_latency = options.max_latency_ms / 1000.0
    sink = LiveSink(target, encode, stats=stats, max_latency=max_latency, reconnect_max=options.reconnect_max,
                    overwrite=overwrite)
    runtime: Runtime | None = None
    # Before connecting, so a taken metrics port fails at once.
    reporter = Reporter(stats, options.stats_interval, as_json=options.json, out=out or sys.stdout,
                        queues=lambda: runtime.queue_depths() if runtime else {}, metrics_port=options.metrics_port)
    try:
        source = LiveSource(input, listen=options.listen, realtime=options.realtime, audio=graph.output.audio != "none",
                            max_latency=max_latency, reconnect_max=options.reconnect_max,
                            connect_timeout=options.connect_timeout, slate=options.slate, stats=stats,
                            reads_meta=graph.reads_meta())
    except BaseException:
        reporter.stop()
        raise
    sink.attach_passthrough(source.passthrough)
    runtime = Runtime(graph, source, sink, device=device, inbox_frames=1)
    reporter.start()
    try:
        return runtime.run()
    finally:
        reporter.stop()
        reporter.report()  # the last interval


__all__ = ["LiveOptions", "LiveSink", "LiveSource", "LiveStats", "Reporter", "live_output_options",
           "output_target", "run_live"]
