"""Keypoint layouts: the names of the keypoints and the bones an overlay draws between them."""

from __future__ import annotations

#: MediaPipe BlazePose's 33 landmarks, in the model's order.
BLAZEPOSE_NAMES = (
    "nose", "left_eye_inner", "left_eye", "left_eye_outer", "right_eye_inner", "right_eye",
    "right_eye_outer", "left_ear", "right_ear", "mouth_left", "mouth_right", "left_shoulder",
    "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_pinky",
    "right_pinky", "left_index", "right_index", "left_thumb", "right_thumb", "left_hip",
    "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle", "left_heel",
    "right_heel", "left_foot_index", "right_foot_index",
)

#: BlazePose's connections (MediaPipe's ``POSE_CONNECTIONS``), sorted.
BLAZEPOSE_BONES = (
    (0, 1), (0, 4), (1, 2), (2, 3), (3, 7), (4, 5), (5, 6), (6, 8), (9, 10), (11, 12), (11, 13),
    (11, 23), (12, 14), (12, 24), (13, 15), (14, 16), (15, 17), (15, 19), (15, 21), (16, 18),
    (16, 20), (16, 22), (17, 19), (18, 20), (23, 24), (23, 25), (24, 26), (25, 27), (26, 28),
    (27, 29), (27, 31), (28, 30), (28, 32), (29, 31), (30, 32),
)

#: The COCO-17 keypoints (the layout of most top-down ONNX pose models: HRNet, RTMPose, ViTPose).
COCO17_NAMES = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder",
    "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip",
    "left_knee", "right_knee", "left_ankle", "right_ankle",
)

COCO17_BONES = (
    (0, 1), (0, 2), (1, 3), (2, 4), (5, 6), (5, 7), (7, 9), (6, 8), (8, 10), (5, 11), (6, 12),
    (11, 12), (11, 13), (13, 15), (12, 14), (14, 16),
)


def layout_for(count: int, names: tuple[str, ...] | None = None) -> tuple[tuple[str, ...], tuple[tuple[int, int], ...]]:
    """Names and bones for ``count`` keypoints: ``names`` when given (no bones unless the names
    are a known layout), COCO-17 for 17, BlazePose for 33, else ``kp0..kp{count-1}``."""
    if names:
        names = tuple(names)
        for known, bones in ((COCO17_NAMES, COCO17_BONES), (BLAZEPOSE_NAMES, BLAZEPOSE_BONES)):
            if names == known:
                return names, bones
        return names, ()
    if count == 17:
        return COCO17_NAMES, COCO17_BONES
    if count == 33:
        return BLAZEPOSE_NAMES, BLAZEPOSE_BONES
    return tuple(f"kp{i}" for i in range(count)), ()
