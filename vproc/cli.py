"""The ``vproc`` command. Every command is one library call; errors are handled in one place.

Heavy modules (PyAV, numpy, OpenCV, torch, CuPy) are imported inside the commands that need
them, so ``vproc --help`` answers at once.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import traceback
from pathlib import Path
from typing import List, Optional

import typer

from .errors import ConfigError, VprocError

app = typer.Typer(no_args_is_help=True, pretty_exceptions_enable=False,
                  help="vproc: enhance video files and streams through graphs of CUDA/CPU nodes.")
_state = {"debug": False, "quiet": False, "signal": None}
# Options of the whole command that may also be written after the subcommand (vproc run -q ...).
_GLOBAL_FLAGS = ("-q", "--quiet", "--debug")
# Options of the run commands that users of ffmpeg write first (vproc -y transcode ...).
_COMMAND_FLAGS = ("-y", "-n", "--overwrite", "--no-overwrite")
# Exit codes of a run stopped by a signal: 128 + the signal's number, as shells report them.
_SIGNAL_EXIT = {"SIGINT": 130, "SIGTERM": 143}

_DEVICE = typer.Option(None, "--device", help="auto | cpu | cuda (overrides the graph's device)")
_ON_ERROR = typer.Option("stop", "--on-error", help="on a decode error mid-stream: stop, or skip the broken frames")
_JSON = typer.Option(False, "--json", help="print the run's statistics as JSON on stdout at the end")
_PROGRESS = typer.Option(None, "--progress/--no-progress", help="progress bar (default: on a terminal)")
_STATS = typer.Option(False, "--stats", help="print per-frame counters: host<->device copies and bytes, buffer allocations, time per stage")
_RESUME = typer.Option(False, "--resume", help="process in segments cut at keyframes, kept in a work folder: a run that stopped goes on where it stopped")
_NO_RESUME = typer.Option(False, "--no-resume", help="as --resume, but start over: finished segments in the work folder are cleared")
_SEGMENT_SECONDS = typer.Option(None, "--segment-seconds", help="with --resume: segment length in seconds, cut at the next keyframe (default 30)")
_WORK_DIR = typer.Option(None, "--work-dir", help="with --resume: the work folder (default: OUTPUT.vproc-work next to the output)")
_KEEP_WORK = typer.Option(False, "--keep-work", help="with --resume: keep the work folder after a successful run")
_ENGINE = typer.Option("local", "--engine", help="local | ray: ray runs the segments as Ray tasks in parallel (implies --resume; pip install 'vproc[ray]')")
_ADDRESS = typer.Option(None, "--address", help="with --engine ray: auto, host:port or ray://head:10001 joins a running cluster (default: a Ray instance on this machine for the run)")
_WORKERS = typer.Option(None, "--workers", help="with --engine ray: segments processed at once (default: the cluster's CPUs, or GPUs for a CUDA graph)")
# -- the enhancement and encoder options transcode and live share (one declaration each) --------
_SCALE = typer.Option(None, "--scale", help="resize by this factor")
_WIDTH = typer.Option(None, "--width", help="resize to this width (-1: keep aspect)")
_HEIGHT = typer.Option(None, "--height", help="resize to this height (-1: keep aspect)")
_INTERP = typer.Option("bicubic", "--interp", help="bicubic | lanczos | area | bilinear | nearest")
_DENOISE = typer.Option(False, "--denoise", help="temporal denoising, strength estimated from the video")
_LOWLIGHT = typer.Option(False, "--lowlight", help="brighten dark video (after --denoise when both are given)")
_LOWLIGHT_METHOD = typer.Option("curve", "--lowlight-method", help="curve | net | linear: the lowlight node's method")
_SR = typer.Option(None, "--sr", help="temporal super-resolution by 2, 3 or 4 (after --denoise/--lowlight)")
_SR_METHOD = typer.Option("flow", "--sr-method", help="the vsr node's method: flow (optical flow, no weights) | net (the shipped network)")
_POSE = typer.Option(False, "--pose", help="find people's body keypoints and draw their skeletons")
_CODEC = typer.Option(None, "--codec", help="FFmpeg video encoder (default: the container's: libx264 for mp4/mov/mkv/ts/flv, libvpx-vp9 for webm, ffv1 for nut, raw for y4m, png/mjpeg/... for images)")
_CRF = typer.Option(None, "--crf", help="constant quality (default 18 for x264/x265/av1, 31 for vp9; live: 23)")
_BITRATE = typer.Option(None, "--bitrate", help="target bitrate, e.g. 4M, instead of --crf (live: constant bitrate through VBV)")
_PRESET = typer.Option(None, "--preset", help="encoder preset, e.g. veryfast (live default veryfast)")
_PIX_FMT = typer.Option(None, "--pix-fmt", help="pixel format of the encoded video (default: the source's bit depth and chroma, as the encoder takes them)")
_AUDIO = typer.Option("copy", "--audio", help="copy | aac | none (copy re-encodes, with a notice, to the container's codec where it refuses the source's)")
_FFMPEG_ARG = typer.Option(None, "--ffmpeg-arg", help="extra FFmpeg output argument (repeatable): --ffmpeg-arg=-tune --ffmpeg-arg=film")
_FORMAT = typer.Option(None, "--format", "-f", help="container format (default: from the output name; needed for '-' and devices)")
_SS = typer.Option(None, "--ss", help="start at this time of the input: seconds or [HH:]MM:SS[.ms] (ffmpeg -ss: frames before it are decoded and dropped; output starts at 0)")
_TO = typer.Option(None, "--to", help="stop at this time of the input (ffmpeg -to)")
_T = typer.Option(None, "--t", help="process this duration from --ss (ffmpeg -t)")
_VIDEO_STREAM = typer.Option(None, "--video-stream", help="index of the input's video stream to process (as ffmpeg -map 0:N; default: FFmpeg's choice); the others are copied")
_AUTOROTATE = typer.Option(True, "--autorotate/--no-autorotate", help="turn rotated (phone) video upright before processing, as ffmpeg does; --no-autorotate keeps the frames as stored and the rotation in the output's metadata")
_DEINTERLACE = typer.Option("off", "--deinterlace", help="off | auto | on: auto deinterlaces (bwdif) only interlaced input")
_OVERWRITE = typer.Option(False, "--overwrite", "-y", help="overwrite an existing output without asking")
_NO_OVERWRITE = typer.Option(False, "--no-overwrite", "-n", help="never overwrite an existing output: stop with an error instead of asking")


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            mine = version("vproc")
        except PackageNotFoundError:
            mine = "unknown"
        import av

        typer.echo(f"vproc {mine} (PyAV {av.__version__}, libav {av.ffmpeg_version_info})")
        raise typer.Exit()


@app.callback()
def _main(debug: bool = typer.Option(False, "--debug", help="show tracebacks and FFmpeg commands"),
          quiet: bool = typer.Option(False, "--quiet", "-q", help="only errors on stderr"),
          _v: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="print the version and exit")) -> None:
    _state["debug"], _state["quiet"] = debug, quiet
    level = logging.DEBUG if debug else logging.ERROR if quiet else logging.WARNING
    logging.basicConfig(level=level, format="vproc: %(levelname)s: %(message)s", stream=sys.stderr)


def _report(stats, as_json: bool, show_stats: bool = False) -> None:
    if as_json:
        print(json.dumps(stats.to_dict(), indent=2))
        return
    if _state["quiet"] and not show_stats:  # -q: errors only, as ffmpeg -loglevel error (the stop line still says what is partial)
        return
    note = " (interrupted)" if stats.interrupted else ""
    typer.echo(f"wrote {stats.output}: {stats.frames_out} frames from {stats.frames_in} in "
               f"{stats.wall_s:.1f}s ({stats.fps:.1f} fps){note}", err=True)
    if stats.concealed or stats.dropped or stats.packets_dropped:
        typer.echo(f"damaged input: {stats.concealed} frames concealed (kept), {stats.dropped} dropped"
                   + (f", {stats.packets_dropped} audio/subtitle packets left out" if stats.packets_dropped else ""), err=True)
    if show_stats:
        t = stats.per_frame()
        typer.echo(f"per frame: host->device {t['h2d_copies']:g} copies {t['h2d_bytes'] / 1e6:.2f} MB, "
                   f"device->host {t['d2h_copies']:g} copies {t['d2h_bytes'] / 1e6:.2f} MB, "
                   f"allocations {t['allocations']:g} ({t['allocated_bytes'] / 1e6:.2f} MB)", err=True)
        for st in stats.stages:
            per = st.busy_s / max(st.frames_in or st.frames_out, 1) * 1000
            typer.echo(f"  {st.name:<12} {st.kind:<10} {st.device:<4} in {st.frames_in:>6} out {st.frames_out:>6} "
                       f"busy {st.busy_s:7.2f}s ({per:.2f} ms/frame)", err=True)
            if st.summary:
                typer.echo("  " + " " * 12 + " " + ", ".join(f"{k} {v}" for k, v in st.summary.items()), err=True)


def _segmented(resume: bool, no_resume: bool, segment_seconds, work_dir, keep_work: bool, engine: str = "local",
               address: str | None = None, workers: int | None = None) -> dict | None:
    """The segmented engine's options, or None for the normal (unsegmented) run."""
    if engine not in ("local", "ray"):
        raise ConfigError(f"--engine must be local or ray (got {engine!r})")
    if engine == "local":
        for flag, value in (("--address", address), ("--workers", workers)):
            if value is not None:
                raise ConfigError(f"{flag} needs --engine ray")
    elif workers is not None and workers < 1:
        raise ConfigError(f"--workers must be 1 or more (got {workers})")
    if not (resume or no_resume or engine == "ray"):
        for flag, value in (("--segment-seconds", segment_seconds), ("--work-dir", work_dir), ("--keep-work", keep_work)):
            if value:
                raise ConfigError(f"{flag} needs --resume")
        return None
    if segment_seconds is not None and not segment_seconds > 0:
        raise ConfigError(f"--segment-seconds must be more than 0 (got {segment_seconds:g})")
    out = {"resume_": not no_resume, "keep_work": keep_work, "work_dir": work_dir}
    if segment_seconds is not None:
        out["segment_seconds"] = segment_seconds
    if engine == "ray":
        out.update(engine="ray", address=address, workers=workers)
    return out


