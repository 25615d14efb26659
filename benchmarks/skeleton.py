"""Skeleton benchmark: the ``pose`` node on real street video, and ``thin`` against scikit-image.

    python benchmarks/skeleton.py [--pose-frames N] [--thin-masks N] [--skip-pose] [--skip-thin]
                                  [--cuda] [--json out/skeleton.json]

Both parts run in one process, peers side by side on the same inputs, and print their tables.

**Pose.** Videos (read from ``../shared/data``, never copied): ``openpose_video/video.avi``
(1280x720, 50 fps, 205 frames, a street with several pedestrians) and ``vtest_480p/vtest.avi``
(480x360, 10 fps, 795 frames, pedestrians seen from above), the first ``--pose-frames`` of each
(default 200), decoded once by vproc's Source, as a graph gets them (yuv420p; decoding not
timed). Methods:

- ``vproc pose``: the ``pose`` node with its defaults (MediaPipe BlazePose full per person, person
  detector, tracking, One-Euro smoothing), driven directly: ``process`` per frame then ``flush``,
  timed after one warm-up frame on a separate node (model loading not timed).
- ``vproc pose, raw``: the same node with smoothing off, run first; its per-track keypoints are the
  raw signal the jitter/lag columns compare against (the detector and the tracks are the same:
  smoothing runs after them, so the two runs see the same people).
- ``MediaPipe Pose``: the stock single-person solution (``mediapipe.solutions.pose.Pose``, model
  complexity 1 = the same full landmark model, its own landmark smoothing on), on the RGB frames
  (the conversion is timed for it, as the node's is), with its smoothing off and on. It follows
  one person and may jump to another between frames; its jitter includes such jumps (its track
  is all one id), so it is a reference for speed and for what its own smoothing does, not a
  like-for-like jitter figure.

Columns: fps (frames per second of processing on this CPU); people/frame (mean and max, with
keypoints: people whose mean keypoint confidence is at least 0.5); jitter: the mean keypoint
acceleration ``|p[t+1] - 2 p[t] + p[t-1]|`` in pixels per frame squared, over every keypoint with
confidence >= 0.5 on three consecutive frames of the same track id; reduction: raw jitter / this
jitter; lag: the time shift (ms) that best aligns each smoothed keypoint track with its raw track
(least squares over shifts in 0.1-frame steps, linear interpolation, tracks of 10+ frames),
averaged over tracks: how late the smoothing is.

**Thinning.** ``--thin-masks`` (default 3) 1920x1080 masks of each kind: ``blobs`` (smooth random
noise thresholded at its median: thick shapes, the thinning's heavy case), ``edges`` (Canny edges
of an openpose_video frame resized to 1080p, dilated 3x3: thin lines) and ``otsu`` (the same
frames' luma thresholded by Otsu: large irregular regions). Each mask thinned by vproc's numba
twin (``vproc.kernels.thin``; compiled beforehand) and by ``skimage.morphology.skeletonize(mask,
method="zhang")``; best of 3 runs each; agreement = identical output (pixel for pixel). With
``--cuda`` the CUDA kernel too (mask uploaded beforehand, timed until the GPU has finished).

Targets (issue 6): pose 15 fps or more at 720p with up to 3 people; jitter halved or better by the
smoothing; thinning twin within 2x of scikit-image's time and identical output.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from vproc.kernels.thin import thin  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
VIDEOS = (("openpose_video 720p", DATA / "openpose_video" / "video.avi"),
          ("vtest 480p", DATA / "vtest_480p" / "vtest.avi"))
POSE_FPS, JITTER_REDUCTION, THIN_RATIO = 15.0, 2.0, 2.0
CONFIDENT = 0.5


# ---------------------------------------------------------------------------------------------
# Thinning


def thin_masks(count: int) -> list[tuple[str, np.ndarray]]:
    """1080p masks of three kinds (see the module docstring)."""
    masks = []
    rng = np.random.default_rng(0)
    for i in range(count):
        noise = cv2.GaussianBlur(rng.random((1080, 1920), dtype=np.float32), (0, 0), 12 + 6 * i)
        masks.append(("blobs", (noise > np.median(noise)).astype(np.uint8)))
    frames = decode(VIDEOS[0][1], count, step=60)
    for frame in frames:
        grey = cv2.resize(rgb_of(frame), (1920, 1080), interpolation=cv2.INTER_CUBIC)
        grey = cv2.cvtColor(grey, cv2.COLOR_RGB2GRAY)
        edges = cv2.dilate(cv2.Canny(grey, 60, 160), np.ones((3, 3), np.uint8))
        masks.append(("edges", (edges > 0).astype(np.uint8)))
        _, otsu = cv2.threshold(grey, 0, 1, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
        masks.append(("otsu", otsu.astype(np.uint8)))
    return masks


def best_of(fn, repeat: int = 3) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t0)
    return best, result


def bench_thin(count: int, cuda: bool) -> list[dict]:
    from skimage.morphology import skeletonize

    thin(np.ones((8, 8), np.uint8))  # numba compiled outside the timing
    rows = []
    for kind, mask in thin_masks(count):
        t_twin, ours = best_of(lambda: thin(mask))
        t_sk, ref = best_of(lambda: skeletonize(mask.astype(bool), method="zhang"))
        row = {"mask": kind, "foreground": float(mask.mean()), "twin_ms": 1000 * t_twin,
               "skimage_ms": 1000 * t_sk, "identical": bool(np.array_equal(ours.astype(bool), ref))}
        if cuda:
            import cupy as cp

            dev = cp.asarray(mask)
            thin(dev)
            cp.cuda.Device().synchronize()

            def on_gpu():
                out = thin(dev)
                cp.cuda.Device().synchronize()
                return out

            t_gpu, g = best_of(on_gpu)
            row["cuda_ms"] = 1000 * t_gpu
            row["cuda_identical"] = bool(np.array_equal(cp.asnumpy(g), ours))
        rows.append(row)
    return rows


def print_thin(rows: list[dict]) -> None:
    print("\n## Thinning, 1920x1080 masks (best of 3; numba twin vs scikit-image skeletonize zhang)\n")
    cuda = "cuda_ms" in rows[0]
    head = "| mask | foreground | vproc twin ms | scikit-image ms | twin / skimage time | identical |"
    if cuda:
        head += " CUDA ms | CUDA identical |"
    print(head)
    print("|" + "---|" * (head.count("|") - 1))
    for r in rows:
        line = (f"| {r['mask']} | {100 * r['foreground']:.1f}% | {r['twin_ms']:.1f} | {r['skimage_ms']:.1f} | "
                f"{r['twin_ms'] / r['skimage_ms']:.2f} | {'yes' if r['identical'] else 'NO'} |")
        if cuda:
            line += f" {r['cuda_ms']:.2f} | {'yes' if r['cuda_identical'] else 'NO'} |"
        print(line)
    worst = max(r["twin_ms"] / r["skimage_ms"] for r in rows)
    same = all(r["identical"] for r in rows)
    print(f"\ntarget: twin within {THIN_RATIO:g}x of scikit-image's time (worst {worst:.2f}x: "
          f"{'met' if worst <= THIN_RATIO else 'NOT met'}); identical output ({'met' if same else 'NOT met'})")


# ---------------------------------------------------------------------------------------------
# Decoding


def decode(path: Path, count: int, step: int = 1) -> list:
    """The first ``count`` frames (every ``step``-th) as vproc's Source delivers them to a graph
    (yuv420p here, with its presentation times: AVI files with B-frames carry shuffled pts, which
    the Source repairs as FFmpeg's best-effort timestamps do; raw PyAV pts would feed the
    smoothing a clock that runs backwards)."""
    from vproc.frame import Frame
    from vproc.io.source import Source

    frames = []
    with Source(str(path), audio=False, subtitles=False) as src:
        index = 0
        for item in src.items():
            if not isinstance(item, Frame):
                continue
            if index % step == 0:
                frames.append(item.with_data(tuple(p.copy() for p in item.planes)))
            index += 1
            if len(frames) == count:
                break
    if any(b.pts <= a.pts for a, b in zip(frames, frames[1:])):
        raise RuntimeError(f"{path}: timestamps do not increase")
    return frames


def rgb_of(frame) -> np.ndarray:
    y, u, v = frame.planes
    yuv = np.concatenate([y, u.reshape(-1, y.shape[1]), v.reshape(-1, y.shape[1])])
    return cv2.cvtColor(yuv, cv2.COLOR_YUV2RGB_I420)


# ---------------------------------------------------------------------------------------------
# Pose


def run_node(frames: list, **params) -> tuple[float, list, dict]:
    """Seconds the pose node spends on ``frames`` (after a warm-up frame on a separate node), the
    People of every frame, and the node's summary."""
    from vproc.frame import StreamInfo
    from vproc.nodes.pose import Pose, PoseParams
    from vproc.params import build_params

    f0 = frames[0]
    info = StreamInfo(f0.width, f0.height, f0.format, f0.time_base, rate=Fraction(1) / f0.time_base / max(frames[1].pts - f0.pts, 1))
    warm = Pose(build_params(PoseParams, params, "pose"), "cpu", "pose")
    warm.open(info)
    warm.process(f0)
    warm.close()
    node = Pose(build_params(PoseParams, params, "pose"), "cpu", "pose")
    node.open(info)
    out = []
    try:
        t0 = time.perf_counter()
        for f in frames:
            out += node.process(f)
        out += node.flush()
        spent = time.perf_counter() - t0
        summary = node.summary
    finally:
        node.close()
    if [o.pts for o in out] != [f.pts for f in frames]:
        raise RuntimeError("the pose node did not return one frame per frame with its pts")
    return spent, [o.meta["people"] for o in out], summary


