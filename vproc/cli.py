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

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="vproc: enhance video files and streams through graphs of CUDA/CPU nodes.")
_state = {"debug": False}

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


@app.callback()
def _main(debug: bool = typer.Option(False, "--debug", help="show tracebacks and FFmpeg commands"),
          quiet: bool = typer.Option(False, "--quiet", "-q", help="only errors on stderr")) -> None:
    _state["debug"] = debug
    level = logging.DEBUG if debug else logging.ERROR if quiet else logging.WARNING
    logging.basicConfig(level=level, format="vproc: %(levelname)s: %(message)s", stream=sys.stderr)


def _report(stats, as_json: bool, show_stats: bool = False) -> None:
    if as_json:
        print(json.dumps(stats.to_dict(), indent=2))
        return
    note = " (interrupted)" if stats.interrupted else ""
    typer.echo(f"wrote {stats.output}: {stats.frames_out} frames from {stats.frames_in} in "
               f"{stats.wall_s:.1f}s ({stats.fps:.1f} fps){note}", err=True)
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


def _run(graph, input: str, output: str, sets, device, on_error, progress, as_json, show_stats=False,
         segmented: dict | None = None) -> None:
    from . import pipeline
    from .progress import progress_bar

    with progress_bar(Path(input).name, progress) as update:
        stats = pipeline.run(graph, input, output, sets=sets or (), device=device, on_error=on_error, progress=update,
                             segmented=segmented)
    _report(stats, as_json, show_stats)


@app.command("run")
def run_cmd(graph: Path = typer.Argument(..., help="YAML graph file"),
            input: str = typer.Option(..., "--input", "-i", help="input file"),
            output: str = typer.Option(..., "--output", "-o", help="output file"),
            set_: Optional[List[str]] = typer.Option(None, "--set", help="override a parameter: node.param=value (repeatable; output.crf=20 too)"),
            device: Optional[str] = _DEVICE, on_error: str = _ON_ERROR, progress: Optional[bool] = _PROGRESS,
            as_json: bool = _JSON, show_stats: bool = _STATS, resume: bool = _RESUME, no_resume: bool = _NO_RESUME,
            segment_seconds: Optional[float] = _SEGMENT_SECONDS, work_dir: Optional[str] = _WORK_DIR,
            keep_work: bool = _KEEP_WORK, engine: str = _ENGINE, address: Optional[str] = _ADDRESS,
            workers: Optional[int] = _WORKERS) -> None:
    """Run a YAML graph on a file: decode, process, encode (audio and subtitles kept)."""
    segmented = _segmented(resume, no_resume, segment_seconds, work_dir, keep_work, engine, address, workers)
    _run(str(graph), input, output, set_, device, on_error, progress, as_json, show_stats, segmented)


