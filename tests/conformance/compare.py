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
                             sar=str(s.sample_aspect_ratio) if s.sample_aspect_ratio else None,
                             colour=(int(cc.color_primaries or 2), int(cc.color_trc or 2), int(cc.colorspace or 2)))
            if s.type == "audio":
                entry.update(channels=s.codec_context.channels, sample_rate=s.codec_context.sample_rate)
            streams.append(entry)
        chapters = [(round(float(ch["start"] * ch["time_base"]), 3), round(float(ch["end"] * ch["time_base"]), 3),
                     ch["metadata"].get("title")) for ch in c.chapters()]
        info = {"format": c.format.name, "tags": _tags(c.metadata), "chapters": chapters, "streams": streams,
                "duration": round(c.duration / 1e6, 1) if c.duration else None}
        subs = [s for s in c.streams if s.type == "subtitle"]
        durations = {s.index: [] for s in subs}
        if subs:
            for p in c.demux(*subs):
                if p.size:
                    durations[p.stream.index].append(round(float((p.duration or 0) * p.time_base), 2))
            c.seek(0)
        info["subtitle durations"] = list(durations.values())
        video = next((s for s in c.streams if s.type == "video" and not (s.disposition and int(s.disposition) & int(av.stream.Disposition.attached_pic))), None)
        if video is not None:
            from vproc.io.hdr import HDRMetadata
            from vproc.io.orientation import cli_options, matrix_of

            frames = list(c.decode(video))
            info["frames"] = len(frames)
            info["video"] = next(e for e, s in zip(streams, c.streams) if s is video)
            if frames:
                info["rotation"] = cli_options(matrix_of(frames[0].side_data))
                info["hdr"] = HDRMetadata.from_side_data(frames[0].side_data)
    return info


def ffmpeg_cli(input: Path, output: Path, *args: str, before: tuple[str, ...] = ()) -> None:
    """The reference: the ffmpeg CLI with all streams mapped, video re-encoded as vproc does;
    ``before``: input options (``-ss``, ``-noautorotate``)."""
    media.run_ffmpeg(*before, "-i", str(input), "-map", "0", *args, str(output))


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


def make_phone_mp4(folder: Path) -> Path:
    """A phone's portrait video: stored 160x120 with a 90-degree display matrix, AAC, tags."""
    stored = media.make_clip(folder / "stored.mp4", seconds=1)
    out = folder / "phone.mp4"
    media.run_ffmpeg("-display_rotation:v:0", "90", "-i", str(stored), "-c", "copy", "-metadata", "title=Holiday",
                     "-metadata:s:a:0", "language=deu", str(out))
    return out


def make_anamorphic_ts(folder: Path) -> Path:
    """PAL 16:9 as a DVD or broadcast has it: 720x576 with SAR 64:45, MPEG-2, MP2 audio."""
    out = folder / "pal.ts"
    media.run_ffmpeg("-f", "lavfi", "-i", "testsrc2=size=720x576:rate=25:d=0.6", "-f", "lavfi", "-i", "sine=d=0.6",
                     "-vf", "setsar=64/45", "-c:v", "mpeg2video", "-c:a", "mp2", str(out))
    return out


def make_hdr10_mkv(folder: Path) -> Path:
    out = folder / "hdr10.mkv"
    media.run_ffmpeg("-f", "lavfi", "-i", "testsrc2=size=128x96:rate=25", "-frames:v", "6", "-pix_fmt", "yuv420p10le",
                     "-c:v", "libx265", "-x265-params",
                     "log-level=error:hdr10=1:master-display=G(13250,34500)B(7500,3000)R(34000,16000)WP(15635,16450)"
                     "L(10000000,1):max-cll=1000,400",
                     "-color_primaries", "bt2020", "-color_trc", "smpte2084", "-colorspace", "bt2020nc", str(out))
    return out


def make_rgb_mkv(folder: Path) -> Path:
    """An RGB master: FFV1 bgr0, as screen recordings and VFX exports are."""
    out = folder / "rgb.mkv"
    media.run_ffmpeg("-f", "lavfi", "-i", "testsrc2=size=96x64:rate=10", "-frames:v", "8", "-c:v", "ffv1",
                     "-pix_fmt", "bgr0", str(out))
    return out


_ASS = """[Script Info]
ScriptType: v4.00+

[V4+ Styles]
Format: Name, Fontname, Fontsize, PrimaryColour, Bold, Italic, Alignment, MarginL, MarginR, MarginV
Style: Default,Arial,20,&H00FFFFFF,0,0,2,10,10,10

[Events]
Format: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text
Dialogue: 0,0:00:00.30,0:00:01.50,Default,,0,0,0,,Styled line
Dialogue: 0,0:00:01.60,0:00:01.90,Default,,0,0,0,,Second
"""


