"""Kernel benchmark: each op's numba twin vs its OpenCV equivalent; CUDA vs twin vs torch on a GPU.

    python benchmarks/kernels.py [--sizes 720p,1080p] [--repeat 9] [--threads N]

CPU: every op runs on planar float32 frames (``(3, H, W)``, luma alone for local statistics);
OpenCV gets the same pixels in its own fastest layout (interleaved ``(H, W, 3)``), with its
default build (IPP on). Both are warmed up first (numba compile time is excluded), then timed
alternately, ``--repeat`` times each, and the median wall time per frame is reported with the
ratio twin / OpenCV (target: <= 1.5). Both use the same number of threads (``--threads``, default:
all cores). Output buffers are allocated per call on both sides, as a plain call would.

Equivalents: YUV->RGB is ``cv2.cvtColor(COLOR_YUV2RGB_I420)``, BT.601 limited and 8-bit only; it
writes uint8 interleaved RGB, a quarter of the bytes of float32 planar, so a second row adds the
float conversion that gives the twin's output. RGB->YUV likewise (``COLOR_RGB2YUV_I420`` from uint8,
then with the float->uint8 conversion). Warp compares with ``cv2.remap`` on maps built beforehand
(not timed). Local statistics are two ``cv2.blur`` calls plus the products and difference.

CUDA (only when CuPy sees a GPU): each op on CuPy arrays vs the twin and vs torch's equivalent
(``interpolate``, ``conv2d`` for the blurs and statistics, ``grid_sample`` for warp), timed with
CUDA events, plus a 1080p chain YUV->RGB->resize x2->YUV in frames/s, transfers excluded.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import cv2
import numba
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from vproc.device import cuda_status  # noqa: E402
from vproc.kernels import (box_blur, gaussian_blur, local_mean_var, resize, rgb_to_yuv,  # noqa: E402
                           warp, yuv_to_rgb)
from vproc.kernels.blur import gaussian_kernel, gaussian_ksize  # noqa: E402

SIZES = {"480p": (480, 854), "720p": (720, 1280), "1080p": (1080, 1920)}
REPLICATE = dict(borderType=cv2.BORDER_REPLICATE)
SIGMA = 1.5  # -> 13 taps (OpenCV's size rule for float images)


def frames(h: int, w: int, seed: int = 0):
    """A smooth-plus-noise RGB frame in [0, 1] (planar and interleaved), its YUV and a flow."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    base = np.stack([0.5 + 0.4 * np.sin(xx / 37 + c) * np.cos(yy / 23 - c) for c in range(3)])
    rgb = np.clip(base + rng.normal(0, 0.03, base.shape), 0, 1).astype(np.float32)
    hwc = np.ascontiguousarray(rgb.transpose(1, 2, 0))
    flow = rng.uniform(-4, 4, (h, w, 2)).astype(np.float32)
    return rgb, hwc, flow


def timed_pair(a, b, repeat: int) -> tuple[float, float]:
    """Median ms of ``a`` and ``b``, run alternately after two warm-up calls each."""
    for _ in range(2):
        a()
        b()
    ta, tb = [], []
    for _ in range(repeat):
        t0 = time.perf_counter()
        a()
        ta.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        b()
        tb.append(time.perf_counter() - t0)
    return statistics.median(ta) * 1e3, statistics.median(tb) * 1e3