def _may_overwrite(output: str, yes: bool, no: bool) -> bool:
    """FFmpeg's -y/-n: whether an existing ``output`` may be replaced. Without either, a terminal
    is asked; anything else (a script, a pipe) gets an error rather than a silent overwrite."""
    from .errors import MediaError
    from .io.target import OutputTarget

    if yes and no:
        raise ConfigError("-y (--overwrite) and -n (--no-overwrite) contradict each other")
    if yes:
        return True
    there = OutputTarget(output).existing()
    if not there:
        return False
    if not no and sys.stdin.isatty() and sys.stderr.isatty():
        if typer.confirm(f"vproc: '{there[0]}'{f' and {len(there) - 1} more' if len(there) > 1 else ''} already exists. Overwrite?",
                         default=False, err=True):
            return True
        raise MediaError(f"output '{output}' exists; not overwritten")
    raise MediaError(f"output '{there[0]}' already exists (use -y to overwrite it)")


class _Signals:
    """SIGINT and SIGTERM both stop a run the same way: the first finishes a valid file with what
    was processed (the runtime sees a KeyboardInterrupt), a second aborts and removes it. Which
    one came is kept for the exit code (130 / 143)."""

    def __enter__(self):
        import signal

        def handler(signum, frame):
            _state["signal"] = signal.Signals(signum).name
            raise KeyboardInterrupt

        self._old = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
        return self

    def __exit__(self, *exc):
        import signal

        for sig, old in self._old.items():
            signal.signal(sig, old)