def tracks_of(people_per_frame: list) -> dict[int, dict[int, np.ndarray]]:
    """id -> {frame index: (K, 3) keypoints}."""
    tracks: dict[int, dict[int, np.ndarray]] = {}
    for t, people in enumerate(people_per_frame):
        for p in people:
            tracks.setdefault(p.id, {})[t] = np.asarray(p.keypoints, np.float64)
    return tracks


def jitter(tracks: dict) -> float:
    """Mean |p[t+1] - 2 p[t] + p[t-1]| (px/frame^2) over confident keypoints of three consecutive
    frames of the same id."""
    acc = []
    for track in tracks.values():
        for t, kp in track.items():
            a, c = track.get(t - 1), track.get(t + 1)
            if a is None or c is None:
                continue
            sure = (a[:, 2] >= CONFIDENT) & (kp[:, 2] >= CONFIDENT) & (c[:, 2] >= CONFIDENT)
            acc.extend(np.linalg.norm(c[sure, :2] - 2 * kp[sure, :2] + a[sure, :2], axis=1))
    return float(np.mean(acc)) if acc else float("nan")


def lag_frames(raw: dict, smooth: dict) -> float:
    """Mean over tracks (runs of 10+ consecutive frames) of the shift tau in 0..5 frames (0.1
    steps) minimising the squared distance between smoothed p(t) and raw p(t - tau) over the
    track's confident keypoints."""
    lags = []
    shifts = np.arange(0, 5.01, 0.1)
    for pid, rtrack in raw.items():
        strack = smooth.get(pid, {})
        frames = sorted(set(rtrack) & set(strack))
        runs, cur = [], []
        for t in frames:
            if cur and t != cur[-1] + 1:
                runs.append(cur)
                cur = []
            cur.append(t)
        runs.append(cur)
        for run in runs:
            if len(run) < 10:
                continue
            r = np.stack([rtrack[t] for t in run])
            s = np.stack([strack[t] for t in run])
            sure = (r[:, :, 2] >= CONFIDENT).all(axis=0)
            if not sure.any():
                continue
            r, s = r[:, sure, :2], s[:, sure, :2]
            idx = np.arange(len(run), dtype=np.float64)
            errors = []
            for tau in shifts:
                src = idx - tau
                ok = src >= 0
                lo = np.floor(src[ok]).astype(int)
                hi = np.minimum(lo + 1, len(run) - 1)
                w = (src[ok] - lo)[:, None, None]
                shifted = (1 - w) * r[lo] + w * r[hi]
                errors.append(float(np.mean(np.sum((s[ok] - shifted) ** 2, axis=-1))))
            lags.append(float(shifts[int(np.argmin(errors))]))
    return float(np.mean(lags)) if lags else float("nan")


