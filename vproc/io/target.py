"""Where an output goes, and how it gets there without losing anything.

One :class:`OutputTarget` serves every writer of a run (the FFmpeg sink, the segment join, the
sidecar), so they all follow the same rules:

- **Regular files** (or names that do not exist yet) are written under a temporary name in the
  same folder and renamed over the target only when complete: a failed or killed run never leaves
  a half-written file under the final name. The temporary name is the target's own
  (``clip.mp4`` is written as ``.clip.mp4.vproc-4242-k3j9x.partial.mp4``: pid, then a random tag), and its writer holds an flock on it while it lives,
  so the next run for the same target removes what a killed run (SIGKILL, power loss) left, and
  leaves alone what a live run, in any process namespace or on any host, is still writing. An
  existing file's mode and owner are kept; one with other hard links is written in place, as
  ``ffmpeg -y`` does, so its other names see the new content. A link to a file is followed: the
  file it names is replaced, the link stays.
- **Image sequences** (a ``%d``/``%04d`` pattern) are written into a temporary folder beside the
  target, and each image is moved into place when the sequence is complete.
- **Everything else is written in place and never renamed over**: ``-`` and ``pipe:`` (standard
  output), FIFOs, character devices (``/dev/null``, a terminal), anything under or linking into
  ``/dev`` or ``/proc`` (``/dev/stdout``, ``/proc/self/fd/1``, whatever they point at), and URLs. Only a regular file may be replaced by the rename; replacing a device
  node or a FIFO with a regular file breaks the system (as root, ``/dev/stdout``).

Overwriting follows FFmpeg's ``-y``/``-n``: an existing regular file (or any image of a
sequence) is replaced only when ``overwrite`` is true; the command line asks on a terminal.
"""

from __future__ import annotations

import fcntl
import glob
import os
import re
import shutil
import stat
import tempfile
from pathlib import Path

from ..errors import MediaError

#: FFmpeg's names for standard output and standard input.
STDOUT_NAMES = ("-", "pipe:", "pipe:1")
STDIN_NAMES = ("-", "pipe:", "pipe:0")
_PATTERN = re.compile(r"%0?\d*d")
_PARTIAL = re.compile(r"\.vproc-\d+-[^.]+\.partial")


def is_url(target: str) -> bool:
    return "://" in target


def is_sequence(target: str) -> bool:
    """Whether ``target`` is an image-sequence pattern (``frame_%04d.png``)."""
    return not is_url(target) and bool(_PATTERN.search(Path(target).name))


