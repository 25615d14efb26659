"""The work folder of a segmented run: finished segment files and ``manifest.json``.

The manifest holds a hash of the graph (its canonical description: nodes, params, devices and
output options), of the input (size, mtime, and the first and last MiB) and of the settings
(segment length, cut points). A segment file is written under a temporary name, renamed when
complete, then recorded. A later run with the same hashes skips the recorded segments; any
change clears them (said in the log). Only files this module names are ever removed.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import re
import tempfile
from pathlib import Path

from .. import __version__
from ..errors import ConfigError, MediaError
from ..graph import Graph

log = logging.getLogger("vproc")

MANIFEST = "manifest.json"
_OURS = re.compile(r"^(seg-\d{5}\.\w+|\.seg-\d{5}\..*\.partial\.\w+|concat\.txt|\.manifest\..*\.tmp|manifest\.json)$")
MiB = 1 << 20


def graph_hash(graph: Graph, device: str | None = None) -> str:
    """sha256 of the graph's canonical description (what changes the pixels or the encoding)."""
    out = dataclasses.asdict(graph.output)
    out.pop("skeleton", None)
    desc = {
        "vproc": __version__,
        "device": device or graph.device,
        "nodes": [{"id": n.id, "type": n.type, "in": list(n.inputs), "device": n.device,
                   "params": dataclasses.asdict(n.params) if dataclasses.is_dataclass(n.params) else repr(n.params)}
                  for n in graph.nodes.values()],
        "output_in": graph.output_in,
        "output": out,
    }
    return _sha(json.dumps(desc, sort_keys=True, default=repr))


def input_hash(path: str | Path) -> str:
    """sha256 of the input's size, mtime and its first and last MiB."""
    st = os.stat(path)
    h = hashlib.sha256(f"{st.st_size}:{st.st_mtime_ns}".encode())
    with open(path, "rb") as f:
        h.update(f.read(MiB))
        if st.st_size > MiB:
            f.seek(max(MiB, st.st_size - MiB))
            h.update(f.read(MiB))
    return h.hexdigest()


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


class WorkDir:
    """The work folder: which segments are done, and where a segment's file goes."""

    def __init__(self, folder: str | Path, key: dict, *, resume: bool = True):
        self.folder = Path(folder)
        self.key = key
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise MediaError(f"cannot create work folder '{self.folder}': {exc.strerror or exc}") from None
        if not self.folder.is_dir() or not os.access(self.folder, os.W_OK | os.X_OK):
            raise MediaError(f"work folder '{self.folder}' is not a writable folder")
        self.done: dict[int, str] = {}
        old = self._read()
        if old is not None and not resume:
            log.warning("--no-resume: clearing %d finished segment(s) in '%s'", len(old.get("segments", {})), self.folder)
            self.clear()
        elif old is not None and old.get("key") != key:
            changed = [k for k in key if old.get("key", {}).get(k) != key[k]]
            log.warning("the %s changed since the finished segments in '%s' were made: clearing them",
                        " and ".join(changed) or "manifest", self.folder)
            self.clear()
        elif old is not None:
            for k, name in old.get("segments", {}).items():
                if (self.folder / name).is_file():
                    self.done[int(k)] = name
            if self.done:
                log.info("resuming: %d segment(s) already done in '%s'", len(self.done), self.folder)
        for p in self.folder.iterdir():  # partial files of a run that was killed
            if p.name.startswith(".") and _OURS.match(p.name):
                p.unlink(missing_ok=True)
        self._write()

    def path(self, seg: int, suffix: str) -> Path:
        return self.folder / f"seg-{seg:05d}{suffix}"

    def finished(self, seg: int, path: Path) -> None:
        """Record segment ``seg`` as complete (its file is in place)."""
        self.done[seg] = path.name
        self._write()

    def clear(self) -> None:
        """Remove every file of ours (finished segments, manifest, partial files)."""
        self.done = {}
        for p in self.folder.iterdir():
            if _OURS.match(p.name) and p.is_file():
                p.unlink(missing_ok=True)

    def remove(self) -> None:
        """After the join: our files, and the folder if nothing else is in it."""
        self.clear()
        try:
            self.folder.rmdir()
        except OSError:
            log.info("work folder '%s' kept: it holds other files", self.folder)

    def _read(self) -> dict | None:
        path = self.folder / MANIFEST
        if not path.is_file():
            return None
        try:
            data = json.loads(path.read_text())
            return data if isinstance(data, dict) else {}
        except (OSError, ValueError):
            log.warning("unreadable manifest in '%s': starting over", self.folder)
            return {}

    def _write(self) -> None:
        data = {"version": 1, "key": self.key, "segments": {str(k): v for k, v in sorted(self.done.items())}}
        fd, tmp = tempfile.mkstemp(prefix=".manifest.", suffix=".tmp", dir=self.folder)
        with os.fdopen(fd, "w") as f:
            json.dump(data, f, indent=2)
        os.replace(tmp, self.folder / MANIFEST)


def default_work_dir(output: str | Path) -> Path:
    out = Path(output)
    return out.parent / f"{out.name}.vproc-work"


def check_work_dir(folder: str | Path | None) -> None:
    if folder is not None and Path(folder).exists() and not Path(folder).is_dir():
        raise ConfigError(f"work folder '{folder}' is a file")