def mediapipe_pose(frames: list, smooth: bool) -> tuple[float, list]:
    """The stock single-person MediaPipe Pose (full model) over the frames: seconds, and per frame
    a list with its one person's (33, 3) keypoints in pixels (empty when it found nobody)."""
    from vproc.pose import quiet_stderr, require

    require("mediapipe", "benchmark")
    from mediapipe.python.solutions.pose import Pose

    rgbs = frames  # converted inside the timing, as the node converts
    with quiet_stderr():
        warm = Pose(static_image_mode=False, model_complexity=1, smooth_landmarks=smooth)
        warm.process(rgb_of(frames[0]))
        warm.close()
    solution = Pose(static_image_mode=False, model_complexity=1, smooth_landmarks=smooth)
    out = []
    t0 = time.perf_counter()
    for f in rgbs:
        rgb = rgb_of(f)
        res = solution.process(rgb)
        if res.pose_landmarks is None:
            out.append([])
            continue
        h, w = rgb.shape[:2]
        # The solution fills visibility only (presence is 0 in its output).
        kp = np.array([(lm.x * w, lm.y * h, lm.visibility) for lm in res.pose_landmarks.landmark])
        out.append([kp])
    spent = time.perf_counter() - t0
    solution.close()
    return spent, out


class _Single:
    """A person with id 0, for the single-person peer's tracks."""

    def __init__(self, kp):
        self.id, self.keypoints = 0, kp