# What a folder given as input is searched for: the extensions of video files people have.
VIDEO_EXTENSIONS = (".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".ts", ".m2ts", ".mts", ".flv", ".wmv",
                    ".mpg", ".mpeg", ".3gp", ".mxf", ".nut", ".y4m", ".ogv", ".dv")


def _run(graph, input: str, output: str, sets, device, on_error, progress, as_json, show_stats=False,
         segmented: dict | None = None, overwrite: tuple[bool, bool] = (False, False), **run_kw) -> None:
    """Run one file, or every video of a folder into an output folder; ``overwrite`` is (-y, -n);
    ``run_kw`` goes to :func:`vproc.pipeline.run` (trim, autorotate)."""
    if Path(input).is_dir():
        return _run_folder(graph, input, output, sets, device, on_error, progress, as_json, show_stats,
                           segmented, overwrite, **run_kw)
    _run_file(graph, input, output, sets, device, on_error, progress, as_json, show_stats, segmented,
              _may_overwrite(output, *overwrite), **run_kw)


def _run_folder(graph, input: str, output: str, sets, device, on_error, progress, as_json, show_stats,
                segmented, overwrite: tuple[bool, bool], **run_kw) -> None:
    """Every video file of folder ``input`` (by extension, sorted, not recursive) into folder
    ``output`` under the same name: a status line per file, a summary, exit 2 if any failed."""
    from .graph import Graph, load_graph

    src, dst = Path(input), Path(output)
    if dst.exists() and not dst.is_dir():
        raise ConfigError(f"input '{input}' is a folder, so the output must be one too ('{output}' is a file)")
    if dst.exists() and dst.resolve() == src.resolve():
        raise ConfigError(f"output folder '{output}' is the input folder: outputs would overwrite their inputs")
    if as_json:
        raise ConfigError("--json reports one run; with a folder input each file gets a status line instead")
    if not isinstance(graph, Graph):
        graph, sets = load_graph(graph, sets or ()), ()
    if graph.output.skeleton is not None and "{stem}" not in graph.output.skeleton:
        raise ConfigError(f"with a folder input every video needs its own sidecar: put {{stem}} in its name "
                          f"(e.g. --pose-out '{{stem}}.jsonl' beside each output; got '{graph.output.skeleton}')")
    files = sorted(p for p in src.iterdir() if p.is_file() and not p.name.startswith(".")
                   and p.suffix.lower() in VIDEO_EXTENSIONS)
    if not files:
        raise ConfigError(f"input folder '{input}' has no video files ({', '.join(VIDEO_EXTENSIONS)})")
    if not dst.exists():
        if not dst.parent.is_dir():
            raise ConfigError(f"cannot create output folder '{output}': folder '{dst.parent}' does not exist")
        dst.mkdir()
    failed = []
    for i, f in enumerate(files, start=1):
        target = dst / f.name
        try:
            _run_file(graph, str(f), str(target), sets, device, on_error, progress, False, show_stats, segmented,
                      _may_overwrite(str(target), *overwrite), quiet_report=True, **run_kw)
        except VprocError as exc:
            failed.append(f.name)
            typer.echo(f"[{i}/{len(files)}] {f.name}: error: {exc}", err=True)
        else:
            typer.echo(f"[{i}/{len(files)}] {f.name}: ok -> {target}", err=True)
    typer.echo(f"{len(files) - len(failed)} of {len(files)} files done" + (f", {len(failed)} failed: {', '.join(failed)}" if failed else ""), err=True)
    if failed:
        raise typer.Exit(2)


