"""What the conformance tests compare: an output as a user (or ffprobe) would describe it.

:func:`describe` reads a file back with PyAV into plain data (streams with codec, tags,
dispositions, size, SAR, rotation; the container's tags and chapters; video frame times), so a
vproc output and the ffmpeg CLI's output of the same input compare with ``==`` per field.
:data:`CASES` are the stream-and-metadata cases: each makes an input, runs the ffmpeg CLI and
``vproc transcode`` on it with the same output name, and names the fields that must agree;
``python -m tests.conformance.report`` prints them as the table of the issue's closing note.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import av

from tests import media

# Tags whose value depends on the muxing run (encoder versions, durations), not on the content.
_VOLATILE = {"encoder", "duration", "creation_time", "_statistics_writing_app", "_statistics_writing_date_utc",
             "_statistics_tags", "bps", "number_of_frames", "number_of_bytes", "major_brand", "minor_version",
             "compatible_brands", "handler_name", "vendor_id"}


def _tags(meta: dict) -> dict[str, str]:
    return {k.lower(): v for k, v in (meta or {}).items() if k.lower() not in _VOLATILE and not k.lower().startswith(("bps-", "duration-", "number_of"))}


def describe(path: Path | str) -> dict:
    """The comparable facts of a media file."""
    with av.open(str(path)) as c:
        streams = []
        for s in c.streams:
            entry = {"type": s.type, "codec": s.codec_context.name if s.codec_context else None,
                     "tags": _tags(s.metadata),
                     "disposition": sorted(d.name for d in av.stream.Disposition
                                           if d.value and s.disposition and int(s.disposition) & int(d.value))}
            if s.type == "video":
                cc = s.codec_context
                entry.update(size=(cc.width, cc.height), pix_fmt=cc.format.name if cc.format else None,
                             sar=str(s.sample_aspect_ratio) if s.sample_aspect_ratio else None)
            if s.type == "audio":
                entry.update(channels=s.codec_context.channels, sample_rate=s.codec_context.sample_rate)
            streams.append(entry)
        chapters = [(round(float(ch["start"] * ch["time_base"]), 3), round(float(ch["end"] * ch["time_base"]), 3),
                     ch["metadata"].get("title")) for ch in c.chapters()]
        info = {"format": c.format.name, "tags": _tags(c.metadata), "chapters": chapters, "streams": streams}
        video = next((s for s in c.streams if s.type == "video" and not (s.disposition and int(s.disposition) & int(av.stream.Disposition.attached_pic))), None)
        if video is not None:
            times = [float(f.time) for f in c.decode(video)]
            info["frames"] = len(times)
            info["first_time"] = round(times[0], 4) if times else None
    return info


def ffmpeg_cli(input: Path, output: Path, *args: str) -> None:
    """The reference: the ffmpeg CLI with all streams mapped, video re-encoded as vproc does."""
    media.run_ffmpeg("-i", str(input), "-map", "0", *args, str(output))


def vproc(input: Path, output: Path, *args: str) -> subprocess.CompletedProcess:
    return media.run_vproc("transcode", input, output, "-y", *args)


# -- inputs -----------------------------------------------------------------------------------------

def make_rich_mkv(folder: Path) -> Path:
    """Video, two audio tracks (languages, titles, the second one default), a forced French
    subtitle, container title and two chapters."""
    clip = media.make_clip(folder / "base.mp4", seconds=2)
    srt = folder / "subs.srt"
    srt.write_text(media.SRT_TEXT)
    meta = folder / "meta.txt"
    meta.write_text(";FFMETADATA1\ntitle=A film\\; with a semicolon\nartist=vproc tests\n"
                    "[CHAPTER]\nTIMEBASE=1/1000\nSTART=0\nEND=1000\ntitle=Opening\n"
                    "[CHAPTER]\nTIMEBASE=1/1000\nSTART=1000\nEND=2000\ntitle=Close\n")
    out = folder / "rich.mkv"
    media.run_ffmpeg("-i", str(clip), "-i", str(clip), "-i", str(srt), "-i", str(meta),
                     "-map", "0:v", "-map", "0:a", "-map", "1:a", "-map", "2:s", "-map_metadata", "3", "-map_chapters", "3",
                     "-c:v", "copy", "-c:a", "copy", "-c:s", "srt",
                     "-metadata:s:a:0", "language=eng", "-metadata:s:a:0", "title=English stereo",
                     "-metadata:s:a:1", "language=fra", "-metadata:s:a:1", "title=Commentaire",
                     "-metadata:s:s:0", "language=fra", "-metadata:s:s:0", "title=Forced",
                     "-metadata:s:v:0", "title=Main video",
                     "-disposition:a:0", "0", "-disposition:a:1", "default+comment", "-disposition:s:0", "forced",
                     str(out))
    return out


def make_aac_mp4(folder: Path) -> Path:
    return media.make_clip(folder / "aac.mp4", seconds=1)


@dataclass
class Case:
    """One conformance case: an input, the output name, extra flags, and the facts compared."""

    name: str
    make_input: Callable[[Path], Path]
    output: str
    fields: tuple[str, ...]
    ffmpeg_args: tuple[str, ...] = ()
    vproc_args: tuple[str, ...] = ()


CASES = [
    Case("mkv -> mkv: tags, titles, dispositions, chapters", make_rich_mkv, "out.mkv",
         ("tags", "chapters", "stream types", "stream tags", "dispositions", "codecs", "frames"),
         ffmpeg_args=("-c:v", "libx264", "-c:a", "copy", "-c:s", "copy")),
    Case("mkv -> mp4: subtitles to mov_text, languages kept", make_rich_mkv, "out.mp4",
         ("tags", "chapters", "stream types", "languages", "codecs", "frames"),
         ffmpeg_args=("-c:v", "libx264", "-c:a", "copy", "-c:s", "mov_text")),
    Case("aac mp4 -> webm: VP9 + Opus", make_aac_mp4, "out.webm", ("stream types", "codecs", "frames")),
    Case("aac mp4 -> mov", make_aac_mp4, "out.mov", ("stream types", "codecs", "frames")),
    Case("aac mp4 -> ts", make_aac_mp4, "out.ts", ("stream types", "frames"),
         ffmpeg_args=("-c:v", "libx264", "-c:a", "aac")),
    Case("aac mp4 -> y4m: raw video, audio dropped", make_aac_mp4, "out.y4m", ("stream types", "codecs", "frames"),
         ffmpeg_args=("-an",)),
]


def facts(info: dict, field: str):
    """The value of one compared field of :func:`describe`'s result."""
    streams = info["streams"]
    if field == "tags":
        return info["tags"]
    if field == "chapters":
        return info["chapters"]
    if field == "stream types":
        return [s["type"] for s in streams]
    if field == "stream tags":
        return [s["tags"] for s in streams]
    if field == "languages":
        return [s["tags"].get("language") for s in streams]
    if field == "dispositions":
        return [s["disposition"] for s in streams]
    if field == "codecs":
        return [s["codec"] for s in streams]
    if field == "frames":
        return info.get("frames")
    raise KeyError(field)


def run_case(case: Case, folder: Path) -> list[tuple[str, object, object]]:
    """``(field, ffmpeg CLI's value, vproc's value)`` for each field of ``case``."""
    folder.mkdir(parents=True, exist_ok=True)
    src = case.make_input(folder)
    ref, out = folder / f"ffmpeg_{case.output}", folder / f"vproc_{case.output}"
    ffmpeg_cli(src, ref, *case.ffmpeg_args)
    proc = vproc(src, out, *case.vproc_args)
    if proc.returncode != 0:
        raise AssertionError(f"vproc failed on {case.name}: {proc.stderr}")
    a, b = describe(ref), describe(out)
    return [(f, facts(a, f), facts(b, f)) for f in case.fields]


if __name__ == "__main__":  # pragma: no cover
    sys.exit("run python -m tests.conformance.report")
