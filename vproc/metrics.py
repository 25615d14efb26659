"""Full-reference quality metrics: PSNR and SSIM, on frames and on whole video files.

The definitions are the ones the super-resolution literature reports, so numbers printed by
``vproc eval`` can be set next to published tables:

- PSNR = ``10 log10(peak^2 / MSE)``, the MSE taken over all pixels (and channels) at once;
  identical images give ``inf``.
- SSIM is Wang et al. 2004: an 11x11 Gaussian window with sigma 1.5, ``K1 = 0.01``,
  ``K2 = 0.03``, computed in float64, averaged over the *valid* part of the SSIM map (5 pixels
  of border dropped), as the authors' MATLAB ``ssim_index`` and BasicSR's ``calculate_ssim`` do.
  For colour images it is the mean over the three channels.
- The "Y" variants use the luma of MATLAB's ``rgb2ycbcr`` (BT.601, limited range), unrounded,
  which is what SR papers mean by "PSNR on the Y channel".

:func:`evaluate_files` decodes two videos with :class:`~vproc.io.source.Source`, pairs their
frames in order, checks that paired frames have the same presentation time, and returns
per-frame and mean metrics (the ``vproc eval`` command prints them).
"""

from __future__ import annotations

import math
from fractions import Fraction

import cv2
import numpy as np

from .errors import ConfigError, MediaError
from .frame import Frame

_WINDOW = 11
_SIGMA = 1.5
_K1, _K2 = 0.01, 0.03
_METRICS = ("psnr_y", "ssim_y", "psnr_rgb", "ssim_rgb")


def _pair(a, b) -> tuple[np.ndarray, np.ndarray]:
    a = np.asarray(a)
    b = np.asarray(b)
    if a.shape != b.shape:
        raise ConfigError(f"images differ in shape: {a.shape} vs {b.shape}")
    if a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[2] != 3):
        raise ConfigError(f"expected an HxW or HxWx3 image (got shape {a.shape})")
    # float64 throughout: uint8 arithmetic would wrap, float32 loses digits in the SSIM variances.
    return a.astype(np.float64, copy=False), b.astype(np.float64, copy=False)


def psnr(a, b, peak: float = 255.0) -> float:
    """Peak signal-to-noise ratio in dB of ``a`` against ``b`` (HxW or HxWx3); ``inf`` if equal."""
    a, b = _pair(a, b)
    mse = float(np.mean((a - b) ** 2))
    if mse == 0.0:
        return math.inf
    return 10.0 * math.log10(peak * peak / mse)


def ssim(a, b, peak: float = 255.0) -> float:
    """Structural similarity (Wang et al. 2004) of ``a`` and ``b``; colour: mean over channels.

    Both images must be at least 11x11 (the SSIM map is averaged over the window's valid region).
    """
    a, b = _pair(a, b)
    h, w = a.shape[:2]
    if h < _WINDOW or w < _WINDOW:
        raise ConfigError(f"SSIM needs images of at least {_WINDOW}x{_WINDOW} pixels (got {w}x{h})")
    c1 = (_K1 * peak) ** 2
    c2 = (_K2 * peak) ** 2

    def blur(x: np.ndarray) -> np.ndarray:
        # GaussianBlur filters each channel of an HxWx3 array on its own, so colour costs one
        # call per statistic. The border mode does not matter: the border is cropped below.
        return cv2.GaussianBlur(x, (_WINDOW, _WINDOW), _SIGMA, sigmaY=_SIGMA)

    mu_a = blur(a)
    mu_b = blur(b)
    mu_aa, mu_bb, mu_ab = mu_a * mu_a, mu_b * mu_b, mu_a * mu_b
    var_a = blur(a * a) - mu_aa
    var_b = blur(b * b) - mu_bb
    cov = blur(a * b) - mu_ab
    smap = ((2 * mu_ab + c1) * (2 * cov + c2)) / ((mu_aa + mu_bb + c1) * (var_a + var_b + c2))
    r = _WINDOW // 2
    # Every channel's valid map has the same size, so the mean of the whole map is the mean of
    # the per-channel means.
    return float(smap[r:h - r, r:w - r].mean())


def rgb_to_y(rgb) -> np.ndarray:
    """Luma of HxWx3 RGB in 0..255 as MATLAB's ``rgb2ycbcr`` gives it (BT.601, 16..235), float64."""
    rgb = np.asarray(rgb)
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ConfigError(f"expected an HxWx3 RGB image (got shape {rgb.shape})")
    rgb = rgb.astype(np.float64, copy=False)
    # Not rounded to integers: BasicSR and most SR evaluation code measure the float luma.
    return 16.0 + (65.481 * rgb[..., 0] + 128.553 * rgb[..., 1] + 24.966 * rgb[..., 2]) / 255.0