def _run_file(graph, input: str, output: str, sets, device, on_error, progress, as_json, show_stats=False,
              segmented: dict | None = None, overwrite: bool = True, quiet_report: bool = False, **run_kw) -> None:
    from . import pipeline
    from .io.target import STDOUT_NAMES
    from .progress import progress_bar

    if as_json and output in STDOUT_NAMES:
        raise ConfigError("--json prints to standard output, which is the video output here: drop one")
    try:
        with _Signals(), progress_bar(Path(input).name, progress) as update:
            stats = pipeline.run(graph, input, output, sets=sets or (), device=device, on_error=on_error,
                                 progress=update, segmented=segmented, overwrite=overwrite, **run_kw)
    except KeyboardInterrupt:  # before the first frame, or a second signal: nothing is kept
        name = _state["signal"] or "SIGINT"
        typer.echo(f"vproc: stopped by {name}: no output written", err=True)
        raise typer.Exit(_SIGNAL_EXIT.get(name, 130)) from None
    if not quiet_report or show_stats:
        _report(stats, as_json, show_stats)
    if stats.interrupted:
        name = _state["signal"] or "SIGINT"
        typer.echo(f"vproc: stopped by {name}: '{output}' is partial ({stats.frames_out} of {stats.frames_in}+ frames)", err=True)
        raise typer.Exit(_SIGNAL_EXIT.get(name, 130))
    if stats.signal:  # it came while the output was being finished: that completed
        typer.echo(f"vproc: {stats.signal} received while finishing: '{output}' is complete", err=True)
        raise typer.Exit(_SIGNAL_EXIT.get(stats.signal, 130))


@app.command("run")
def run_cmd(graph: Path = typer.Argument(..., help="YAML graph file"),
            input: str = typer.Option(..., "--input", "-i", help="input file"),
            output: str = typer.Option(..., "--output", "-o", help="output file"),
            set_: Optional[List[str]] = typer.Option(None, "--set", help="override a parameter: node.param=value (repeatable; output.crf=20 too)"),
            device: Optional[str] = _DEVICE, on_error: str = _ON_ERROR, progress: Optional[bool] = _PROGRESS,
            as_json: bool = _JSON, show_stats: bool = _STATS, resume: bool = _RESUME, no_resume: bool = _NO_RESUME,
            segment_seconds: Optional[float] = _SEGMENT_SECONDS, work_dir: Optional[str] = _WORK_DIR,
            keep_work: bool = _KEEP_WORK, engine: str = _ENGINE, address: Optional[str] = _ADDRESS,
            workers: Optional[int] = _WORKERS, overwrite: bool = _OVERWRITE, no_overwrite: bool = _NO_OVERWRITE,
            ss: Optional[str] = _SS, to: Optional[str] = _TO, t: Optional[str] = _T,
            video_stream: Optional[int] = _VIDEO_STREAM, autorotate: bool = _AUTOROTATE) -> None:
    """Run a YAML graph on a file (or every video of a folder): decode, process, encode (audio,
    subtitles and metadata kept)."""
    from .io.trim import trim_range

    segmented = _segmented(resume, no_resume, segment_seconds, work_dir, keep_work, engine, address, workers)
    _run(str(graph), input, output, set_, device, on_error, progress, as_json, show_stats, segmented,
         overwrite=(overwrite, no_overwrite), trim=trim_range(ss, to, t), video_stream=video_stream,
         autorotate=autorotate)


def _enhancement_graph(*, device, scale, width, height, interp, denoise, lowlight, lowlight_method, sr, sr_method,
                       sr_adapt=0, pose=False, pose_out=None, pose_overlay=True, codec=None, crf=None, bitrate=None,
                       preset=None, pix_fmt=None, audio="copy", ffmpeg_arg=None, format=None, deinterlace="off"):
    """The graph both transcode and live build from their shared flags."""
    from .pipeline import transcode_graph

    return transcode_graph(scale=scale, width=width, height=height, interp=interp, device=device or "auto",
                           denoise=denoise, lowlight=lowlight_method if lowlight else None,
                           sr=sr, sr_method=sr_method, sr_adapt=sr_adapt, pose=pose or pose_out is not None,
                           pose_overlay=pose_overlay, deinterlace=deinterlace,
                           output=dict(codec=codec, crf=crf, bitrate=bitrate, preset=preset, pix_fmt=pix_fmt,
                                       audio=audio, args=list(ffmpeg_arg or []), format=format,
                                       # the graph takes relative sidecar paths from the video's folder
                                       skeleton=os.path.abspath(pose_out) if pose_out else None))


