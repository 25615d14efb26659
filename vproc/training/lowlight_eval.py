"""Measurements of the ``lowlight`` curve network for its model card (``vproc/weights/README.md``).

- :func:`synthetic_check`: a procedurally drawn scene (:func:`synthetic_scene`, no files, no
  data), darkened physically with a fixed seed (:func:`synthetic_dark`), enhanced by the network
  on the CPU; PSNR and SSIM (RGB, 8 bits, :mod:`vproc.metrics`) against the clean scene. The tests
  recompute it and compare with the card, so the shipped weights are the ones described.
- :func:`photo_stats`: on the real low-light photos (LOL, LIME, DICM; no references): mean
  intensity and luma in and out, clipped pixels, hue shift.
- :func:`vid4_check`: PSNR/SSIM on darkened Vid4 frames (the benchmark set: measured, never
  trained on), next to the parametric ``curve`` method on the same frames.

The noise of the synthetic check is Gaussian with the Poisson variance (shot noise) plus read
noise, drawn by Box-Muller from ``Generator.random`` (PCG64 doubles, stable across numpy
versions, unlike the generator's normal and Poisson samplers), so any machine draws the same.
"""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np
import torch

from ..metrics import psnr, ssim
from ..models import zerodce
from .lowlight import REAL_SETS, _images, darken, linear_to_srgb, srgb_to_linear

SYNTH_SIZE = (240, 320)  # H, W
SYNTH_EXPOSURE = 0.1
SYNTH_PHOTONS = 4000.0
SYNTH_READ = 1.0
SYNTH_SEED = 1234