@app.command()
def transcode(input: str = typer.Argument(..., help="input file"),
              output: str = typer.Argument(..., help="output file"),
              scale: Optional[float] = typer.Option(None, "--scale", help="resize by this factor"),
              width: Optional[int] = typer.Option(None, "--width", help="resize to this width (-1: keep aspect)"),
              height: Optional[int] = typer.Option(None, "--height", help="resize to this height (-1: keep aspect)"),
              interp: str = typer.Option("bicubic", "--interp", help="bicubic | lanczos | area | bilinear | nearest"),
              denoise: bool = typer.Option(False, "--denoise", help="temporal denoising, strength estimated from the video"),
              lowlight: bool = typer.Option(False, "--lowlight", help="brighten dark video (after --denoise when both are given)"),
              lowlight_method: str = typer.Option("curve", "--lowlight-method", help="curve | net: the lowlight node's method"),
              sr: Optional[int] = typer.Option(None, "--sr", help="temporal super-resolution by 2, 3 or 4 (after --denoise/--lowlight)"),
              sr_method: str = typer.Option("flow", "--sr-method", help="the vsr node's method: flow (optical flow, no weights) | net (the shipped network)"),
              sr_adapt: int = typer.Option(0, "--sr-adapt", help="with --sr-method net: fine-tune the network on the video's own first frames for this many steps first (0: off)"),
              pose: bool = typer.Option(False, "--pose", help="find people's body keypoints and draw their skeletons"),
              pose_out: Optional[str] = typer.Option(None, "--pose-out", help="also write the keypoints to this JSON Lines sidecar (implies --pose)"),
              pose_overlay: bool = typer.Option(True, "--pose-overlay/--no-pose-overlay", help="draw the skeletons onto the video (with --pose)"),
              codec: str = typer.Option("libx264", "--codec", help="FFmpeg video encoder"),
              crf: Optional[float] = typer.Option(None, "--crf", help="constant quality (default 18 for x264/x265)"),
              bitrate: Optional[str] = typer.Option(None, "--bitrate", help="target bitrate, e.g. 4M (instead of --crf)"),
              preset: Optional[str] = typer.Option(None, "--preset", help="encoder preset, e.g. veryfast"),
              pix_fmt: Optional[str] = typer.Option(None, "--pix-fmt", help="pixel format of the encoded video"),
              audio: str = typer.Option("copy", "--audio", help="copy | aac | none"),
              ffmpeg_arg: Optional[List[str]] = typer.Option(None, "--ffmpeg-arg", help="extra FFmpeg output argument (repeatable)"),
              device: str = typer.Option("auto", "--device", help="auto | cpu | cuda"),
              on_error: str = _ON_ERROR, progress: Optional[bool] = _PROGRESS, as_json: bool = _JSON,
              show_stats: bool = _STATS, resume: bool = _RESUME, no_resume: bool = _NO_RESUME,
              segment_seconds: Optional[float] = _SEGMENT_SECONDS, work_dir: Optional[str] = _WORK_DIR,
              keep_work: bool = _KEEP_WORK, engine: str = _ENGINE, address: Optional[str] = _ADDRESS,
              workers: Optional[int] = _WORKERS) -> None:
    """Transcode a file with a graph built from flags (no flags: decode and re-encode)."""
    from .pipeline import transcode_graph

    segmented = _segmented(resume, no_resume, segment_seconds, work_dir, keep_work, engine, address, workers)
    graph = transcode_graph(scale=scale, width=width, height=height, interp=interp, device=device,
                            denoise=denoise, lowlight=lowlight_method if lowlight else None,
                            sr=sr, sr_method=sr_method, sr_adapt=sr_adapt, pose=pose or pose_out is not None,
                            pose_overlay=pose_overlay,
                            output=dict(codec=codec, crf=crf, bitrate=bitrate, preset=preset, pix_fmt=pix_fmt,
                                        audio=audio, args=list(ffmpeg_arg or []),
                                        # the graph takes relative sidecar paths from the video's folder
                                        skeleton=os.path.abspath(pose_out) if pose_out else None))
    _run(graph, input, output, (), None, on_error, progress, as_json, show_stats, segmented)