@app.command()
def transcode(input: str = typer.Argument(..., help="input file, URL, or - for standard input"),
              output: str = typer.Argument(..., help="output file, image sequence (frame_%04d.png), URL, or - for standard output"),
              scale: Optional[float] = _SCALE, width: Optional[int] = _WIDTH, height: Optional[int] = _HEIGHT,
              interp: str = _INTERP, denoise: bool = _DENOISE, lowlight: bool = _LOWLIGHT,
              lowlight_method: str = _LOWLIGHT_METHOD, sr: Optional[int] = _SR, sr_method: str = _SR_METHOD,
              sr_adapt: int = typer.Option(0, "--sr-adapt", help="with --sr-method net: fine-tune the network on the video's own first frames for this many steps first (0: off)"),
              pose: bool = _POSE,
              pose_out: Optional[str] = typer.Option(None, "--pose-out", help="also write the keypoints to this JSON Lines sidecar (implies --pose)"),
              pose_overlay: bool = typer.Option(True, "--pose-overlay/--no-pose-overlay", help="draw the skeletons onto the video (with --pose)"),
              codec: Optional[str] = _CODEC, crf: Optional[float] = _CRF, bitrate: Optional[str] = _BITRATE,
              preset: Optional[str] = _PRESET, pix_fmt: Optional[str] = _PIX_FMT, audio: str = _AUDIO,
              ffmpeg_arg: Optional[List[str]] = _FFMPEG_ARG, format: Optional[str] = _FORMAT,
              overwrite: bool = _OVERWRITE, no_overwrite: bool = _NO_OVERWRITE,
              ss: Optional[str] = _SS, to: Optional[str] = _TO, t: Optional[str] = _T,
              video_stream: Optional[int] = _VIDEO_STREAM, autorotate: bool = _AUTOROTATE,
              deinterlace: str = _DEINTERLACE,
              device: str = typer.Option("auto", "--device", help="auto | cpu | cuda"),
              on_error: str = _ON_ERROR, progress: Optional[bool] = _PROGRESS, as_json: bool = _JSON,
              show_stats: bool = _STATS, resume: bool = _RESUME, no_resume: bool = _NO_RESUME,
              segment_seconds: Optional[float] = _SEGMENT_SECONDS, work_dir: Optional[str] = _WORK_DIR,
              keep_work: bool = _KEEP_WORK, engine: str = _ENGINE, address: Optional[str] = _ADDRESS,
              workers: Optional[int] = _WORKERS) -> None:
    """Transcode a file (or every video of a folder) with a graph built from flags (no flags:
    decode and re-encode, keeping every stream and its metadata)."""
    from .io.trim import trim_range

    segmented = _segmented(resume, no_resume, segment_seconds, work_dir, keep_work, engine, address, workers)
    graph = _enhancement_graph(device=device, scale=scale, width=width, height=height, interp=interp, denoise=denoise,
                               lowlight=lowlight, lowlight_method=lowlight_method, sr=sr, sr_method=sr_method,
                               sr_adapt=sr_adapt, pose=pose, pose_out=pose_out, pose_overlay=pose_overlay, codec=codec,
                               crf=crf, bitrate=bitrate, preset=preset, pix_fmt=pix_fmt, audio=audio,
                               ffmpeg_arg=ffmpeg_arg, format=format, deinterlace=deinterlace)
    _run(graph, input, output, (), None, on_error, progress, as_json, show_stats, segmented,
         overwrite=(overwrite, no_overwrite), trim=trim_range(ss, to, t), video_stream=video_stream,
         autorotate=autorotate)


@app.command()
def live(input: str = typer.Argument(..., help="input: rtmp://host[:port]/app/key (pulled, or listened on with --listen), srt://, udp://, http(s)://, or a file"),
         output: str = typer.Argument(..., help="output: rtmp:// (pushed as FLV), srt://, a folder for HLS (index.m3u8), or a file"),
         graph: Optional[Path] = typer.Option(None, "--graph", "-g", help="YAML graph to run (else the graph the transcode flags build)"),
         set_: Optional[List[str]] = typer.Option(None, "--set", help="override a parameter of --graph: node.param=value (repeatable)"),
         listen: bool = typer.Option(False, "--listen", help="listen on the input URL (FFmpeg listen mode): a camera or OBS pushes to vproc"),
         realtime: bool = typer.Option(False, "--realtime", help="pace a file input at its own frame rate, like a live source"),
         max_latency: float = typer.Option(500, "--max-latency", help="bound on the added latency in ms: later frames are dropped (counted)"),
         denoise: bool = _DENOISE, lowlight: bool = _LOWLIGHT, lowlight_method: str = _LOWLIGHT_METHOD,
         sr: Optional[int] = _SR, sr_method: str = _SR_METHOD, pose: bool = _POSE,
         scale: Optional[float] = _SCALE, width: Optional[int] = _WIDTH, height: Optional[int] = _HEIGHT,
         interp: str = _INTERP, deinterlace: str = _DEINTERLACE, codec: Optional[str] = _CODEC, bitrate: Optional[str] = _BITRATE,
         maxrate: Optional[str] = typer.Option(None, "--maxrate", help="VBV maximum rate (capped VBR with --crf)"),
         bufsize: Optional[str] = typer.Option(None, "--bufsize", help="VBV buffer size (default: the rate)"),
         crf: Optional[float] = _CRF, preset: Optional[str] = _PRESET, pix_fmt: Optional[str] = _PIX_FMT,
         keyint: float = typer.Option(2.0, "--keyint", help="keyframe interval in seconds"),
         audio: str = _AUDIO, ffmpeg_arg: Optional[List[str]] = _FFMPEG_ARG, format: Optional[str] = _FORMAT,
         stats_interval: float = typer.Option(5.0, "--stats-interval", help="seconds between statistics lines"),
         as_json: bool = typer.Option(False, "--json", help="statistics lines as JSON objects on stdout"),
         metrics_port: Optional[int] = typer.Option(None, "--metrics-port", help="serve Prometheus metrics on http://127.0.0.1:PORT/metrics"),
         reconnect_max: float = typer.Option(0.5, "--reconnect-max", help="longest wait between reconnection attempts, seconds"),
         slate: Optional[Path] = typer.Option(None, "--slate", help="image shown while the input is away (default: the last frame repeated)"),
         connect_timeout: float = typer.Option(30.0, "--connect-timeout", help="give up when the input cannot be opened for this long at start (not with --listen)"),
         overwrite: bool = _OVERWRITE, no_overwrite: bool = _NO_OVERWRITE,
         device: Optional[str] = _DEVICE) -> None:
    """Enhance a live stream: pull or receive it, run a graph, push it out; survives disconnects."""
    import signal

    from .graph import load_graph
    from .live import LiveOptions, run_live

    if graph is not None:
        g = load_graph(str(graph), set_ or ())
    else:
        if set_:
            raise ConfigError("--set applies to --graph")
        g = _enhancement_graph(device=device, scale=scale, width=width, height=height, interp=interp, denoise=denoise,
                               lowlight=lowlight, lowlight_method=lowlight_method, sr=sr, sr_method=sr_method,
                               pose=pose, codec=codec, crf=crf, pix_fmt=pix_fmt, audio=audio,
                               ffmpeg_arg=ffmpeg_arg, format=format, deinterlace=deinterlace)
    options = LiveOptions(listen=listen, realtime=realtime, max_latency_ms=max_latency, keyint=keyint, bitrate=bitrate,
                          maxrate=maxrate, bufsize=bufsize, preset=preset, stats_interval=stats_interval, json=as_json,
                          metrics_port=metrics_port, reconnect_max=reconnect_max, connect_timeout=connect_timeout,
                          slate=str(slate) if slate else None)

    def stop(signum, frame):  # SIGTERM as Ctrl-C: stop reading, drain, close the output
        # Once: a second SIGTERM (a supervisor repeating itself, `timeout` forwarding its own)
        # must not turn the clean stop into an abort, as a second Ctrl-C does.
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    try:
        from .io.target import is_url
        from .live import output_target

        target = output_target(output)
        stats = run_live(g, input, output, options, device=device,
                         overwrite=_may_overwrite(target, overwrite, no_overwrite) if not is_url(target) else True)
    except KeyboardInterrupt:  # before the stream started (still connecting)
        typer.echo("vproc: stopped", err=True)
        return
    typer.echo(f"live: {stats.frames_out} frames written from {stats.frames_in} in {stats.wall_s:.1f}s"
               + (" (stopped)" if stats.interrupted else ""), err=True)


