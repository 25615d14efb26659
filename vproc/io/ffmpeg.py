"""Finding and asking the FFmpeg binary that encodes vproc's output.

The binary is ``$VPROC_FFMPEG`` if set, else ``ffmpeg`` on PATH, else the one bundled by
imageio-ffmpeg, so a fresh machine needs no system package.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess

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
    return imageio_ffmpeg.get_ffmpeg_exe()


def _capability_list(flag: str, pattern: str) -> frozenset[str]:
    out = subprocess.run([ffmpeg_binary(), "-hide_banner", flag], capture_output=True, text=True, check=False).stdout
    return frozenset(m.group(1) for m in re.finditer(pattern, out, re.MULTILINE))


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
