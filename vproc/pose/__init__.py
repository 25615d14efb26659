"""Human pose: keypoint backends, identity tracking and keypoint smoothing for the ``pose`` node.

One job per module: :mod:`.people` (the meta types), :mod:`.layouts` (keypoint names and bones),
:mod:`.one_euro` (smoothing), :mod:`.tracker` (stable ids), :mod:`.backend` (the interface and
the crop geometry), :mod:`.mediapipe_backend` and :mod:`.onnx_backend` (the models),
:mod:`.detectors` (person boxes for top-down backends).
"""

from __future__ import annotations

import contextlib
import importlib
import os
import sys
import warnings
from types import ModuleType

from ..errors import ConfigError

#: The pose extra's install (mediapipe goes in without its declared dependencies: README, Pose extra).
INSTALL = "pip install -e '.[pose]' && pip install --no-deps mediapipe==0.10.14"


def require(module: str, who: str) -> ModuleType:
    """Import ``module`` (mediapipe, onnxruntime) for ``who``, or a ConfigError naming the install."""
    # MediaPipe's C++ logs (glog/absl) go to stderr at INFO unless told otherwise before loading.
    os.environ.setdefault("GLOG_minloglevel", "2")
    # mediapipe 0.10.14 calls a protobuf 4 API that warns on every frame; the call is theirs.
    warnings.filterwarnings("ignore", message="SymbolDatabase.GetPrototype", category=UserWarning)
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ConfigError(f"{who} needs {module}, which cannot be imported ({exc}); install with: {INSTALL}") from None


@contextlib.contextmanager
def quiet_stderr():
    """Silence file descriptor 2 for the block: MediaPipe's C++ side (TFLite, absl) prints
    INFO/WARNING lines straight to it when a graph loads and first runs, ignoring
    GLOG_minloglevel; warm-ups run in here so a run's terminal shows only vproc's own messages.
    Anything else written to stderr meanwhile is lost too: keep the block short."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