def crop_border(img, n: int) -> np.ndarray:
    """``img`` without ``n`` pixels on each side (the SR protocol crops ``scale`` pixels)."""
    if n < 0:
        raise ConfigError(f"crop must not be negative (got {n})")
    if n == 0:
        return img
    h, w = img.shape[:2]
    if 2 * n >= h or 2 * n >= w:
        raise ConfigError(f"cannot crop {n} pixels from each side of a {w}x{h} image")
    return img[n:h - n, n:w - n]


def frame_metrics(dist_rgb, ref_rgb, crop: int = 0) -> dict[str, float]:
    """PSNR and SSIM, on the Y channel and on RGB, of one uint8 HxWx3 RGB frame against another."""
    dist = crop_border(np.asarray(dist_rgb), crop)
    ref = crop_border(np.asarray(ref_rgb), crop)
    dist_y, ref_y = rgb_to_y(dist), rgb_to_y(ref)
    return {
        "psnr_y": psnr(dist_y, ref_y),
        "ssim_y": ssim(dist_y, ref_y),
        "psnr_rgb": psnr(dist, ref),
        "ssim_rgb": ssim(dist, ref),
    }


def _rgb(frame: Frame) -> np.ndarray:
    from .io.avframes import to_av

    # The frame's planes are the decoder's, so swscale sees the stream's own colour metadata.
    return to_av(frame).to_ndarray(format="rgb24")


def _period(frame: Frame, rate: Fraction | None) -> Fraction | None:
    """One frame's duration in seconds: its own if the decoder set it, else the nominal rate's."""
    if frame.duration:
        return frame.duration * frame.time_base
    return 1 / rate if rate else None


def _frames(src):
    # Sources are opened without audio and subtitles, but the filter keeps this correct anyway:
    # anything that is not a Frame is a passthrough packet.
    return (item for item in src.items() if isinstance(item, Frame))


def evaluate_files(distorted: str, reference: str, crop: int = 0) -> dict:
    """Per-frame and mean PSNR/SSIM (Y and RGB) of the video ``distorted`` against ``reference``.

    Frames are paired in presentation order; paired frames must have the same time within half a
    frame duration. Raises :class:`MediaError` when the sizes, the frame counts or the times
    differ. Returns ``{"distorted", "reference", "count", "frames": [...], "mean": {...}}``;
    a mean PSNR is ``inf`` when any frame's is (json.dumps writes ``Infinity``).
    """
    from .io.source import Source

    with Source(distorted, audio=False, subtitles=False) as dsrc, \
            Source(reference, audio=False, subtitles=False) as rsrc:
        dsize, rsize = dsrc.info.size, rsrc.info.size
        # Source scales any mid-stream size change back to ``info``'s, so this check covers all.
        if dsize != rsize:
            raise MediaError(f"frame sizes differ: distorted '{distorted}' is {dsize[0]}x{dsize[1]}, "
                             f"reference '{reference}' is {rsize[0]}x{rsize[1]}")
        dframes, rframes = _frames(dsrc), _frames(rsrc)
        rows: list[dict] = []
        mismatch = None
        nd = nr = 0
        while True:
            d = next(dframes, None)
            r = next(rframes, None)
            nd += d is not None
            nr += r is not None
            if d is None or r is None:
                break
            if mismatch is not None:
                continue  # only counting now, so a count error can take precedence
            periods = [p for p in (_period(d, dsrc.info.rate), _period(r, rsrc.info.rate)) if p]
            tolerance = min(periods) / 2 if periods else Fraction(0)
            if abs(d.time - r.time) > tolerance:
                # Keep decoding to count the frames (cheaply: no metrics), then report.
                mismatch = (len(rows), d.time, r.time)
                continue
            row = {"index": len(rows), "time": float(r.time)}
            row.update(frame_metrics(_rgb(d), _rgb(r), crop))
            rows.append(row)
        # Count what is left of the longer one, so the message gives both full counts.
        nd += sum(1 for _ in dframes) if d is not None else 0
        nr += sum(1 for _ in rframes) if r is not None else 0

    if nd != nr:
        raise MediaError(f"frame counts differ: distorted has {nd} frames, reference has {nr}")
    if mismatch is not None:
        i, dt, rt = mismatch
        raise MediaError(f"frame {i} is at different times: distorted t={float(dt):.6f}s, "
                         f"reference t={float(rt):.6f}s")
    if not rows:
        raise MediaError(f"no video frames decoded from '{distorted}' and '{reference}'")
    # The plain mean keeps inf: averaging only the finite PSNRs would silently drop the frames
    # that are identical and report a number no frame set actually has.
    mean = {k: float(np.mean([row[k] for row in rows])) for k in _METRICS}
    return {"distorted": str(distorted), "reference": str(reference), "count": len(rows),
            "frames": rows, "mean": mean}
