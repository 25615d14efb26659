"""The output of a run, one object for every kind of run.

``run``/``transcode``, ``live``, segmented and Ray runs all write the same thing: a video encoded
as the graph's ``output:`` block says (:class:`~vproc.graph.OutputOptions`), and perhaps a
sidecar. :class:`Output` owns the rules they share, so they cannot drift apart: the output must
not be the input; the sidecar's path is taken from the video's folder (``{stem}`` is the video's
name) and must be neither the input nor the video; and what a kind of run cannot write (a sidecar
from a live stream or from segments) is refused with one line before anything starts. Each kind
then asks it for its sink: :meth:`sink` for a plain run, :meth:`check` for engines that make
their own per-segment sinks; live runs check it and build their restarting sink from its options.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import ConfigError
from ..graph import OutputOptions
from .target import same_file

#: The run kinds and what each cannot write.
KINDS = ("file", "live", "segmented")
_NO_SIDECAR = {
    "live": "output.skeleton (a sidecar file) is not written by vproc live; remove it from the graph, "
            "or run the graph on a recording with vproc run",
    "segmented": "the sidecar (output.skeleton, --pose-out) is not supported on segmented runs "
                 "(--resume, --engine ray) yet",
}


class Output:
    """``target`` written with ``options`` from ``input`` by a run of ``kind`` (see the module
    docstring). Construction does every check that needs no decoding."""

    def __init__(self, target: str, options: OutputOptions, *, input: str | None = None, kind: str = "file",
                 overwrite: bool = True):
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}")
        self.target = str(target)
        self.options = options
        self.input = input
        self.kind = kind
        self.overwrite = overwrite
        if input is not None and same_file(str(input), self.target):
            raise ConfigError(f"output '{self.target}' would overwrite the input")
        if options.skeleton is not None and kind in _NO_SIDECAR:
            # The sidecar is a file moved into place when a run succeeds, one line per frame of
            # one output: a live output restarts, goes to URLs and ends by an interrupt; segments
            # would each write part of it. Refused rather than silently not written.
            raise ConfigError(_NO_SIDECAR[kind])
        self.sidecar = self._sidecar_path()

    def _sidecar_path(self) -> Path | None:
        if self.options.skeleton is None:
            return None
        video = Path(self.target)
        # relative: next to the video; {stem} is the video's name without its extension
        sidecar = video.parent / self.options.skeleton.replace("{stem}", video.stem)
        for other, what in ((self.input, "input"), (self.target, "output video")):
            if other is not None and same_file(str(other), str(sidecar)):
                raise ConfigError(f"sidecar '{sidecar}' would overwrite the {what}")
        return sidecar

    def sink(self):
        """The sink of a plain run: the FFmpeg sink, with the sidecar writer when there is one.
        Target, format and codec are checked here, before any decoding."""
        from .sidecar import SidecarWriter, WithSidecar
        from .sink import FFmpegSink

        sink = FFmpegSink(self.target, self.options, overwrite=self.overwrite, source_url=self.input)
        if self.sidecar is not None:
            sink = WithSidecar(sink, SidecarWriter(self.sidecar, overwrite=self.overwrite))
        return sink

    def check(self) -> None:
        """The target, format and codec checks alone (engines make their own sinks later)."""
        from .sink import FFmpegSink

        FFmpegSink(self.target, self.options, overwrite=self.overwrite, source_url=self.input)
