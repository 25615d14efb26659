"""Finding and asking the FFmpeg binary that encodes vproc's output.

The binary is ``$VPROC_FFMPEG`` if set, else ``ffmpeg`` on PATH, else the one bundled by
imageio-ffmpeg, so a fresh machine needs no system package.

What the binary is asked about itself (its encoders, muxers, an encoder's pixel formats) does
not change while the binary does not, so the answers are kept on disk, under
``$XDG_CACHE_HOME/vproc`` (``~/.cache/vproc``), per binary (path, size, modification time):
each question is a process start, and every command would otherwise ask three or four of them
(about 60 ms on a 2-core machine). An unwritable cache only means asking every time.
"""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import subprocess
import tempfile

from ..errors import ConfigError, MediaError, did_you_mean


@functools.lru_cache(maxsize=1)
def ffmpeg_binary() -> str:
    """Path of the FFmpeg executable vproc runs."""
    env = os.environ.get("VPROC_FFMPEG")
    if env:
        path = shutil.which(env)
        if path is None:
            raise MediaError(f"VPROC_FFMPEG='{env}' is not an executable")
        return path
    path = shutil.which("ffmpeg")
    if path:
        return path
    try:
        import imageio_ffmpeg
    except ImportError:
        raise MediaError("no FFmpeg found: install imageio-ffmpeg, put ffmpeg on PATH or set VPROC_FFMPEG") from None
    # imageio-ffmpeg runs its binary once to check it; its answer is kept like the binary's own
    key = f"imageio-ffmpeg {imageio_ffmpeg.__version__} {os.path.dirname(imageio_ffmpeg.__file__)}"
    return _remembered(key, os.environ.get("IMAGEIO_FFMPEG_EXE", ""), imageio_ffmpeg.get_ffmpeg_exe,
                       valid=lambda path: os.path.isfile(path) and os.access(path, os.X_OK))


def cache_dir() -> str:
    """The folder of vproc's per-user cache (``$XDG_CACHE_HOME/vproc``, else ``~/.cache/vproc``)."""
    return os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "vproc")


def _identity(binary: str) -> str:
    st = os.stat(binary)
    return f"{os.path.realpath(binary)} {st.st_size} {st.st_mtime_ns}"


def ask(*args: str) -> str:
    """What ``ffmpeg -hide_banner ARGS`` prints on standard output (empty if it cannot run),
    asked once per binary and then read from the cache (see the module's docstring)."""
    binary = ffmpeg_binary()

    def run() -> str | None:
        try:
            return subprocess.run([binary, "-hide_banner", *args], capture_output=True, text=True,
                                  check=False, timeout=30).stdout
        except (OSError, subprocess.SubprocessError):
            return None  # not kept: the next run asks again

    try:
        identity = _identity(binary)
    except OSError:
        return run() or ""
    return _remembered(identity, " ".join(args), run) or ""


def _remembered(key: str, question: str, compute, valid=lambda answer: True) -> str | None:
    """The answer to ``question`` about ``key`` (a binary's identity): from the cache file when
    it holds one that is ``valid``, else ``compute()``'s, kept there unless it is None. Answers
    about other keys are kept too (a VPROC_FFMPEG run and a plain one take turns)."""
    where = os.path.join(cache_dir(), "ffmpeg-answers.json")  # {key: {question: answer}}
    try:
        with open(where, encoding="utf-8") as f:
            known = json.load(f)
        answers = known.get(key, {})
        answer = answers.get(question)
    except (OSError, ValueError, AttributeError):
        known, answers, answer = {}, {}, None
    if isinstance(answer, str) and valid(answer):
        return answer
    answer = compute()
    if answer is not None:
        _write_answers(where, {**known, key: {**answers, question: answer}})
    return answer


def _write_answers(where: str, answers: dict) -> None:
    tmp = None
    try:
        os.makedirs(os.path.dirname(where), exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(where), prefix=".ffmpeg-", suffix=".json")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(answers, f)
        os.replace(tmp, where)  # whole or not at all, whoever else writes it meanwhile
    except OSError:  # an unwritable cache: asked again next time
        if tmp:
            try:
                os.unlink(tmp)
            except OSError:
                pass