@app.command()
def check(graph: Path = typer.Argument(..., help="YAML graph file"),
          input: Optional[str] = typer.Option(None, "--input", "-i", help="also open every node for this input and show each edge's format"),
          set_: Optional[List[str]] = typer.Option(None, "--set", help="override a parameter: node.param=value"),
          device: Optional[str] = _DEVICE) -> None:
    """Validate a graph (schema, params, wiring) and print the plan; nothing is processed."""
    from .graph import load_graph

    g = load_graph(str(graph), set_ or ())
    if not input:
        typer.echo(g.describe())
    else:  # the negotiated plan: with the conversions the runtime inserts for this input
        from .io.source import Source
        from .runtime import Runtime

        with Source(input) as src:
            rt = Runtime(g, src, sink=None, device=device)
            try:
                infos = rt.open_nodes()
            except BaseException:
                typer.echo(g.describe(rt.inserted))
                raise
            finally:
                rt.close_nodes()
        typer.echo(g.describe(rt.inserted))
        for name, info in infos.items():
            typer.echo(f"  {name}: {info.width}x{info.height} {info.format} rate={info.rate} "
                       f"time_base={info.time_base} matrix={info.color.matrix} range={info.color.range}")
    typer.echo("ok")


@app.command()
def nodes() -> None:
    """List every node kind with its parameters, types and defaults."""
    from . import registry
    from .params import describe_type, param_fields

    for kind, cls in registry.kinds().items():
        doc = (cls.__doc__ or "").strip().splitlines()[0] if cls.__doc__ else ""
        typer.echo(f"{kind}: {doc}  [devices: {', '.join(cls.devices)}; inputs: {cls.inputs if cls.inputs > 0 else '1+'}]")
        for f, tp in param_fields(cls.Params):
            typer.echo(f"    {f.name}: {describe_type(tp)} = {f.default!r}  {f.metadata.get('help', '')}")


@app.command()
def probe(input: str = typer.Argument(..., help="media file"),
          as_json: bool = typer.Option(False, "--json", help="print JSON")) -> None:
    """Show an input's streams: video size, format, bit depth, rate, colour; audio; subtitles."""
    from .io.source import probe as probe_media

    info = probe_media(input)
    if as_json:
        print(json.dumps(info, indent=2))
        return
    v = info["video"]
    typer.echo(f"{info['url']}: {info['format']}, duration {info['duration']}s")
    typer.echo(f"  video #{v['stream']}: {v['codec']} {v['width']}x{v['height']} {v['pix_fmt']} ({v['bit_depth']} bit) "
               f"rate {v['rate']} time_base {v['time_base']} frames {v['frames']} colour {v['color']}")
    geometry = [f"SAR {v['sample_aspect_ratio']} DAR {v['display_aspect_ratio']}" if v.get("sample_aspect_ratio") else ""]
    geometry += [f"rotation {v['rotation']}" if v.get("rotation") else "", "hflip" if v.get("hflip") else "",
                 "vflip" if v.get("vflip") else "", f"interlaced ({v['field_order']})" if v.get("interlaced") else ""]
    if any(geometry):
        typer.echo("    " + ", ".join(g for g in geometry if g))
    for s in info["streams"]:
        if s["index"] != v["stream"]:
            typer.echo(f"  {s['type']} #{s['index']}: " + ", ".join(f"{k}={val}" for k, val in s.items() if k not in ("index", "type")))


