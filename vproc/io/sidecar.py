"""The sidecar: a JSON Lines file written next to the output video, one line per output frame.

Each line holds the frame's index, ``pts`` and its ``time_base`` (the frame's, as the graph
passed it to the encoder), ``time`` (seconds), its ``size`` ``[width, height]``, and every ``Frame.meta`` value that can
serialise itself (a ``to_json()`` method) under its meta key: the ``pose`` node's ``people`` and
the ``skeleton`` node's ``skeleton`` polylines. Coordinates are in the output frame's pixels
(:mod:`vproc.geometry`), so they match the encoded video even after resize or vsr::

    {"frame": 0, "pts": 0, "time_base": "1/50", "time": 0.0, "size": [1280, 720], "people": [{"id": 1, "box": [...],
     "score": 0.98, "keypoints": [[x, y, confidence], ...]}]}

Like the video, the file is written under a temporary name and moved into place only when the
run succeeds: a failed run leaves no half-written sidecar.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from ..frame import Frame, StreamInfo
from .target import OutputTarget


class SidecarWriter:
    """Writes one JSON line per frame to ``path``; :meth:`open`, :meth:`write`..., then
    :meth:`close` (success) or :meth:`abort` (failure)."""

    def __init__(self, path: str | os.PathLike, *, overwrite: bool = True):
        """Check the target now, so a mistake fails before any decoding; an existing sidecar
        is replaced only with ``overwrite`` (the video's -y)."""
        self.path = Path(path)
        self.out = OutputTarget(self.path, what="sidecar")  # the video's rules: temporary name, devices in place
        self.out.check(overwrite)
        self.partial_path: str | None = None
        self.lines = 0
        self._file = None

    def open(self) -> None:
        where = self.out.begin()
        self.partial_path = self.out.partial
        self._file = open(where, "w", encoding="utf-8")

    def write(self, frame: Frame) -> None:
        """Append the line of one output frame."""
        line = {"frame": self.lines, "pts": frame.pts, "time_base": str(frame.time_base),
                "time": round(float(frame.time), 6), "size": [frame.width, frame.height]}
        for key, value in frame.meta.items():
            to_json = getattr(value, "to_json", None)
            if callable(to_json):
                line[key] = to_json()
        self._file.write(json.dumps(line, separators=(",", ":")) + "\n")
        self.lines += 1

    def close(self) -> None:
        """Finish the file and move it into place."""
        self._file.close()
        self._file = None
        self.out.commit()
        self.partial_path = None

    def abort(self) -> None:
        """Drop the partial file; safe to call at any point."""
        if self._file is not None:
            self._file.close()
            self._file = None
        self.out.discard()
        self.partial_path = None


class WithSidecar:
    """A sink that also writes a sidecar: the video sink's interface (``open``, ``write``,
    ``write_packet``, ``close``, ``abort`` and its attributes), each frame going to both.
    The sidecar is moved into place only after the video was."""

    def __init__(self, sink, sidecar: SidecarWriter):
        self.sink = sink
        self.sidecar = sidecar

    def __getattr__(self, name):  # frames_written, notices, target, ...: the video sink's
        return getattr(self.sink, name)

    def open(self, info: StreamInfo, source_info: StreamInfo | None = None) -> None:
        self.sidecar.open()
        try:
            self.sink.open(info, source_info=source_info)
        except BaseException:
            self.sidecar.abort()
            raise

    def write(self, frame: Frame) -> None:
        self.sink.write(frame)
        self.sidecar.write(frame)

    def write_packet(self, packet) -> None:
        self.sink.write_packet(packet)

    def close(self) -> None:
        self.sink.close()  # raises (and the runtime aborts both) if the video failed
        self.sidecar.close()

    def abort(self) -> None:
        self.sink.abort()
        self.sidecar.abort()
