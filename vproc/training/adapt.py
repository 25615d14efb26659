"""Zero-shot adaptation of the video super-resolution network to the footage it is about to upscale
(the ``vsr`` node's ``adapt: N``), the self-learning video SR idea of ``../shared/DESIGN.md``.

The footage has no high-res ground truth, but it is its own: frames of the video downscaled once
more by the network's factor ``s`` (the network's degradation model, :func:`vproc.training.vsr.degrade`,
rounded to 8 bits) form input windows whose targets are the video's frames themselves. Small
details recur across scales and across neighbouring frames, so a few hundred steps on these pairs
tune the network to the footage's own content and blur before it upscales the real frames.

Each step draws ``batch`` random windows (consecutive frames, clamped at the ends like the node's
windows) and a random crop of ``s * crop`` pixels of the video's frames; flips and transposition
as in training. Adam at a small rate (fine-tuning, ``lr`` 1e-4), Charbonnier loss, the same as
training. Deterministic for a seed.

Measured before and after on fixed pairs drawn apart from the training draws (the "self" PSNR:
the network upscaling the downscaled video back to the video's own frames, Y-PSNR in dB, ``s``
border pixels cropped): the gain on the footage's own scale is what adaptation can see; whether
it carries over to the real upscale is what ``benchmarks/vsr.py`` (``vproc net+adapt``) measures.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np
import torch

from ..errors import ConfigError
from ..models.vsrnet import VSRNet
from .vsr import augment, charbonnier, degrade, quantize

#: Smallest crop side (at the downscaled size): fewer pixels leave the network nothing to learn.
MIN_CROP = 8


def crop_size(height: int, width: int, scale: int, wanted: int = 32) -> int:
    """The crop side at the downscaled size for frames ``height`` x ``width``: ``wanted`` or less
    (a multiple of 4), at least :data:`MIN_CROP`; 0 when the frames are too small to adapt on."""
    side = min(wanted, min(height, width) // scale) // 4 * 4
    return side if side >= MIN_CROP else 0


def _windows(count: int, window: int, center: int, rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` windows of frame indices, clamped at ``0`` and ``count - 1`` (as the node's windows)."""
    centres = rng.integers(0, count, n)
    offsets = np.arange(window) - center
    return np.clip(centres[:, None] + offsets[None, :], 0, count - 1)


def _pairs(frames: Sequence[np.ndarray], net: VSRNet, crop: int, degradation: str, rng: np.random.Generator,
           n: int, flips: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` training pairs: downscaled windows ``(n, T, 1, crop, crop)`` and their centre
    frames ``(n, 1, s crop, s crop)`` at the video's size."""
    s, hr = net.scale, net.scale * crop
    h, w = frames[0].shape
    clips = []
    for idx in _windows(len(frames), net.window, net.center, rng, n):
        y, x = int(rng.integers(0, h - hr + 1)), int(rng.integers(0, w - hr + 1))
        clip = np.stack([frames[i][y:y + hr, x:x + hr] for i in idx])
        clips.append(np.ascontiguousarray(augment(clip, rng) if flips else clip, dtype=np.float32))
    hi = torch.from_numpy(np.stack(clips))
    b, t = hi.shape[:2]
    lo = quantize(degrade(hi.reshape(b * t, 1, hr, hr), s, degradation)).reshape(b, t, 1, crop, crop)
    return lo, hi[:, net.center:net.center + 1].clone()


def _self_psnr(net: VSRNet, lo: torch.Tensor, hi: torch.Tensor, device: str) -> float:
    s = net.scale
    with torch.no_grad():
        out = quantize(net(lo.to(device))).cpu()
    err = (out - hi)[..., s:-s, s:-s] * 255.0
    mse = float(err.square().mean())
    return float(10 * np.log10(255.0 ** 2 / max(mse, 1e-12)))


def adapt(net: VSRNet, frames: Sequence[np.ndarray], steps: int, *, degradation: str = "bi", lr: float = 1e-4,
          batch: int = 4, crop: int = 32, seed: int = 0, device: str = "cpu", check_pairs: int = 16) -> dict:
    """Fine-tune ``net`` in place for ``steps`` steps on ``frames`` (float32 luma planes in [0, 1],
    all of one size, in display order) and leave it in eval mode; returns what was done:
    ``steps``, ``seconds``, ``frames``, ``crop``, the loss of the first and last steps, and
    ``self_psnr_before`` / ``self_psnr_after`` (dB, on ``check_pairs`` fixed pairs drawn apart).
    Frames too small to crop from are refused (:class:`ConfigError`)."""
    if steps < 0:
        raise ConfigError(f"vsr adapt: steps must be 0 or more (got {steps})")
    if not frames:
        raise ConfigError("vsr adapt: no frames to adapt on")
    h, w = frames[0].shape
    side = crop_size(h, w, net.scale, crop)
    if not side:
        raise ConfigError(f"vsr adapt: frames of {w}x{h} are too small to adapt a x{net.scale} network on "
                          f"(at least {MIN_CROP * net.scale}x{MIN_CROP * net.scale})")
    t0 = time.perf_counter()
    rng = np.random.default_rng(seed)
    check_lo, check_hi = _pairs(frames, net, side, degradation, np.random.default_rng(seed + 1), check_pairs, False)
    net.eval()
    before = _self_psnr(net, check_lo, check_hi, device)
    losses: list[float] = []
    if steps:
        opt = torch.optim.Adam(net.parameters(), lr=lr)
        net.train()
        with torch.enable_grad():
            for _ in range(steps):
                lo, hi = _pairs(frames, net, side, degradation, rng, batch, True)
                loss = charbonnier(net(lo.to(device)), hi.to(device), 1e-3)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
                opt.step()
                losses.append(float(loss.detach()))
        net.eval()
    after = _self_psnr(net, check_lo, check_hi, device) if steps else before
    head, tail = losses[:10], losses[-10:]
    return {"steps": steps, "seconds": round(time.perf_counter() - t0, 2), "frames": len(frames), "crop": side,
            "loss_first": float(np.mean(head)) if head else None, "loss_last": float(np.mean(tail)) if tail else None,
            "self_psnr_before": round(before, 3), "self_psnr_after": round(after, 3)}