def cpu_cases(h: int, w: int):
    """(op, twin call, OpenCV call, what OpenCV runs) for one frame size."""
    rgb, hwc, flow = frames(h, w)
    y, u, v = rgb_to_yuv(rgb, matrix="bt601", full_range=False, bits=8)
    i420 = np.concatenate([y.ravel(), u.ravel(), v.ravel()]).reshape(h * 3 // 2, w)
    rgb8 = cv2.cvtColor(i420, cv2.COLOR_YUV2RGB_I420)
    luma = rgb[0].copy()
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    mapx, mapy = gx + flow[..., 0], gy + flow[..., 1]
    scale = np.float32(1 / 255)

    def cv_yuv_float():
        return np.multiply(cv2.cvtColor(i420, cv2.COLOR_YUV2RGB_I420).transpose(2, 0, 1), scale, dtype=np.float32)

    def cv_rgb_from_float():
        q = cv2.convertScaleAbs(hwc, alpha=255.0)  # float -> uint8 with rounding and saturation
        return cv2.cvtColor(q, cv2.COLOR_RGB2YUV_I420)

    def cv_stats():
        m = cv2.blur(luma, (5, 5), **REPLICATE)
        return m, cv2.blur(luma * luma, (5, 5), **REPLICATE) - m * m

    yuv_twin = lambda: yuv_to_rgb(y, u, v, matrix="bt601", full_range=False, bits=8)  # noqa: E731
    rgb_twin = lambda: rgb_to_yuv(rgb, matrix="bt601", full_range=False, bits=8)  # noqa: E731
    dh, dw = h * 2 // 3, w * 2 // 3
    return [
        ("yuv420p -> RGB", yuv_twin, lambda: cv2.cvtColor(i420, cv2.COLOR_YUV2RGB_I420),
         "cvtColor YUV2RGB_I420 (u8 out)"),
        ("yuv420p -> RGB", yuv_twin, cv_yuv_float, "cvtColor + to float32 planar"),
        ("RGB -> yuv420p", rgb_twin, lambda: cv2.cvtColor(rgb8, cv2.COLOR_RGB2YUV_I420),
         "cvtColor RGB2YUV_I420 (u8 in)"),
        ("RGB -> yuv420p", rgb_twin, cv_rgb_from_float, "float -> u8 + cvtColor"),
        ("resize x2 bicubic", lambda: resize(rgb, 2 * h, 2 * w, "bicubic"),
         lambda: cv2.resize(hwc, (2 * w, 2 * h), interpolation=cv2.INTER_CUBIC), "resize INTER_CUBIC"),
        ("resize x2 bilinear", lambda: resize(rgb, 2 * h, 2 * w, "bilinear"),
         lambda: cv2.resize(hwc, (2 * w, 2 * h), interpolation=cv2.INTER_LINEAR), "resize INTER_LINEAR"),
        ("resize x2/3 bicubic", lambda: resize(rgb, dh, dw, "bicubic"),
         lambda: cv2.resize(hwc, (dw, dh), interpolation=cv2.INTER_CUBIC), "resize INTER_CUBIC"),
        (f"gaussian sigma {SIGMA}", lambda: gaussian_blur(rgb, SIGMA),
         lambda: cv2.GaussianBlur(hwc, (0, 0), SIGMA, **REPLICATE), "GaussianBlur"),
        ("box 5x5", lambda: box_blur(rgb, 5), lambda: cv2.blur(hwc, (5, 5), **REPLICATE), "blur"),
        ("local mean/var 5x5 (luma)", lambda: local_mean_var(luma, 5), cv_stats, "2 x blur + products"),
        ("warp (flow, bilinear)", lambda: warp(rgb, flow),
         lambda: cv2.remap(hwc, mapx, mapy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE), "remap INTER_LINEAR"),
    ]


def run_cpu(sizes, repeat: int) -> list[tuple]:
    rows = []
    for name in sizes:
        h, w = SIZES[name]
        for op, twin, ref, what in cpu_cases(h, w):
            t_twin, t_cv = timed_pair(twin, ref, repeat)
            rows.append((op, name, t_twin, t_cv, t_twin / t_cv, what))
    return rows


def print_cpu(rows) -> None:
    print("| op | size | twin ms | OpenCV ms | twin/OpenCV | OpenCV call | <= 1.5x |")
    print("|---|---|---:|---:|---:|---|:---:|")
    for op, size, t_twin, t_cv, ratio, what in rows:
        met = "yes" if ratio <= 1.5 else "no"
        print(f"| {op} | {size} | {t_twin:.2f} | {t_cv:.2f} | {ratio:.2f} | {what} | {met} |")


# ---------------------------------------------------------------------------------------------
# CUDA (not reachable without a GPU)


def gpu_ms(cp, fn, repeat: int) -> float:
    """Mean ms per call of ``fn`` over ``repeat`` calls, by CUDA events, after a warm-up."""
    fn()
    cp.cuda.Device().synchronize()
    start, end = cp.cuda.Event(), cp.cuda.Event()
    start.record()
    for _ in range(repeat):
        fn()
    end.record()
    end.synchronize()
    return cp.cuda.get_elapsed_time(start, end) / repeat


def torch_cases(cp, rgb_d, luma_d, flow_d, h, w):
    """torch equivalents on the same device memory (DLPack, no copies), or {} without CUDA torch."""
    try:
        import torch
        import torch.nn.functional as F
    except ImportError:
        return {}
    if not torch.cuda.is_available():
        return {}
    x = torch.from_dlpack(rgb_d)[None]  # (1, 3, H, W), shares the CuPy buffer
    lum = torch.from_dlpack(luma_d)[None, None]
    fl = torch.from_dlpack(flow_d)
    g1 = torch.from_numpy(gaussian_kernel(gaussian_ksize(SIGMA), SIGMA).copy()).cuda()
    kh, kv = g1.view(1, 1, 1, -1).repeat(3, 1, 1, 1), g1.view(1, 1, -1, 1).repeat(3, 1, 1, 1)
    r = g1.numel() // 2
    box = torch.ones(3, 1, 5, 5, device="cuda") / 25
    box1 = torch.ones(1, 1, 5, 5, device="cuda") / 25
    ys, xs = torch.meshgrid(torch.arange(h, device="cuda"), torch.arange(w, device="cuda"), indexing="ij")
    grid = torch.stack([(xs + fl[..., 0]) / (w - 1) * 2 - 1, (ys + fl[..., 1]) / (h - 1) * 2 - 1], -1)[None]

    def gauss():
        p = F.pad(x, (r, r, r, r), mode="replicate")
        return F.conv2d(F.conv2d(p, kh, groups=3), kv, groups=3)

    def stats():
        p = F.pad(torch.cat([lum, lum * lum], 1), (2, 2, 2, 2), mode="replicate")
        s = F.conv2d(p, box1.repeat(2, 1, 1, 1), groups=2)
        return s[:, :1], s[:, 1:] - s[:, :1] ** 2

    return {
        "resize x2 bicubic": lambda: F.interpolate(x, scale_factor=2, mode="bicubic", align_corners=False),
        "resize x2 bilinear": lambda: F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False),
        f"gaussian sigma {SIGMA}": gauss,
        "box 5x5": lambda: F.conv2d(F.pad(x, (2, 2, 2, 2), mode="replicate"), box, groups=3),
        "local mean/var 5x5 (luma)": stats,
        "warp (flow, bilinear)": lambda: F.grid_sample(x, grid, mode="bilinear", padding_mode="border",
                                                       align_corners=True),
    }