@app.command()
def live(input: str = typer.Argument(..., help="input: rtmp://host[:port]/app/key (pulled, or listened on with --listen), srt://, udp://, http(s)://, or a file"),
         output: str = typer.Argument(..., help="output: rtmp:// (pushed as FLV), srt://, a folder for HLS (index.m3u8), or a file"),
         graph: Optional[Path] = typer.Option(None, "--graph", "-g", help="YAML graph to run (else the graph the transcode flags build)"),
         set_: Optional[List[str]] = typer.Option(None, "--set", help="override a parameter of --graph: node.param=value (repeatable)"),
         listen: bool = typer.Option(False, "--listen", help="listen on the input URL (FFmpeg listen mode): a camera or OBS pushes to vproc"),
         realtime: bool = typer.Option(False, "--realtime", help="pace a file input at its own frame rate, like a live source"),
         max_latency: float = typer.Option(500, "--max-latency", help="bound on the added latency in ms: later frames are dropped (counted)"),
         denoise: bool = typer.Option(False, "--denoise", help="temporal denoising (as transcode)"),
         lowlight: bool = typer.Option(False, "--lowlight", help="brighten dark video (as transcode)"),
         lowlight_method: str = typer.Option("curve", "--lowlight-method", help="curve | net"),
         sr: Optional[int] = typer.Option(None, "--sr", help="temporal super-resolution by 2, 3 or 4"),
         pose: bool = typer.Option(False, "--pose", help="draw people's skeletons (pose + overlay)"),
         scale: Optional[float] = typer.Option(None, "--scale", help="resize by this factor"),
         width: Optional[int] = typer.Option(None, "--width", help="resize to this width (-1: keep aspect)"),
         height: Optional[int] = typer.Option(None, "--height", help="resize to this height (-1: keep aspect)"),
         codec: str = typer.Option("libx264", "--codec", help="video encoder"),
         bitrate: Optional[str] = typer.Option(None, "--bitrate", help="constant bitrate, e.g. 4M (CBR through VBV); default: crf 23"),
         maxrate: Optional[str] = typer.Option(None, "--maxrate", help="VBV maximum rate (capped VBR with --crf)"),
         bufsize: Optional[str] = typer.Option(None, "--bufsize", help="VBV buffer size (default: the rate)"),
         crf: Optional[float] = typer.Option(None, "--crf", help="constant quality when no --bitrate (default 23)"),
         preset: Optional[str] = typer.Option(None, "--preset", help="encoder preset (default veryfast)"),
         keyint: float = typer.Option(2.0, "--keyint", help="keyframe interval in seconds"),
         audio: str = typer.Option("copy", "--audio", help="copy | aac | none"),
         stats_interval: float = typer.Option(5.0, "--stats-interval", help="seconds between statistics lines"),
         as_json: bool = typer.Option(False, "--json", help="statistics lines as JSON objects on stdout"),
         metrics_port: Optional[int] = typer.Option(None, "--metrics-port", help="serve Prometheus metrics on http://127.0.0.1:PORT/metrics"),
         reconnect_max: float = typer.Option(0.5, "--reconnect-max", help="longest wait between reconnection attempts, seconds"),
         slate: Optional[Path] = typer.Option(None, "--slate", help="image shown while the input is away (default: the last frame repeated)"),
         connect_timeout: float = typer.Option(30.0, "--connect-timeout", help="give up when the input cannot be opened for this long at start (not with --listen)"),
         device: Optional[str] = _DEVICE) -> None:
    """Enhance a live stream: pull or receive it, run a graph, push it out; survives disconnects."""
    import signal

    from .graph import load_graph
    from .live import LiveOptions, run_live
    from .pipeline import transcode_graph

    if graph is not None:
        g = load_graph(str(graph), set_ or ())
    else:
        if set_:
            raise ConfigError("--set applies to --graph")
        g = transcode_graph(scale=scale, width=width, height=height, denoise=denoise,
                            lowlight=lowlight_method if lowlight else None, sr=sr, pose=pose,
                            output=dict(codec=codec, crf=crf, audio=audio), device=device or "auto")
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
        stats = run_live(g, input, output, options, device=device)
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
    typer.echo(g.describe())
    if input:
        from .io.source import Source
        from .runtime import Runtime

        with Source(input) as src:
            rt = Runtime(g, src, sink=None, device=device)
            try:
                infos = rt.open_nodes()
            finally:
                rt.close_nodes()
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

    result = evaluate_files(distorted, reference)
    if per_frame:
        for row in result["frames"]:
            typer.echo(f"t={row['time']:.3f}s  Y-PSNR {row['psnr_y']:.3f}  Y-SSIM {row['ssim_y']:.4f}  "
                       f"RGB-PSNR {row['psnr_rgb']:.3f}  RGB-SSIM {row['ssim_rgb']:.4f}")
    m = result["mean"]
    typer.echo(f"{result['count']} frames: Y-PSNR {m['psnr_y']:.3f} dB  Y-SSIM {m['ssim_y']:.4f}  "
               f"RGB-PSNR {m['psnr_rgb']:.3f} dB  RGB-SSIM {m['ssim_rgb']:.4f}")
    if json_out:
        json_out.write_text(json.dumps(result, indent=2))


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
              degradation: str = typer.Option("bi", "--degradation", help="bi (MATLAB imresize bicubic) or bd (Gaussian blur sigma 1.6, then subsample)"),
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
    if degradation not in ("bi", "bd"):
        raise ConfigError(f"--degradation must be bi or bd (got {degradation!r})")
    import time

    from .models import vsrnet
    from .training import vsr as training

    settings = training.Settings(scale=scale, degradation=degradation, radius=radius, causal=causal)
    weights = out if out is not None else vsrnet.default_weights(scale, degradation)
    t0 = time.perf_counter()

    def report(step: int, total: int, loss: float) -> None:
        if step == 1 or step % 100 == 0 or step == total:
            typer.echo(f"step {step:>6}/{total}  loss {loss:.5f}  {time.perf_counter() - t0:7.1f}s", err=True)

    summary = training.train(scale, degradation, steps, data, weights, seed, report, settings=settings, resume=resume)
    typer.echo(f"wrote {weights} ({summary['parameters']} parameters) in {summary['train_seconds']:.1f}s "
               f"(CPU time {summary['cpu_seconds']:.1f}s)", err=True)
    if evaluate:
        net = vsrnet.load(weights)
        summary["metrics"] = {"held_out": training.evaluate(net, degradation, data),
                              "synthetic": training.synthetic_check(net, degradation)}
        training.write_json(weights.with_suffix(".json"), summary)
        typer.echo(json.dumps(summary["metrics"], indent=2))


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the app; a VprocError is one line on stderr and exit code 2."""
    try:
        app(args=argv, prog_name="vproc")  # standalone: usage errors and --help exit by themselves
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
