"""What a source says about itself, beyond pixels and packets: tags, chapters, dispositions.

The processed video reaches FFmpeg as rawvideo in a NUT pipe, and the passthrough streams as
packets in the same pipe; NUT carries neither the source's per-stream tags (language, title,
handler), nor its dispositions (default, forced, hearing impaired...), nor the container's tags
and chapters. The ffmpeg CLI keeps all of these by default, so the sink restates them:
per-stream tags and dispositions as ``-metadata:s:N`` / ``-disposition:N`` output options, the
container's tags and chapters through a small FFMETADATA file given to FFmpeg as one more input
(``-map_metadata``/``-map_chapters``). This works the same for files and live URLs, since it is
read from the opened source, not from its path.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from fractions import Fraction

import av

# Tags that describe the encoded bitstream or its muxing, which re-encoding makes wrong; FFmpeg
# rewrites some of them itself (encoder), the Matroska statistics tags (DURATION, BPS, ...) are
# recomputed by its muxer. Compared in lower case.
_STALE_TAGS = {"encoder", "duration", "bps", "number_of_frames", "number_of_bytes", "_statistics_writing_app",
               "_statistics_writing_date_utc", "_statistics_tags", "major_brand", "minor_version",
               "compatible_brands", "creation_time"}
_STALE_PREFIXES = ("bps-", "duration-", "number_of_frames-", "number_of_bytes-")


def _kept(tags: dict) -> dict[str, str]:
    out = {}
    for key, value in (tags or {}).items():
        low = str(key).lower()
        if low in _STALE_TAGS or low.startswith(_STALE_PREFIXES) or value is None:
            continue
        out[str(key)] = str(value)
    return out


def disposition_names(stream) -> list[str]:
    """FFmpeg's names of a stream's disposition flags (``["default", "forced"]``)."""
    flags = stream.disposition
    if not flags:
        return []
    return [d.name for d in av.stream.Disposition if d.value and int(flags) & int(d.value)]


@dataclass
class StreamTags:
    tags: dict[str, str] = field(default_factory=dict)
    disposition: list[str] = field(default_factory=list)


@dataclass
class SourceMetadata:
    """The container's tags and chapters, and each stream's tags and dispositions, by index."""

    tags: dict[str, str] = field(default_factory=dict)
    chapters: list[dict] = field(default_factory=list)
    streams: dict[int, StreamTags] = field(default_factory=dict)

    @classmethod
    def of(cls, container) -> SourceMetadata:
        """Read them from an opened PyAV input container."""
        chapters = []
        try:
            chapters = list(container.chapters())
        except (AttributeError, av.FFmpegError):
            pass
        return cls(tags=_kept(container.metadata),
                   chapters=chapters,
                   streams={s.index: StreamTags(_kept(s.metadata), disposition_names(s)) for s in container.streams})

    def trimmed(self, begin: Fraction, end: Fraction | None) -> SourceMetadata:
        """The same, with the chapters of a trimmed output (``begin``..``end`` seconds of the
        source's timeline): moved back by ``begin``, cut to the range, those outside it gone."""
        chapters = []
        for ch in self.chapters:
            tb = Fraction(ch.get("time_base") or Fraction(1, 1000))
            start, stop = Fraction(ch["start"]) * tb, Fraction(ch["end"]) * tb
            start, stop = max(start, begin), stop if end is None else min(stop, end)
            if stop <= start:
                continue
            chapters.append(dict(ch, start=int((start - begin) / tb), end=int((stop - begin) / tb)))
        return SourceMetadata(self.tags, chapters, self.streams)

    def stream_options(self, source_index: int, out_index: int) -> list[str]:
        """FFmpeg output options restating the tags and disposition of source stream
        ``source_index`` on output stream ``out_index``."""
        st = self.streams.get(source_index)
        if st is None:
            return []
        args = []
        for key, value in st.tags.items():
            args += [f"-metadata:s:{out_index}", f"{key}={value}"]
        # Always set, even to 0: otherwise FFmpeg marks the first stream of each type default.
        args += [f"-disposition:{out_index}", "+".join(st.disposition) if st.disposition else "0"]
        return args

    def write_ffmetadata(self) -> str | None:
        """A temporary FFMETADATA1 file with the container's tags and chapters (None when there
        are neither); the caller removes it."""
        if not self.tags and not self.chapters:
            return None
        lines = [";FFMETADATA1"]
        lines += [f"{_escape(k)}={_escape(v)}" for k, v in self.tags.items()]
        for ch in self.chapters:
            tb = Fraction(ch.get("time_base") or Fraction(1, 1000))
            lines += ["[CHAPTER]", f"TIMEBASE={tb.numerator}/{tb.denominator}",
                      f"START={int(ch['start'])}", f"END={int(ch['end'])}"]
            lines += [f"{_escape(k)}={_escape(v)}" for k, v in (ch.get("metadata") or {}).items()]
        fd, path = tempfile.mkstemp(prefix="vproc-meta-", suffix=".txt")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write("\n".join(lines) + "\n")
        return path


def _escape(text) -> str:
    """FFMETADATA escaping: '=', ';', '#', '\\' and newlines take a backslash."""
    out = []
    for ch in str(text):
        if ch in "=;#\\\n":
            out.append("\\")
        out.append(ch)
    return "".join(out)