def _capability_list(flag: str, pattern: str) -> frozenset[str]:
    return frozenset(m.group(1) for m in re.finditer(pattern, ask(flag), re.MULTILINE))


@functools.lru_cache(maxsize=1)
def video_encoders() -> frozenset[str]:
    """Names of the video encoders the FFmpeg binary has."""
    return _capability_list("-encoders", r"^ V\S{5} (\S+)")


@functools.lru_cache(maxsize=1)
def muxers() -> frozenset[str]:
    """Names of the output formats the FFmpeg binary can write."""
    names = _capability_list("-muxers", r"^ ..E?\s+(\S+)")
    return frozenset(n for name in names for n in name.split(","))


def check_video_encoder(codec: str) -> None:
    """ConfigError naming ``codec`` and the closest real one when FFmpeg has no such encoder."""
    encoders = video_encoders()
    if codec not in encoders:
        raise ConfigError(f"unknown video codec '{codec}'{did_you_mean(codec, encoders)}; `{ffmpeg_binary()} -encoders` lists them")


# -- starting FFmpeg so that it never outlives vproc ---------------------------------------------

#: Run in a fresh interpreter (``python -I -S``, about 10 ms) between vproc and the child: it asks
#: Linux to SIGKILL it when its parent thread ends, checks that the parent is still the one that
#: started it (vproc may have died before the request took effect), then becomes the child by
#: ``exec`` (the request survives ``exec``). Not a ``preexec_fn``: with one, CPython runs its
#: after-fork code in the forked copy of vproc, which deletes the other threads' states and so
#: frees the objects their frames held; a PyAV swscale context freed there waits for its worker
#: threads, which a forked process does not have, and the child hangs before it ever runs FFmpeg.
_LAUNCHER = """\
import ctypes, os, sys
ctypes.CDLL(None, use_errno=True).prctl(1, 9)  # PR_SET_PDEATHSIG, SIGKILL
if os.getppid() != int(sys.argv[1]):
    os._exit(1)
try:
    os.execvp(sys.argv[2], sys.argv[2:])
except OSError as exc:
    sys.stderr.write(f"cannot run {sys.argv[2]}: {exc.strerror}\\n")
    os._exit(127)
"""


class _Spawner:
    """Starts child processes from one thread that lives as long as the process.

    Linux's parent-death signal (``PR_SET_PDEATHSIG``) kills the child when vproc dies, even by
    SIGKILL, so a killed run leaves no FFmpeg writing on behind it. The signal fires when the
    *thread* that forked the child ends, not the process; live outputs restart FFmpeg from worker
    threads that end before the output is closed, so every start goes through this one thread.
    """

    def __init__(self):
        import queue
        import threading

        self._jobs: queue.Queue = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._pid = os.getpid()

    def _after_fork(self) -> None:
        """In a forked child (multiprocessing): the parent's thread is not there; start afresh."""
        self.__init__()

    def _loop(self) -> None:
        while True:
            fn, done, box = self._jobs.get()
            try:
                box.append((True, fn()))
            except BaseException as exc:  # handed back to the caller
                box.append((False, exc))
            done.set()

    def run(self, fn):
        import threading

        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="vproc-spawner", daemon=True)
                self._thread.start()
        done, box = threading.Event(), []
        self._jobs.put((fn, done, box))
        done.wait()
        ok, value = box[0]
        if not ok:
            raise value
        return value


_SPAWNER = _Spawner()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_SPAWNER._after_fork)


def popen(cmd: list[str], **kwargs) -> subprocess.Popen:
    """``subprocess.Popen(cmd, **kwargs)`` for a child that dies with vproc (Linux: started through
    :data:`_LAUNCHER`; elsewhere a plain Popen)."""
    import sys

    if sys.platform.startswith("linux") and sys.executable:
        cmd = [sys.executable, "-I", "-S", "-c", _LAUNCHER, str(os.getpid()), *cmd]
    return _SPAWNER.run(lambda: subprocess.Popen(cmd, **kwargs))