def run_cuda(sizes, repeat: int) -> None:
    import cupy as cp

    print("\n| op | size | CUDA ms | twin ms | twin/CUDA | torch ms | torch/CUDA |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for name in sizes:
        h, w = SIZES[name]
        rgb, _, flow = frames(h, w)
        y, u, v = rgb_to_yuv(rgb, matrix="bt601", full_range=False, bits=8)
        rgb_d, flow_d, luma_d = cp.asarray(rgb), cp.asarray(flow), cp.asarray(rgb[0])
        y_d, u_d, v_d = cp.asarray(y), cp.asarray(u), cp.asarray(v)
        yuv = dict(matrix="bt601", full_range=False, bits=8)
        cases = [
            ("yuv420p -> RGB", lambda: yuv_to_rgb(y_d, u_d, v_d, **yuv), lambda: yuv_to_rgb(y, u, v, **yuv)),
            ("RGB -> yuv420p", lambda: rgb_to_yuv(rgb_d, **yuv), lambda: rgb_to_yuv(rgb, **yuv)),
            ("resize x2 bicubic", lambda: resize(rgb_d, 2 * h, 2 * w), lambda: resize(rgb, 2 * h, 2 * w)),
            ("resize x2 bilinear", lambda: resize(rgb_d, 2 * h, 2 * w, "bilinear"),
             lambda: resize(rgb, 2 * h, 2 * w, "bilinear")),
            (f"gaussian sigma {SIGMA}", lambda: gaussian_blur(rgb_d, SIGMA), lambda: gaussian_blur(rgb, SIGMA)),
            ("box 5x5", lambda: box_blur(rgb_d, 5), lambda: box_blur(rgb, 5)),
            ("local mean/var 5x5 (luma)", lambda: local_mean_var(luma_d, 5), lambda: local_mean_var(rgb[0], 5)),
            ("warp (flow, bilinear)", lambda: warp(rgb_d, flow_d), lambda: warp(rgb, flow)),
        ]
        torch_ops = torch_cases(cp, rgb_d, luma_d, flow_d, h, w)
        for op, on_gpu, on_cpu in cases:
            t_gpu = gpu_ms(cp, on_gpu, repeat * 10)
            t_cpu, _ = timed_pair(on_cpu, lambda: None, repeat)
            t_torch = gpu_ms(cp, torch_ops[op], repeat * 10) if op in torch_ops else None
            torch_cols = f"{t_torch:.3f} | {t_torch / t_gpu:.2f}" if t_torch is not None else "- | -"
            print(f"| {op} | {name} | {t_gpu:.3f} | {t_cpu:.2f} | {t_cpu / t_gpu:.1f} | {torch_cols} |")

    # The chain of a typical x2 pipeline, device-resident: decode-side YUV in, encode-side YUV out.
    h, w = SIZES["1080p"]
    rgb, _, _ = frames(h, w)
    planes = [cp.asarray(p) for p in rgb_to_yuv(rgb, matrix="bt709", full_range=False)]
    kw = dict(matrix="bt709", full_range=False)

    def chain():  # rgb_to_yuv clips the bicubic overshoot while quantizing
        return rgb_to_yuv(resize(yuv_to_rgb(*planes, **kw), 2 * h, 2 * w, "bicubic"), **kw)

    n = 50
    ms = gpu_ms(cp, chain, n)
    print(f"\n1080p chain YUV->RGB->resize x2 bicubic->YUV on CUDA: {1e3 / ms:.0f} frames/s "
          f"({ms:.2f} ms/frame, transfers excluded)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="720p,1080p", help=f"comma-separated, from {', '.join(SIZES)}")
    ap.add_argument("--repeat", type=int, default=9)
    ap.add_argument("--threads", type=int, default=os.cpu_count(), help="threads for numba and OpenCV alike")
    args = ap.parse_args()
    sizes = [s.strip() for s in args.sizes.split(",") if s.strip()]
    numba.set_num_threads(min(args.threads, numba.config.NUMBA_NUM_THREADS))
    cv2.setNumThreads(args.threads)
    rows = run_cpu(sizes, args.repeat)
    print(f"CPU: {os.cpu_count()} cores; {args.threads} threads each for numba {numba.__version__} "
          f"({numba.threading_layer()} layer) and OpenCV {cv2.__version__}; median of {args.repeat} runs, "
          f"ms per frame\n")
    print_cpu(rows)
    reason = cuda_status()
    if reason is None:
        run_cuda(sizes, args.repeat)
    else:
        print(f"\nCUDA part skipped: {reason}")


if __name__ == "__main__":
    main()