def make_ass_mkv(folder: Path) -> Path:
    """Styled (ASS) subtitles, as fansubs and anime releases carry them, beside SRT."""
    clip = media.make_clip(folder / "base.mp4", seconds=2)
    (folder / "subs.ass").write_text(_ASS)
    (folder / "subs.srt").write_text(media.SRT_TEXT)
    out = folder / "ass.mkv"
    media.run_ffmpeg("-i", str(clip), "-i", str(folder / "subs.srt"), "-i", str(folder / "subs.ass"),
                     "-map", "0", "-map", "1", "-map", "2", "-c", "copy", str(out))
    return out


def make_late_ts(folder: Path) -> Path:
    """A recording that starts 10 s into its clock, as broadcast captures and cut files do."""
    out = folder / "late.ts"
    media.run_ffmpeg("-f", "lavfi", "-i", "testsrc2=size=160x120:rate=25:d=1", "-f", "lavfi", "-i", "sine=d=1",
                     "-c:v", "libx264", "-c:a", "aac", "-output_ts_offset", "10", str(out))
    return out


def make_three_seconds(folder: Path) -> Path:
    return media.make_clip(folder / "three.mp4", seconds=3, extra=("-g", "25"))


def make_damaged_ts(folder: Path) -> Path:
    from tests.conformance.test_damaged import damage_ts

    clean = folder / "clean.ts"
    media.run_ffmpeg("-f", "lavfi", "-i", "testsrc2=s=320x240:r=25:d=3", "-c:v", "libx264", "-preset", "veryfast",
                     "-g", "25", "-pix_fmt", "yuv420p", str(clean))
    return damage_ts(clean, folder / "damaged.ts")


def make_data_ts(folder: Path) -> Path:
    """MPEG-TS with video and a private data stream (as KLV telemetry or ID3 tags ride in one)."""
    blob = folder / "blob.bin"
    blob.write_bytes(bytes(range(256)) * 12)
    out = folder / "data.ts"
    media.run_ffmpeg("-f", "lavfi", "-i", "testsrc2=s=320x240:r=25:d=2", "-f", "data", "-i", str(blob),
                     "-map", "0", "-map", "1", "-c:v", "libx264", "-preset", "veryfast", "-c:d", "copy", str(out))
    return out


def make_timecode_mov(folder: Path) -> Path:
    """QuickTime with a timecode track (tmcd), as cameras write."""
    out = folder / "timecode.mov"
    media.run_ffmpeg("-f", "lavfi", "-i", "testsrc2=s=320x240:r=25:d=2", "-f", "lavfi", "-i", "sine=d=2",
                     "-c:v", "libx264", "-preset", "veryfast", "-c:a", "aac", "-timecode", "01:00:00:00", str(out))
    return out


@dataclass
class Case:
    """One conformance case: an input, the output name, extra flags, and the facts compared."""

    name: str
    make_input: Callable[[Path], Path]
    output: str
    fields: tuple[str, ...]
    ffmpeg_args: tuple[str, ...] = ()
    vproc_args: tuple[str, ...] = ()
    ffmpeg_before: tuple[str, ...] = ()  # the CLI's input options