def synthetic_scene(h: int = SYNTH_SIZE[0], w: int = SYNTH_SIZE[1]) -> np.ndarray:
    """A clean uint8 HxWx3 sRGB test scene drawn from formulas: smooth colour gradients, saturated
    discs, fine stripes, a grey ramp from black to white and a white patch (a highlight)."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    u, v = x / w, y / h
    img = np.stack([0.25 + 0.6 * u, 0.3 + 0.5 * np.sin(3 * v + 1.5 * u) ** 2, 0.85 - 0.6 * u * v], -1)
    discs = [((0.2, 0.3), 0.12, (0.9, 0.1, 0.1)), ((0.45, 0.65), 0.1, (0.1, 0.8, 0.2)),
             ((0.75, 0.3), 0.11, (0.15, 0.25, 0.95)), ((0.8, 0.7), 0.09, (0.95, 0.85, 0.1)),
             ((0.55, 0.25), 0.07, (0.1, 0.85, 0.9))]
    for (cx, cy), r, colour in discs:
        inside = (u - cx) ** 2 * (w / h) ** 2 + (v - cy) ** 2 < r * r
        img[inside] = colour
    stripes = (u > 0.05) & (u < 0.35) & (v > 0.62) & (v < 0.82)
    img[stripes] = (0.5 + 0.4 * np.sin(2 * np.pi * x[stripes] / (3 + 6 * v[stripes])))[:, None] * [0.9, 0.8, 0.6]
    img[v > 0.9] = u[v > 0.9][:, None]  # grey ramp, black to white
    img[(u > 0.88) & (v > 0.05) & (v < 0.2)] = 1.0  # white patch
    return np.round(np.clip(img, 0, 1) * 255).astype(np.uint8)


def synthetic_dark(clean: np.ndarray, exposure: float = SYNTH_EXPOSURE, photons: float = SYNTH_PHOTONS,
                   read_noise: float = SYNTH_READ, seed: int = SYNTH_SEED) -> np.ndarray:
    """``clean`` uint8 sRGB at ``exposure`` in linear light with shot and read noise, uint8 sRGB;
    the same on every machine (see the module docstring)."""
    rng = np.random.default_rng(seed)
    u1 = rng.random(clean.shape)
    u2 = rng.random(clean.shape)
    z = np.sqrt(-2.0 * np.log1p(-u1)) * np.cos(2.0 * np.pi * u2)  # 1 - u1 in (0, 1]
    electrons = srgb_to_linear(clean.astype(np.float64) / 255.0) * exposure * photons
    electrons = electrons + np.sqrt(electrons + read_noise ** 2) * z
    return np.round(linear_to_srgb(np.clip(electrons / photons, 0.0, 1.0)) * 255.0).astype(np.uint8)


def run_net(model: zerodce.ZeroDCE, rgb8: np.ndarray) -> np.ndarray:
    """uint8 HxWx3 RGB through the network on the CPU (as the node runs it): float HxWx3 in [0, 1]."""
    x = torch.from_numpy(np.ascontiguousarray(rgb8.transpose(2, 0, 1))).float().div_(255.0)[None]
    with torch.inference_mode():
        y, _ = model(x)
    return y[0].permute(1, 2, 0).numpy()


def to8(img: np.ndarray) -> np.ndarray:
    return np.round(np.clip(img, 0, 1) * 255.0).astype(np.uint8)


def synthetic_check(model: zerodce.ZeroDCE) -> dict[str, float]:
    """PSNR (dB) and SSIM, rounded to 3 decimals, against the clean synthetic scene: of the
    network's output (rounded to 8 bits) on the darkened scene (``psnr``, ``ssim``), of the dark
    input itself (``*_input``), and of the network's output on the clean scene (``*_bright``:
    how much it changes a well-exposed frame)."""
    clean = synthetic_scene()
    dark = synthetic_dark(clean)
    out = to8(run_net(model, dark))
    bright = to8(run_net(model, clean))
    return {"psnr": round(psnr(out, clean), 3), "ssim": round(ssim(out, clean), 3),
            "psnr_input": round(psnr(dark, clean), 3), "ssim_input": round(ssim(dark, clean), 3),
            "psnr_bright": round(psnr(bright, clean), 3), "ssim_bright": round(ssim(bright, clean), 3)}


def hue(rgb: np.ndarray) -> np.ndarray:
    """Hue angle in degrees of float HxWx3 RGB (the opponent-colour angle, as HSV's hexagon
    smoothed): ``atan2(sqrt(3) (G - B), 2R - G - B)``."""
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    return np.degrees(np.arctan2(math.sqrt(3) * (g - b), 2 * r - g - b))


def hue_shift(src: np.ndarray, out: np.ndarray, min_chroma: float = 0.05) -> np.ndarray:
    """Absolute hue change (degrees, 0..180) of every pixel whose input chroma ``max - min`` is at
    least ``min_chroma`` (hue is undefined on greys); float HxWx3 inputs in [0, 1]."""
    src = src.astype(np.float64)
    out = out.astype(np.float64)
    mask = src.max(-1) - src.min(-1) >= min_chroma
    d = np.abs(hue(out[mask]) - hue(src[mask])) % 360.0
    return np.minimum(d, 360.0 - d)


def _read_rgb(path: Path) -> np.ndarray:
    return cv2.cvtColor(cv2.imread(str(path), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def photo_stats(model: zerodce.ZeroDCE, root: str | Path) -> dict[str, dict[str, float]]:
    """Per real low-light set: images, mean intensity (max R, G, B) and BT.601 luma (0..1) in and
    out, percentage of channel values at 255 in and out, mean and 99th-percentile hue shift."""
    result = {}
    for name in REAL_SETS:
        rows = []
        for path in _images(Path(root) / name):
            src8 = _read_rgb(path)
            src = src8.astype(np.float32) / 255.0
            out = run_net(model, src8)
            shift = hue_shift(src, out)
            luma = np.array([0.299, 0.587, 0.114], np.float32)
            rows.append([src.max(-1).mean(), out.max(-1).mean(), (src @ luma).mean(), (out @ luma).mean(),
                         100 * (src8 == 255).mean(), 100 * (to8(out) == 255).mean(),
                         shift.mean() if shift.size else 0.0, np.percentile(shift, 99) if shift.size else 0.0])
        if rows:
            m = np.mean(rows, 0)
            keys = ("intensity_in", "intensity_out", "luma_in", "luma_out", "clipped_in_pct",
                    "clipped_out_pct", "hue_shift_mean_deg", "hue_shift_p99_deg")
            result[name] = {"images": len(rows), **{k: round(float(v), 3) for k, v in zip(keys, m)}}
    return result


def vid4_check(model: zerodce.ZeroDCE, root: str | Path, frames=(0, 10, 20, 30), exposure: float = 0.1,
               seed: int = 0) -> dict[str, dict[str, float]] | None:
    """Mean PSNR/SSIM (RGB, 8 bits) against the clean frames of the network and of the ``curve``
    method (default parameters, each frame on its own) on Vid4 frames darkened as
    ``benchmarks/lowlight.py`` does (linear exposure ``exposure``, 1000 e- full scale, 2 e- read
    noise); None when Vid4 is absent. Evaluation only: Vid4 is never trained on."""
    from fractions import Fraction

    from ..frame import Frame, StreamInfo
    from ..nodes.lowlight import Lowlight, LowlightParams

    gt = Path(root) / "Vid4" / "GT"
    if not gt.is_dir():
        return None
    scores = {"dark": [], "net": [], "curve": []}
    for i, seq in enumerate(("calendar", "city", "foliage", "walk")):
        files = sorted((gt / seq).glob("Frame *.png"))
        rng = np.random.default_rng([seed, i])
        for k in frames:
            if k >= len(files):
                continue
            clean = _read_rgb(files[k])
            dark = darken(clean, exposure, 1000.0, 2.0, rng)
            node = Lowlight(LowlightParams(), "cpu", "ll")
            node.open(StreamInfo(clean.shape[1], clean.shape[0], "rgbpf32", Fraction(1, 1000)))
            planar = np.ascontiguousarray(dark.transpose(2, 0, 1), np.float32) / np.float32(255)
            (curve,) = node.process(Frame(planar, 0, Fraction(1, 1000), "rgbpf32"))
            outs = {"dark": dark, "net": to8(run_net(model, dark)),
                    "curve": to8(np.stack(curve.planes, -1))}
            for key, img in outs.items():
                scores[key].append((psnr(img, clean), ssim(img, clean)))
    return {k: {"frames": len(v), "psnr": round(float(np.mean([p for p, _ in v])), 3),
                "ssim": round(float(np.mean([s for _, s in v])), 3)} for k, v in scores.items()}


def evaluate(model: zerodce.ZeroDCE, root: str | Path | None) -> dict:
    """Everything the model card reports; the data-based parts only where ``root`` has the data."""
    torch.set_num_threads(2)
    result = {"synthetic": synthetic_check(model)}
    if root is not None and Path(root).is_dir():
        result["photos"] = photo_stats(model, root)
        vid4 = vid4_check(model, root)
        if vid4 is not None:
            result["vid4_dark_x0.1"] = vid4
    return result
