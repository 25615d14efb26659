"""Small torch networks used by the nodes; their trained weights live in ``vproc/weights/``.

Each module here imports torch at import time, so only nodes (and commands) that run a network
import one of them, inside the node's ``open()`` (or the command), never at package import.
"""

__all__ = ["vsrnet", "zerodce"]  # submodules (each imports torch: import them explicitly)
