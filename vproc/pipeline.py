"""The library calls behind the commands: run a graph on a file, build a graph from flags."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .errors import ConfigError
from .graph import Graph, build_graph, load_graph
from .runtime import RunStats, Runtime


def run(graph: Graph | str | Path, input: str, output: str, *, sets: list[str] | tuple[str, ...] = (),
        device: str | None = None, on_error: str = "stop", progress=None, overwrite: bool = True,
        segmented: dict[str, Any] | None = None) -> RunStats:
    """Decode ``input``, run it through ``graph`` and encode ``output``; returns the statistics.

    ``graph`` is a :class:`Graph` or the path of a YAML file; ``sets`` are ``node.param=value``
    overrides; ``progress`` is called as ``progress(frames_done, frames_expected)``.
    ``segmented``: run segment by segment with resume (:func:`vproc.engines.local.run_segmented`),
    these being its options (``segment_seconds``, ``work_dir``, ``resume_``, ``keep_work``), and
    ``engine``: ``"local"`` (default) or ``"ray"`` (:func:`vproc.engines.ray.run_ray`, which also
    takes ``address`` and ``workers``).
    """
    from .io.sidecar import SidecarWriter, WithSidecar
    from .io.sink import FFmpegSink
    from .io.source import Source

    if not isinstance(graph, Graph):
        graph = load_graph(graph, sets)
    elif sets:
        raise ConfigError("overrides apply when the graph is loaded: pass sets to load_graph()")
    if device is not None and device not in ("auto", "cpu", "cuda"):
        raise ConfigError(f"device must be auto, cpu or cuda (got {device!r})")
    if Path(input).resolve() == Path(output).resolve():
        raise ConfigError(f"output '{output}' would overwrite the input")
    if segmented is not None:
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
    sink = FFmpegSink(output, graph.output, overwrite=overwrite, source_url=input)  # checks before decoding
    if graph.output.skeleton is not None:
        # relative: next to the video; {stem} is the video's name without its extension
        sidecar = Path(output).parent / graph.output.skeleton.replace("{stem}", Path(output).stem)
        if sidecar.resolve() in (Path(input).resolve(), Path(output).resolve()):
            raise ConfigError(f"sidecar '{sidecar}' would overwrite the {'input' if sidecar.resolve() == Path(input).resolve() else 'output video'}")
        sink = WithSidecar(sink, SidecarWriter(sidecar))
    source = Source(input, on_error=on_error,
                    audio=graph.output.audio != "none", subtitles=graph.output.subtitles != "none")
    sink.attach_passthrough(source.passthrough)
    return Runtime(graph, source, sink, device=device, progress=progress).run()


def transcode_graph(*, scale: float | None = None, width: int | None = None, height: int | None = None,
                    interp: str = "bicubic", pix_fmt_convert: str | None = None, denoise: bool = False,
                    lowlight: str | None = None, sr: int | None = None, sr_method: str = "flow",
                    sr_adapt: int = 0, pose: bool = False, pose_overlay: bool = True, output: dict[str, Any] | None = None, device: str = "auto") -> Graph:
    """The graph ``vproc transcode`` runs, built from its flags (no flags: decode and re-encode).

    The order is the one of ``graphs/lowlight.yaml`` (denoise before the curve: measured better),
    then pose (on the enhanced frames, at the source's size: cheaper, and vsr and resize carry the
    keypoints along), then super-resolution (on the cleaned frames, as its back-projection would
    sharpen noise), then the resize, then the pose overlay (drawn at the output size: crisp lines);
    the enhancement nodes work on the source's pixels, not on more of them.
    ``lowlight`` is the curve method (``"curve"`` or ``"net"``) or None; ``sr`` the vsr scale,
    ``sr_method`` its method and ``sr_adapt`` its ``adapt`` steps (net only); ``pose`` adds the pose node, and the overlay node unless ``pose_overlay`` is false.
    """
    nodes: dict[str, dict] = {}
    last = "source"
    if denoise:
        nodes["denoise"] = {"type": "denoise", "in": last, "params": {"strength": "auto"}}
        last = "denoise"
    if lowlight is not None:
        nodes["rgb"] = {"type": "convert", "in": last, "params": {"format": "rgbpf32"}}
        nodes["lowlight"] = {"type": "lowlight", "in": "rgb", "params": {"method": lowlight}}
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