def bench_pose(count: int) -> list[dict]:
    rows = []
    for name, path in VIDEOS:
        frames = decode(path, count)
        n = len(frames)
        t_raw, raw_people, _ = run_node(frames, smoothing=False)
        t_node, people, summary = run_node(frames)
        same = sum(sorted((p.id, tuple(np.round(p.box, 3))) for p in a) == sorted((p.id, tuple(np.round(p.box, 3))) for p in b)
                   for a, b in zip(raw_people, people))
        raw_tracks, tracks = tracks_of(raw_people), tracks_of(people)
        counts = [sum(1 for p in ps if np.mean(p.keypoints[:, 2]) >= CONFIDENT) for ps in people]
        j_raw, j = jitter(raw_tracks), jitter(tracks)
        base = {"video": name, "size": f"{frames[0].width}x{frames[0].height}", "frames": n}
        rows.append({**base, "method": "vproc pose, raw (smoothing off)", "fps": n / t_raw, "jitter": j_raw,
                     "people_mean": float(np.mean(counts)), "people_max": int(max(counts)), "ids": len(raw_tracks)})
        rows.append({**base, "method": "vproc pose (defaults)", "fps": n / t_node, "jitter": j,
                     "reduction": j_raw / j, "lag_ms": 1000 * lag_frames(raw_tracks, tracks) * float(frames[1].time - frames[0].time),
                     "people_mean": float(np.mean(counts)), "people_max": int(max(counts)), "ids": len(tracks),
                     "same_detections": same / n, "summary": summary})
        for smooth in (False, True):
            t_mp, found = mediapipe_pose(frames, smooth)
            mp_tracks = tracks_of([[_Single(kp) for kp in f] for f in found])
            row = {**base, "method": f"MediaPipe Pose (1 person{', own smoothing' if smooth else ', smoothing off'})",
                   "fps": n / t_mp, "jitter": jitter(mp_tracks),
                   "people_mean": float(np.mean([len(f) for f in found])), "people_max": max(len(f) for f in found), "ids": 1}
            if smooth:
                raw_mp = rows[-1]
                row["reduction"] = raw_mp["jitter"] / row["jitter"]
                row["lag_ms"] = 1000 * lag_frames(raw_mp["_tracks"], mp_tracks) * float(frames[1].time - frames[0].time)
            else:
                row["_tracks"] = mp_tracks
            rows.append(row)
        rows[-2].pop("_tracks")
    return rows


def print_pose(rows: list[dict]) -> None:
    print("\n## Pose (this CPU; node time only, decoding not timed)\n")
    print("| video | method | fps | people/frame mean (max) | ids | jitter px/frame^2 | jitter reduction | lag ms |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        red = f"{r['reduction']:.2f}x" if "reduction" in r else ""
        lag = f"{r['lag_ms']:.0f}" if "lag_ms" in r else ""
        print(f"| {r['video']} {r['size']} | {r['method']} | {r['fps']:.1f} | {r['people_mean']:.2f} ({r['people_max']}) | "
              f"{r['ids']} | {r['jitter']:.2f} | {red} | {lag} |")
    for r in rows:
        if "same_detections" in r:
            print(f"\n{r['video']}: raw and smoothed runs saw the same people (ids, boxes) in "
                  f"{100 * r['same_detections']:.0f}% of frames; node summary: {r['summary']}")
    for r in rows:
        if r["method"] == "vproc pose (defaults)":
            fps_ok = r["fps"] >= POSE_FPS if r["size"] == "1280x720" else None
            print(f"target {r['video']}: jitter halved or better: {r['reduction']:.2f}x "
                  f"({'met' if r['reduction'] >= JITTER_REDUCTION else 'NOT met'})"
                  + (f"; {POSE_FPS:g} fps at 720p: {r['fps']:.1f} ({'met' if fps_ok else 'NOT met'})" if fps_ok is not None else ""))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pose-frames", type=int, default=200)
    ap.add_argument("--thin-masks", type=int, default=3)
    ap.add_argument("--skip-pose", action="store_true")
    ap.add_argument("--skip-thin", action="store_true")
    ap.add_argument("--cuda", action="store_true", help="also time the CUDA thinning kernel")
    ap.add_argument("--json", type=Path, help="write the rows here too")
    args = ap.parse_args()
    print(f"# skeleton benchmark: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at start")
    result = {}
    if not args.skip_pose:
        result["pose"] = bench_pose(args.pose_frames)
        print_pose(result["pose"])
    if not args.skip_thin:
        result["thin"] = bench_thin(args.thin_masks, args.cuda)
        print_thin(result["thin"])
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2, default=str))


if __name__ == "__main__":
    main()