def current_umask() -> int:
    """The process's umask (files vproc moves into place get the permissions a plain open would)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


class OutputTarget:
    """One output path and the way it is written (see the module docstring).

    ``kind`` is ``"file"`` (temporary name, then rename), ``"sequence"`` (temporary folder, then
    each image moved), ``"stdout"``, ``"special"`` (FIFO, device: written in place) or ``"url"``.
    ``what`` names the output in messages ("output", "sidecar").
    """

    def __init__(self, target: str | os.PathLike, *, what: str = "output", atomic: bool = True):
        self.target = str(target)
        self.what = what
        self.path = self.target  # where the file really is (a link's target), for the rename
        self.partial: str | None = None  # the temporary file or folder while writing
        self._lock: int | None = None  # an flock on it: a writer alive holds it (remove_stale)
        self._mode: tuple[int, int, int] | None = None  # an existing file's mode and owner, kept
        self.kind = self._classify(atomic)

    def _classify(self, atomic: bool) -> str:
        if self.target in STDOUT_NAMES:
            return "stdout"
        if is_url(self.target):
            return "url"
        if _through_system(self.target):
            return "special"  # /dev/stdout, /proc/self/fd/N and links into them: the fd, in place
        try:
            st = os.stat(self.target)  # follows links: /dev/stdout -> /proc/self/fd/1 -> a pipe
        except FileNotFoundError:
            st = None
        except OSError as exc:
            raise MediaError(f"cannot write {self.what} '{self.target}': {exc.strerror}") from None
        if st is not None and stat.S_ISDIR(st.st_mode):
            raise MediaError(f"cannot write {self.what} '{self.target}': it is a folder")
        if st is not None and not stat.S_ISREG(st.st_mode):
            return "special"
        if is_sequence(self.target):
            return "sequence"
        if os.path.islink(self.target):
            self.path = os.path.realpath(self.target)  # the link stays; the file it names is replaced
        if st is not None and st.st_nlink > 1:
            return "inplace"  # renaming would part it from its other names: truncated in place, as ffmpeg -y
        if st is not None:
            self._mode = (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid)
        return "file" if atomic else "inplace"

    @property
    def in_place(self) -> bool:
        """Written where it is, with no temporary name (pipes, devices, URLs, live files)."""
        return self.kind in ("stdout", "special", "url", "inplace")

    @property
    def folder(self) -> Path:
        return Path(self.path).parent

    # -- checks before anything is decoded --------------------------------------------------
    def existing(self) -> list[str]:
        """The files this output would replace (its file, or the images of its sequence)."""
        if self.kind == "sequence":
            return sequence_files(self.target)
        if self.kind in ("file", "inplace") and os.path.exists(self.target):
            return [self.target]
        return []

    def check(self, overwrite: bool = True) -> None:
        """MediaError unless the output can be written (folder there and writable; an existing
        output only with ``overwrite``)."""
        if self.kind in ("stdout", "url", "special"):
            if self.kind == "special" and os.path.exists(self.target) and not os.access(self.target, os.W_OK):
                raise MediaError(f"cannot write {self.what} '{self.target}': permission denied")
            return
        check_writable(self.path, self.what)
        there = self.existing()
        if there and not overwrite:
            which = f"'{there[0]}'" + (f" and {len(there) - 1} more image(s)" if len(there) > 1 else "")
            raise MediaError(f"{self.what} {which} already exists (use -y to overwrite it)")

    # -- writing ------------------------------------------------------------------------------
    def begin(self) -> str:
        """Start writing: the path a writer should open (the temporary one where there is one).
        Also removes the temporary files that killed runs left for this target."""
        if self.kind == "stdout":
            return "pipe:1"
        if self.kind not in ("file", "sequence"):
            return self.target
        self.remove_stale()
        path = Path(self.path)
        prefix = f".{_temp_name(path)}.vproc-{os.getpid()}-"
        try:
            if self.kind == "file":
                fd, self.partial = tempfile.mkstemp(prefix=prefix, suffix=f".partial{path.suffix}", dir=path.parent or ".")
                mode = self._mode[0] if self._mode else 0o666 & ~current_umask()  # mkstemp makes it private
                os.fchmod(fd, mode)
                if self._mode and os.geteuid() == 0:
                    os.fchown(fd, self._mode[1], self._mode[2])  # root replacing a user's file keeps it theirs
                where = self.partial
            else:
                self.partial = tempfile.mkdtemp(prefix=prefix, suffix=".partial", dir=path.parent or ".")
                fd = os.open(self.partial, os.O_RDONLY)
                where = os.path.join(self.partial, path.name)
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            self._lock = fd
        except OSError as exc:
            self.discard()
            raise MediaError(f"cannot write {self.what} '{self.target}': {exc.strerror or exc}") from None
        return where

    def commit(self) -> list[str]:
        """Move what was written into place; returns the final paths (none for pipes)."""
        if self.partial is None:
            return [] if self.kind in ("stdout", "url") else [self.target]
        partial, self.partial = self.partial, None
        try:
            if self.kind == "file":
                os.replace(partial, self.path)
                return [self.target]
            done = []
            mask = 0o666 & ~current_umask()
            for name in sorted(os.listdir(partial)):
                final = os.path.join(str(self.folder), name)
                os.chmod(os.path.join(partial, name), mask)
                os.replace(os.path.join(partial, name), final)
                done.append(final)
            os.rmdir(partial)
            return done
        except OSError as exc:
            raise MediaError(f"cannot move {self.what} '{self.target}' into place: {exc.strerror or exc}") from None
        finally:
            self._unlock()

    def discard(self) -> None:
        """Remove what was written under the temporary name; safe to call at any point."""
        partial, self.partial = self.partial, None
        if partial is not None:
            if os.path.isdir(partial):
                shutil.rmtree(partial, ignore_errors=True)
            elif os.path.exists(partial):
                os.unlink(partial)
        self._unlock()

    def _unlock(self) -> None:
        if self._lock is not None:
            os.close(self._lock)  # closing the last descriptor releases the flock
            self._lock = None

    def remove_stale(self) -> list[str]:
        """Remove the temporary files and folders of this target whose writer is gone (a
        killed run); returns them. A writer holds an flock on its temporary file while it
        lives, wherever it runs (another container, another host over NFS): those are left
        alone, and so is anything not named as ours."""
        if self.kind not in ("file", "sequence"):
            return []
        path = Path(self.path)
        folder = path.parent if str(path.parent) else Path(".")
        removed = []
        pattern = f".{glob.escape(_temp_name(path))}.vproc-*.partial*"
        for leftover in glob.glob(os.path.join(glob.escape(str(folder)), pattern)):
            if not _PARTIAL.search(os.path.basename(leftover)) or os.path.islink(leftover) or not _unlocked(leftover):
                continue
            if os.path.isdir(leftover):
                shutil.rmtree(leftover, ignore_errors=True)
            else:
                Path(leftover).unlink(missing_ok=True)
            removed.append(leftover)
        return removed


def sequence_files(pattern: str) -> list[str]:
    """The files an image-sequence pattern (``frame_%04d.png``) names that exist, sorted: those
    whose name is the pattern with a number for its ``%d`` (``frame_0001.png``; not
    ``frame_1_notes.png``)."""
    path = Path(pattern)
    folder = path.parent if str(path.parent) else Path(".")
    parts = _PATTERN.split(path.name)
    numbers = [m.group(0) for m in _PATTERN.finditer(path.name)]
    regex = "".join(re.escape(p) + (f"(\\d{{{_width(n)},}})" if i < len(numbers) else "")
                    for i, (p, n) in enumerate(zip(parts, numbers + [""])))
    names = re.compile(f"^{regex}$")
    try:
        entries = os.listdir(folder)
    except OSError:
        return []
    return sorted(str(folder / name) for name in entries if names.match(name))


def _width(spec: str) -> int:
    digits = spec[1:-1].lstrip("0")
    return int(digits) if digits else 1


def check_writable(path: str | os.PathLike, what: str, *, make_folder: bool = False) -> Path:
    """``path`` as a Path, once it is sure a file can be written there; otherwise one MediaError
    line (``cannot write <what> '<path>': ...``): its folder is missing (created when
    ``make_folder``, if the nearest existing folder above it is writable), is not a folder or is
    not writable, or ``path`` itself is a folder. For every file vproc writes: outputs, sidecars,
    ``eval --json``, trained weights; each is checked before the work that produces it."""
    path = Path(path)

    def refuse(why: str) -> MediaError:
        return MediaError(f"cannot write {what} '{path}': {why}")

    if path.is_dir():
        raise refuse("it is a folder")
    folder = path.parent
    if make_folder and not folder.exists():
        above = folder
        while not above.exists() and above != above.parent:
            above = above.parent
        if not above.is_dir():
            raise refuse(f"'{above}' is not a folder")
        if not os.access(above, os.W_OK | os.X_OK):
            raise refuse(f"folder '{above}' is not writable")
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise refuse(f"folder '{folder}' cannot be created: {exc.strerror or exc}") from None
    if not folder.exists():
        raise refuse(f"folder '{folder}' does not exist")
    if not folder.is_dir():
        raise refuse(f"'{folder}' is not a folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise refuse(f"folder '{folder}' is not writable")
    return path


def write_text(path: str | os.PathLike, text: str, what: str) -> None:
    """Write ``text`` into ``path``; a failure is one MediaError line."""
    try:
        Path(path).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise MediaError(f"cannot write {what} '{path}': {exc.strerror or exc}") from None


def same_file(input: str, output: str) -> bool:
    """Whether writing ``output`` would replace ``input`` (pipes and URLs never do)."""
    if is_url(input) or is_url(output) or input in STDIN_NAMES or output in STDOUT_NAMES:
        return False
    try:
        return os.path.samefile(input, output)
    except OSError:
        return Path(input).resolve() == Path(output).resolve()


def _temp_name(path: Path) -> str:
    """What temporary files are named after: the target's whole name (``clip.mp4``, so those of
    ``clip.mkv`` are told apart), without a sequence pattern (FFmpeg would expand a ``%d`` in a
    folder's name too), cut to leave room for the rest within the 255 bytes a name may have."""
    name = _PATTERN.sub("N", path.name).replace("%", "_")
    return name.encode("utf-8")[:150].decode("utf-8", "ignore")


def _unlocked(path: str) -> bool:
    """Whether no process holds the flock a vproc writer keeps on its temporary file."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except OSError:
        return False
    finally:
        os.close(fd)


def _through_system(target: str) -> bool:
    """Whether ``target`` is, or links into, /dev or /proc (``/dev/stdout`` -> ``/proc/self/fd/1``):
    a descriptor or device to write in place, whatever file it ends at."""
    path = os.path.abspath(target)
    for _ in range(40):
        if path.startswith(("/dev/", "/proc/")):
            return True
        if not os.path.islink(path):
            return False
        path = os.path.normpath(os.path.join(os.path.dirname(path), os.readlink(path)))
    return False
