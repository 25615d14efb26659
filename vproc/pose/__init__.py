"""Human pose: keypoint backends, identity tracking and keypoint smoothing for the ``pose`` node.

One job per module: :mod:`.people` (the meta types), :mod:`.layouts` (keypoint names and bones),
:mod:`.one_euro` (smoothing), :mod:`.tracker` (stable ids), :mod:`.backend` (the interface and
the crop geometry), :mod:`.mediapipe_backend` and :mod:`.onnx_backend` (the models),
:mod:`.detectors` (person boxes for top-down backends).
"""
