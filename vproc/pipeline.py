"""The library calls behind the commands: run a graph on a file, build a graph from flags."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .errors import ConfigError
from .graph import Graph, build_graph, load_graph
from .runtime import RunStats, Runtime


def run(graph: Graph | str | Path, input: str, output: str, *, sets: list[str] | tuple[str, ...] = (),
        device: str | None = None, on_error: str = "stop", progress=None, overwrite: bool = True,
        segmented: dict[str, Any] | None = None, autorotate: bool = True,
        trim: tuple[Any, Any] | None = None, video_stream: int | None = None) -> RunStats:
    """Decode ``input``, run it through ``graph`` and encode ``output``; returns the statistics.

    ``graph`` is a :class:`Graph` or the path of a YAML file; ``sets`` are ``node.param=value``
    overrides; ``progress`` is called as ``progress(frames_done, frames_expected)``.
    ``segmented``: run segment by segment with resume (:func:`vproc.engines.local.run_segmented`),
    these being its options (``segment_seconds``, ``work_dir``, ``resume_``, ``keep_work``), and
    ``engine``: ``"local"`` (default) or ``"ray"`` (:func:`vproc.engines.ray.run_ray`, which also
    takes ``address`` and ``workers``).
    ``autorotate``: turn a rotated input (display matrix) upright before the graph, as the
    ``ffmpeg`` CLI does (the default); False keeps its frames as stored and writes its display
    matrix to the output (``--no-autorotate``; not on segmented runs yet).
    ``video_stream``: the index of the input's video stream to process (default: FFmpeg's
    choice); the other video streams and cover art are copied.
    ``trim``: ``(start, end)`` in seconds (end None: to the end), as ``ffmpeg -ss -to``; see
    :mod:`vproc.io.trim` (:func:`~vproc.io.trim.trim_range` makes it from ``--ss/--to/--t``).
    """
    from .io.output import Output
    from .io.source import Source

    if not isinstance(graph, Graph):
        graph = load_graph(graph, sets)
    elif sets:
        raise ConfigError("overrides apply when the graph is loaded: pass sets to load_graph()")
    if device is not None and device not in ("auto", "cpu", "cuda"):
        raise ConfigError(f"device must be auto, cpu or cuda (got {device!r})")
    if segmented is not None:
        if trim is not None or video_stream is not None:
            raise ConfigError("--ss/--to/--t and --video-stream are not supported on segmented runs (--resume, --engine ray) yet")
        if not autorotate:
            # (the engines open their sources turned upright; threading the choice through
            # their segments, Ray tasks and resume keys is not done yet)
            raise ConfigError("--no-autorotate is not supported on segmented runs (--resume, --engine ray) yet")
        options = dict(segmented)
        engine = options.pop("engine", "local")
        if engine == "ray":
            from .engines.ray import run_ray as run_engine
        elif engine == "local":
            from .engines.local import run_segmented as run_engine

            for key in ("address", "workers"):
                if options.pop(key, None) is not None:
                    raise ConfigError(f"{key} applies to the ray engine (--engine ray)")
        else:
            raise ConfigError(f"engine must be local or ray (got {engine!r})")
        return run_engine(graph, input, output, device=device, on_error=on_error, progress=progress,
                          overwrite=overwrite, **options)
    sink = Output(output, graph.output, input=input, overwrite=overwrite).sink()  # checks before decoding
    source = Source(input, on_error=on_error, autorotate=autorotate, video_stream=video_stream,
                    audio=graph.output.audio != "none", subtitles=graph.output.subtitles != "none",
                    reads_meta=graph.reads_meta())
    if trim is not None:
        from .io.trim import Trimmed

        source = Trimmed(source, *trim)
    sink.attach_source(source)
    return Runtime(graph, source, sink, device=device, progress=progress).run()


def transcode_graph(*, scale: float | None = None, width: int | None = None, height: int | None = None,
                    interp: str = "bicubic", pix_fmt_convert: str | None = None, denoise: bool = False,
                    lowlight: str | None = None, sr: int | None = None, sr_method: str = "flow",
                    sr_adapt: int = 0, pose: bool = False, pose_overlay: bool = True, output: dict[str, Any] | None = None, device: str = "auto",
                    deinterlace: str = "off") -> Graph:
    """The graph ``vproc transcode`` runs, built from its flags (no flags: decode and re-encode).

    The order is the one of ``graphs/lowlight.yaml`` (denoise before the curve: measured better),
    then pose (on the enhanced frames, at the source's size: cheaper, and vsr and resize carry the
    keypoints along), then super-resolution (on the cleaned frames, as its back-projection would
    sharpen noise), then the resize, then the pose overlay (drawn at the output size: crisp lines);
    the enhancement nodes work on the source's pixels, not on more of them.
    ``lowlight`` is the lowlight node's method (``"curve"``, ``"net"`` or ``"linear"``) or None; ``sr`` the vsr scale,
    ``sr_method`` its method and ``sr_adapt`` its ``adapt`` steps (net only); ``pose`` adds the pose node, and the overlay node unless ``pose_overlay`` is false.
    ``deinterlace``: ``"off"`` (the default, as the ffmpeg CLI), ``"auto"`` (a ``deinterlace``
    node first, which deinterlaces only an interlaced source and passes a progressive one
    through untouched) or ``"on"`` (always deinterlace); first, so every later node sees whole
    frames and the decoder's field flags reach it.
    """
    if deinterlace not in ("off", "auto", "on"):
        raise ConfigError(f"deinterlace must be off, auto or on (got {deinterlace!r})")
    nodes: dict[str, dict] = {}
    last = "source"
    if deinterlace != "off":
        nodes["deinterlace"] = {"type": "deinterlace", "in": last, "params": {"mode": deinterlace}}
        last = "deinterlace"
    if denoise:
        nodes["denoise"] = {"type": "denoise", "in": last, "params": {"strength": "auto"}}
        last = "denoise"
    if lowlight is not None:
        # lowlight takes rgbpf32: the runtime inserts the convert (lowlight_in) by itself
        nodes["lowlight"] = {"type": "lowlight", "in": last, "params": {"method": lowlight}}
        last = "lowlight"
    if pose:
        nodes["pose"] = {"type": "pose", "in": last}
        last = "pose"
    if sr is not None:
        sr_params: dict[str, Any] = {"scale": sr, "method": sr_method}
        if sr_adapt:
            sr_params["adapt"] = sr_adapt
        nodes["vsr"] = {"type": "vsr", "in": last, "params": sr_params}
        last = "vsr"
    if scale is not None or width is not None or height is not None:
        params: dict[str, Any] = {"interp": interp}
        if scale is not None:
            params["scale"] = scale
        if width is not None:
            params["width"] = width
        if height is not None:
            params["height"] = height
        nodes["resize"] = {"type": "resize", "in": last, "params": params}
        last = "resize"
    if pose and pose_overlay:
        nodes["overlay"] = {"type": "overlay", "in": last}
        last = "overlay"
    if pix_fmt_convert is not None:
        nodes["convert"] = {"type": "convert", "in": last, "params": {"format": pix_fmt_convert}}
        last = "convert"
    out = {k: v for k, v in (output or {}).items() if v is not None}
    out["in"] = last
    return build_graph({"version": 1, "device": device, "nodes": nodes, "output": out}, name="transcode")
