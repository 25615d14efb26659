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
import tempfile
from pathlib import Path

from ..errors import MediaError
from ..frame import Frame, StreamInfo
from .sink import current_umask


class SidecarWriter:
    """Writes one JSON line per frame to ``path``; :meth:`open`, :meth:`write`..., then
    :meth:`close` (success) or :meth:`abort` (failure)."""

    def __init__(self, path: str | os.PathLike):
        """Check the target now, so a mistake fails before any decoding."""
        self.path = Path(path)
        folder = self.path.parent
        if not folder.is_dir():
            raise MediaError(f"cannot write sidecar '{self.path}': folder '{folder}' does not exist")
        if not os.access(folder, os.W_OK):
            raise MediaError(f"cannot write sidecar '{self.path}': folder '{folder}' is not writable")
        if self.path.is_dir():
            raise MediaError(f"cannot write sidecar '{self.path}': it is a folder")
        self.partial_path: str | None = None
        self.lines = 0
        self._file = None

    def open(self) -> None:
        fd, self.partial_path = tempfile.mkstemp(prefix=f".{self.path.stem}.", suffix=".partial.jsonl",
                                                 dir=self.path.parent)
        self._file = os.fdopen(fd, "w", encoding="utf-8")

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
        os.chmod(self.partial_path, 0o666 & ~current_umask())  # mkstemp makes it private; outputs are not
        os.replace(self.partial_path, self.path)
        self.partial_path = None

    def abort(self) -> None:
        """Drop the partial file; safe to call at any point."""
        if self._file is not None:
            self._file.close()
            self._file = None
        if self.partial_path and os.path.exists(self.partial_path):
            os.unlink(self.partial_path)
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

    def open(self, info: StreamInfo) -> None:
        self.sidecar.open()
        try:
            self.sink.open(info)
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