@app.command("eval")
def eval_cmd(distorted: str = typer.Argument(..., help="processed video"),
             reference: str = typer.Argument(..., help="reference video"),
             json_out: Optional[Path] = typer.Option(None, "--json", help="write per-frame and mean metrics to this JSON file"),
             per_frame: bool = typer.Option(False, "--per-frame", help="print one line per frame")) -> None:
    """PSNR and SSIM (Y and RGB) of DISTORTED against REFERENCE, frames paired by time."""
    from .metrics import evaluate_files
    from .io.target import check_writable, write_text

    if json_out:  # before decoding: a wrong folder fails at once, in one line
        check_writable(json_out, "metrics file")
    result = evaluate_files(distorted, reference)
    if per_frame:
        for row in result["frames"]:
            typer.echo(f"t={row['time']:.3f}s  Y-PSNR {row['psnr_y']:.3f}  Y-SSIM {row['ssim_y']:.4f}  "
                       f"RGB-PSNR {row['psnr_rgb']:.3f}  RGB-SSIM {row['ssim_rgb']:.4f}")
    m = result["mean"]
    typer.echo(f"{result['count']} frames: Y-PSNR {m['psnr_y']:.3f} dB  Y-SSIM {m['ssim_y']:.4f}  "
               f"RGB-PSNR {m['psnr_rgb']:.3f} dB  RGB-SSIM {m['ssim_rgb']:.4f}")
    if json_out:
        write_text(json_out, json.dumps(result, indent=2), "metrics file")


train_app = typer.Typer(no_args_is_help=True, help="Train the project's own network weights (written to vproc/weights/ with their settings).")
app.add_typer(train_app, name="train")


@train_app.command("lowlight")
def train_lowlight(data: Optional[Path] = typer.Option(None, "--data", help="data folder with DICM, LIME, LOL_eval_low_RetinexNet and train/ (default: ../shared/data next to the repository)"),
                   steps: Optional[int] = typer.Option(None, "--steps", help="training steps (default: the shipped recipe's, 1200)"),
                   out: Optional[Path] = typer.Option(None, "--out", help="weights file (default: vproc/weights/zerodce_lowlight.pt); settings and metrics go next to it as .json"),
                   seed: int = typer.Option(0, "--seed", help="random seed (data order, crops, noise, initial weights)"),
                   per_channel: bool = typer.Option(False, "--per-channel", help="one curve per colour channel, as the paper (shifts hue; for comparison)"),
                   evaluate: bool = typer.Option(True, "--eval/--no-eval", help="measure the model card's metrics after training")) -> None:
    """Train the lowlight node's curve network (Zero-DCE++ style, zero-reference losses) on the CPU."""
    from .errors import ConfigError

    if data is not None and not data.is_dir():  # before importing torch: a typo answers at once
        raise ConfigError(f"lowlight training data folder not found: {data}")
    if per_channel and out is None:
        raise ConfigError("--per-channel needs --out: the default file holds the node's one-map weights")
    import time

    from .models import zerodce
    from .training import lowlight as training

    settings = training.Settings(**{k: v for k, v in dict(steps=steps, seed=seed, curve_channels=3 if per_channel else 1).items()
                                    if v is not None})
    weights = out if out is not None else zerodce.DEFAULT_WEIGHTS
    t0 = time.perf_counter()

    def report(step: int, total: int, losses: dict[str, float]) -> None:
        if step == 1 or step % 50 == 0 or step == total:
            terms = "  ".join(f"{k} {v:.4f}" for k, v in losses.items() if k != "total")
            typer.echo(f"step {step:>5}/{total}  loss {losses['total']:.4f}  ({terms})  {time.perf_counter() - t0:6.1f}s", err=True)

    summary = training.train(data, weights, settings, report)
    typer.echo(f"wrote {weights} ({summary['parameters']} parameters) in {summary['train_seconds']:.1f}s "
               f"(CPU time {summary['cpu_seconds']:.1f}s)", err=True)
    if evaluate:
        from .training import lowlight_eval

        summary["metrics"] = lowlight_eval.evaluate(zerodce.load(weights), data if data is not None else training.DEFAULT_DATA)
        training.write_json(weights.with_suffix(".json"), summary)
        typer.echo(json.dumps(summary["metrics"], indent=2))