CASES = [
    Case("mkv -> mkv: tags, titles, dispositions, chapters", make_rich_mkv, "out.mkv",
         ("tags", "chapters", "stream types", "stream tags", "dispositions", "codecs", "frames"),
         ffmpeg_args=("-c:v", "libx264", "-c:a", "copy", "-c:s", "copy")),
    Case("mkv -> mp4: subtitles to mov_text, languages kept", make_rich_mkv, "out.mp4",
         ("tags", "chapters", "stream types", "languages", "codecs", "frames"),
         ffmpeg_args=("-c:v", "libx264", "-c:a", "copy", "-c:s", "mov_text")),
    Case("aac mp4 -> webm: VP9 + Opus", make_aac_mp4, "out.webm", ("stream types", "codecs", "frames")),
    Case("aac mp4 -> mov", make_aac_mp4, "out.mov", ("stream types", "codecs", "frames")),
    Case("MPEG-TS with a data stream -> ts: data copied", make_data_ts, "out.ts", ("stream types", "codecs", "frames"),
         ffmpeg_args=("-c:v", "libx264")),
    Case("mov with a timecode track -> mov: one timecode track", make_timecode_mov, "out.mov",
         ("stream types", "stream tags", "frames"), ffmpeg_args=("-c:v", "libx264", "-c:a", "copy")),
    Case("aac mp4 -> ts", make_aac_mp4, "out.ts", ("stream types", "frames"),
         ffmpeg_args=("-c:v", "libx264", "-c:a", "aac")),
    Case("aac mp4 -> y4m: raw video, audio dropped", make_aac_mp4, "out.y4m", ("stream types", "codecs", "frames"),
         ffmpeg_args=("-an",)),
    Case("phone mp4, rotation 90 -> mp4 (autorotate)", make_phone_mp4, "out.mp4",
         ("video size", "rotation", "tags", "languages", "frames")),
    Case("phone mp4, rotation 90 -> mp4 --no-autorotate", make_phone_mp4, "out.mp4",
         ("video size", "rotation", "frames"), vproc_args=("--no-autorotate",), ffmpeg_before=("-noautorotate",)),
    Case("PAL MPEG-2 TS, SAR 64:45 -> mp4", make_anamorphic_ts, "out.mp4", ("video size", "sar", "stream types", "frames")),
    Case("PAL MPEG-2 TS, SAR 64:45 -> mp4 --scale 0.5", make_anamorphic_ts, "out.mp4", ("video size", "sar", "frames"),
         ffmpeg_args=("-vf", "scale=iw/2:ih/2"), vproc_args=("--scale", "0.5")),
    Case("HDR10 HEVC mkv -> mkv (libx264)", make_hdr10_mkv, "out.mkv", ("hdr", "colour", "pix_fmt", "frames")),
    Case("HDR10 HEVC mkv -> mkv --codec libx265", make_hdr10_mkv, "out.mkv", ("hdr", "colour", "pix_fmt", "frames"),
         ffmpeg_args=("-c:v", "libx265", "-x265-params", "log-level=error"), vproc_args=("--codec", "libx265")),
    Case("FFV1 bgr0 -> mp4 (pix_fmt as the CLI picks)", make_rgb_mkv, "out.mp4", ("pix_fmt", "frames")),
    Case("FFV1 bgr0 -> mp4 --denoise (an RGB source into a planar node)", make_rgb_mkv, "out.mp4", ("pix_fmt", "frames"),
         vproc_args=("--denoise",)),
    Case("8-bit mp4 -> mp4 --lowlight (output stays 8-bit 4:2:0)", make_aac_mp4, "out.mp4", ("pix_fmt", "frames"),
         vproc_args=("--lowlight",)),
    Case("trim --ss 1.2 --t 1 (input options)", make_three_seconds, "out.mp4", ("frames", "stream types"),
         vproc_args=("--ss", "1.2", "--t", "1"), ffmpeg_before=("-ss", "1.2", "-t", "1")),
    Case("trim --ss 2 --to 2.5", make_three_seconds, "out.mp4", ("frames",),
         vproc_args=("--ss", "2", "--to", "2.5"), ffmpeg_before=("-ss", "2", "-to", "2.5")),
    Case("damaged MPEG-TS -> mp4 --on-error skip", make_damaged_ts, "out.mp4", ("frames",),
         vproc_args=("--on-error", "skip")),
    Case("MPEG-TS starting at 10 s -> mkv (no empty lead-in)", make_late_ts, "out.mkv", ("duration", "frames")),
    Case("MPEG-TS starting at 10 s -> mp4 (no empty lead-in)", make_late_ts, "out.mp4", ("duration", "frames")),
    Case("mkv with SRT and ASS -> mkv: subtitle durations", make_ass_mkv, "out.mkv", ("subtitle durations",),
         ffmpeg_args=("-c:v", "libx264", "-c:a", "copy", "-c:s", "copy")),
    Case("mkv with subtitles -> mkv --ss 0.5 --t 1: subtitles trimmed, kept", make_ass_mkv, "out.mkv",
         ("stream types", "frames"), ffmpeg_args=("-c:v", "libx264", "-c:a", "copy", "-c:s", "copy"),
         vproc_args=("--ss", "0.5", "--t", "1"), ffmpeg_before=("-ss", "0.5", "-t", "1")),
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
    if field in ("video size", "sar", "pix_fmt", "colour"):
        return info["video"][{"video size": "size"}.get(field, field)]
    if field in ("rotation", "hdr", "duration", "subtitle durations"):
        return info.get(field)
    raise KeyError(field)


def run_case(case: Case, folder: Path) -> list[tuple[str, object, object]]:
    """``(field, ffmpeg CLI's value, vproc's value)`` for each field of ``case``."""
    folder.mkdir(parents=True, exist_ok=True)
    src = case.make_input(folder)
    ref, out = folder / f"ffmpeg_{case.output}", folder / f"vproc_{case.output}"
    ffmpeg_cli(src, ref, *case.ffmpeg_args, before=case.ffmpeg_before)
    proc = vproc(src, out, *case.vproc_args)
    if proc.returncode != 0:
        raise AssertionError(f"vproc failed on {case.name}: {proc.stderr}")
    a, b = describe(ref), describe(out)
    return [(f, facts(a, f), facts(b, f)) for f in case.fields]


if __name__ == "__main__":  # pragma: no cover
    sys.exit("run python -m tests.conformance.report")
