"""vproc: video enhancement through graphs of CUDA/CPU nodes.

The Python API mirrors the command line::

    import vproc
    graph = vproc.load_graph("graphs/enhance.yaml", ["resize.scale=0.5"])
    stats = vproc.run(graph, "in.mp4", "out.mp4")

Names are imported lazily so that ``import vproc`` (and ``vproc --help``) stays fast.
"""

from __future__ import annotations

import importlib

from .allocator import tune as _tune_allocator

__version__ = "0.1.0"
_tune_allocator()  # frame buffers recycled, not mapped afresh every frame (vproc/allocator.py)

_EXPORTS = {
    "Frame": "vproc.frame", "StreamInfo": "vproc.frame", "ColorInfo": "vproc.frame",
    "Node": "vproc.node", "register": "vproc.registry",
    "Graph": "vproc.graph", "load_graph": "vproc.graph", "build_graph": "vproc.graph",
    "run": "vproc.pipeline", "transcode_graph": "vproc.pipeline", "RunStats": "vproc.runtime",
    "VprocError": "vproc.errors", "ConfigError": "vproc.errors", "MediaError": "vproc.errors",
    "DeviceError": "vproc.errors", "NodeError": "vproc.errors",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'vproc' has no attribute '{name}'")