@train_app.command("vsr")
def train_vsr(scale: int = typer.Option(..., "--scale", help="upscaling factor: 2 or 4 (3 also works)"),
              degradation: str = typer.Option("bi", "--degradation", help="bi (MATLAB imresize bicubic), bd (Gaussian blur sigma 1.6, then subsample) or stream (bi, then a real x264/x265/VP9/AV1 encoding at CRF 18-35)"),
              init: Optional[str] = typer.Option(None, "--init", help="start from these weights (a shipped name such as vsrnet_x2_bi.pt, or a path): fine-tuning"),
              lr: Optional[float] = typer.Option(None, "--lr", help="peak learning rate of the cosine schedule (default: the recipe's, 1e-3)"),
              steps: Optional[int] = typer.Option(None, "--steps", help="training steps (default: the recipe's)"),
              data: Optional[Path] = typer.Option(None, "--data", help="data folder with train/ and the videos (default: ../shared/data next to the repository; Vid4 is never read)"),
              out: Optional[Path] = typer.Option(None, "--out", help="weights file (default: vproc/weights/vsrnet_x<scale>_<degradation>.pt); settings and loss curve go next to it as .json"),
              seed: int = typer.Option(0, "--seed", help="random seed (data, motion paths, initial weights)"),
              radius: int = typer.Option(2, "--radius", help="neighbours on each side of the window: 1 or 2"),
              causal: bool = typer.Option(False, "--causal", help="causal window: the radius+1 latest frames only (live use)"),
              evaluate: bool = typer.Option(True, "--eval/--no-eval", help="measure Y-PSNR on the held-out synthetic clips after training"),
              resume: bool = typer.Option(True, "--resume/--no-resume", help="continue from the checkpoint a stopped run left next to --out (<out>.ckpt, written every 500 steps) when its settings are the same")) -> None:
    """Train the vsr node's network (sliding window, learned alignment) on the CPU. A stopped run
    continues where its last checkpoint was, with the same result as an uninterrupted one."""
    from .errors import ConfigError

    if data is not None and not data.is_dir():  # before importing torch: a typo answers at once
        raise ConfigError(f"vsr training data folder not found: {data}")
    if scale not in (2, 3, 4):
        raise ConfigError(f"--scale must be 2, 3 or 4 (got {scale})")
    if degradation not in ("bi", "bd", "stream"):
        raise ConfigError(f"--degradation must be bi, bd or stream (got {degradation!r})")
    import time

    from .models import vsrnet
    from .training import vsr as training

    if init is not None and not training.init_path(init).is_file():
        raise ConfigError(f"--init weights not found: {init}")
    if lr is not None and not 0 < lr <= 0.1:
        raise ConfigError(f"--lr must be within (0, 0.1] (got {lr})")
    settings = training.Settings(scale=scale, degradation=degradation, radius=radius, causal=causal, init=init or "",
                                 **({"lr": lr} if lr is not None else {}))
    weights = out if out is not None else vsrnet.default_weights(scale, degradation)
    t0 = time.perf_counter()

    def report(step: int, total: int, loss: float) -> None:
        if step == 1 or step % 100 == 0 or step == total:
            typer.echo(f"step {step:>6}/{total}  loss {loss:.5f}  {time.perf_counter() - t0:7.1f}s", err=True)

    def pool_report(done: int, total: int) -> None:
        if done == 1 or done % 100 == 0 or done == total:
            typer.echo(f"coded pool {done:>5}/{total}  {time.perf_counter() - t0:7.1f}s", err=True)

    summary = training.train(scale, degradation, steps, data, weights, seed, report, settings=settings, resume=resume,
                             pool_report=pool_report)
    typer.echo(f"wrote {weights} ({summary['parameters']} parameters) in {summary['train_seconds']:.1f}s "
               f"(CPU time {summary['cpu_seconds']:.1f}s)", err=True)
    if evaluate:
        net = vsrnet.load(weights)
        summary["metrics"] = {"held_out": training.evaluate(net, degradation, data),
                              "synthetic": training.synthetic_check(net, degradation)}
        training.write_json(weights.with_suffix(".json"), summary)
        typer.echo(json.dumps(summary["metrics"], indent=2))


def hoist_global_flags(argv: list[str]) -> list[str]:
    """``argv`` with ``-q``/``--quiet``/``--debug`` moved before the subcommand wherever they
    were written (``vproc transcode a b -q``), as users of ffmpeg expect; not after ``--``, nor as
    the value of ``--ffmpeg-arg``."""
    front, rest, moved = [], [], []
    for i, arg in enumerate(argv):
        if arg == "--":
            rest += argv[i:]
            break
        if arg in _GLOBAL_FLAGS and not (rest and rest[-1] == "--ffmpeg-arg"):
            front.append(arg)
        elif arg in _COMMAND_FLAGS and not rest:  # `vproc -y transcode ...`, as `ffmpeg -y ...`
            moved.append(arg)
        else:
            rest.append(arg)
    if moved and rest:
        rest = rest[:1] + moved + rest[1:]
    return front + (rest or moved)


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the app; a VprocError is one line on stderr and exit code 2; a run
    stopped by SIGINT/SIGTERM exits 130/143."""
    try:  # typer carries its own copy of click; the exceptions it raises are that copy's
        from typer._click import exceptions as cx
    except ImportError:
        import click.exceptions as cx

    # vproc's numpy work is elementwise (the heavy lifting is numba, OpenCV, torch and
    # FFmpeg, each with threads of its own), so OpenBLAS's worker threads only spin: at
    # numpy's import they burn about 80 ms of CPU, a core's worth during start-up on a
    # 2-core machine. Set before numpy is first imported; a user's own setting wins.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    argv = hoist_global_flags(list(sys.argv[1:] if argv is None else argv))
    _state["signal"] = None
    try:
        rv = app(args=argv, prog_name="vproc", standalone_mode=False)
        return rv if isinstance(rv, int) else 0  # --help, --version and typer.Exit codes
    except cx.NoArgsIsHelpError:  # plain `vproc`, or a command group alone: typer printed its help
        return 2
    except cx.UsageError as exc:  # an unknown option, a missing argument: one line, as every error
        where = f" (see '{exc.ctx.command_path} --help')" if exc.ctx else ""
        typer.echo(f"vproc: error: {exc.format_message()}{where}", err=True)
        return 2
    except typer.Exit as exc:
        return exc.exit_code
    except typer.Abort:  # Ctrl-C or end of input at a prompt (-y/-n's question)
        return 130
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 0 if exc.code is None else 1
    except VprocError as exc:
        if _state["debug"]:
            traceback.print_exc()
        typer.echo(f"vproc: error: {exc}", err=True)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
