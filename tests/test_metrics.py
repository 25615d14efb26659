"""PSNR/SSIM definitions against hand and independent values; evaluate_files and ``vproc eval``."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from vproc.errors import ConfigError, MediaError
from vproc.metrics import crop_border, evaluate_files, frame_metrics, psnr, rgb_to_y, ssim

REPO = Path(__file__).resolve().parents[1]


# ---------------------------------------------------------------------------------------------
# Definitions on arrays


def test_psnr_constant_difference_matches_formula():
    a = np.full((8, 9), 100, np.uint8)
    for d in (1, 5, 30):
        b = a + np.uint8(d)
        assert psnr(b, a) == pytest.approx(10 * math.log10(255.0**2 / d**2), abs=1e-12)
    # Colour: MSE over all channels at once (here one channel off by 6 -> MSE 12).
    c = np.zeros((4, 4, 3), np.uint8)
    e = c.copy()
    e[..., 1] = 6
    assert psnr(e, c) == pytest.approx(10 * math.log10(255.0**2 / 12), abs=1e-12)
    assert psnr(e, c, peak=1.0) == pytest.approx(10 * math.log10(1 / 12), abs=1e-12)


def test_psnr_identical_is_inf_and_uint8_does_not_wrap():
    a = np.random.default_rng(0).integers(0, 256, (16, 16, 3), dtype=np.uint8)
    assert psnr(a, a.copy()) == math.inf
    # 0 - 255 in uint8 would wrap to 1; the metric must see a difference of 255 (PSNR 0 dB).
    assert psnr(np.zeros((4, 4), np.uint8), np.full((4, 4), 255, np.uint8)) == pytest.approx(0.0)


def test_shape_mismatch_and_small_image_are_refused():
    with pytest.raises(ConfigError, match="differ in shape"):
        psnr(np.zeros((4, 4)), np.zeros((4, 5)))
    with pytest.raises(ConfigError, match="at least 11x11"):
        ssim(np.zeros((10, 20)), np.zeros((10, 20)))


def _ssim_reference(a: np.ndarray, b: np.ndarray, peak: float = 255.0) -> float:
    """Wang et al. 2004 written out directly: valid 11x11 Gaussian windows, no OpenCV."""
    x = np.arange(11) - 5
    g = np.exp(-(x**2) / (2 * 1.5**2))
    g /= g.sum()
    window = np.outer(g, g)

    def filt(img):
        patches = np.lib.stride_tricks.sliding_window_view(img, (11, 11))
        return np.einsum("ijkl,kl->ij", patches, window)

    a = a.astype(np.float64)
    b = b.astype(np.float64)
    c1, c2 = (0.01 * peak) ** 2, (0.03 * peak) ** 2
    mu_a, mu_b = filt(a), filt(b)
    var_a = filt(a * a) - mu_a**2
    var_b = filt(b * b) - mu_b**2
    cov = filt(a * b) - mu_a * mu_b
    smap = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2))
    return float(smap.mean())


def test_ssim_matches_direct_implementation():
    rng = np.random.default_rng(1)
    a = rng.integers(0, 256, (32, 40), dtype=np.uint8)
    # A correlated pair, so SSIM lands in the middle of its range rather than near 0.
    b = np.clip(a.astype(np.int16) + rng.integers(-40, 41, a.shape), 0, 255).astype(np.uint8)
    expected = _ssim_reference(a, b)
    assert 0.2 < expected < 0.99
    assert ssim(a, b) == pytest.approx(expected, abs=1e-6)
    # Colour: the mean over channels.
    ac = rng.integers(0, 256, (32, 40, 3), dtype=np.uint8)
    bc = np.clip(ac.astype(np.int16) + rng.integers(-60, 61, ac.shape), 0, 255).astype(np.uint8)
    expected_c = np.mean([_ssim_reference(ac[..., k], bc[..., k]) for k in range(3)])
    assert ssim(ac, bc) == pytest.approx(expected_c, abs=1e-6)


def test_ssim_identical_is_one():
    a = np.random.default_rng(2).integers(0, 256, (24, 30, 3), dtype=np.uint8)
    assert ssim(a, a.copy()) == pytest.approx(1.0, abs=1e-12)
    assert ssim(a[..., 0], a[..., 0].copy()) == pytest.approx(1.0, abs=1e-12)


def test_rgb_to_y_known_colours():
    rgb = np.array([[[0, 0, 0], [255, 255, 255], [255, 0, 0], [0, 255, 0], [0, 0, 255]]], np.uint8)
    y = rgb_to_y(rgb)
    assert y.dtype == np.float64
    np.testing.assert_allclose(y[0], [16.0, 235.0, 16 + 65.481, 16 + 128.553, 16 + 24.966], atol=1e-9)


def test_crop_border_and_frame_metrics():
    rng = np.random.default_rng(3)
    ref = rng.integers(0, 256, (30, 40, 3), dtype=np.uint8)
    assert crop_border(ref, 4).shape == (22, 32, 3)
    assert crop_border(ref, 0) is ref
    with pytest.raises(ConfigError):
        crop_border(ref, 15)
    # Damage only the border: with the border cropped away the frames are identical.
    dist = ref.copy()
    dist[:2] = 0
    m = frame_metrics(dist, ref)
    assert set(m) == {"psnr_y", "ssim_y", "psnr_rgb", "ssim_rgb"}
    assert math.isfinite(m["psnr_y"]) and m["ssim_rgb"] < 1
    m = frame_metrics(dist, ref, crop=2)
    assert m["psnr_y"] == math.inf and m["psnr_rgb"] == math.inf
    assert m["ssim_y"] == pytest.approx(1.0) and m["ssim_rgb"] == pytest.approx(1.0)


# ---------------------------------------------------------------------------------------------
# Files


def _ffmpeg() -> str:
    imageio_ffmpeg = pytest.importorskip("imageio_ffmpeg")
    return imageio_ffmpeg.get_ffmpeg_exe()


def _make(path: Path, size: str = "96x64", duration: int = 1, vf: str | None = None) -> Path:
    cmd = [_ffmpeg(), "-v", "error", "-y", "-f", "lavfi", "-i", f"testsrc2=s={size}:r=10:d={duration}"]
    if vf:
        cmd += ["-vf", vf]
    cmd += ["-c:v", "ffv1", "-pix_fmt", "yuv420p", str(path)]
    subprocess.run(cmd, check=True, capture_output=True, timeout=60)
    return path


@pytest.fixture(scope="module")
def media(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("metrics")
    return {
        "clean": _make(d / "clean.mkv"),
        "noisy": _make(d / "noisy.mkv", vf="noise=alls=20:allf=t"),
        "long": _make(d / "long.mkv", duration=2),
        "small": _make(d / "small.mkv", size="64x48"),
    }


def test_evaluate_identical_file(media):
    res = evaluate_files(str(media["clean"]), str(media["clean"]))
    assert res["count"] == 10 and len(res["frames"]) == 10
    assert res["mean"]["psnr_y"] == math.inf and res["mean"]["psnr_rgb"] == math.inf
    assert res["mean"]["ssim_y"] == pytest.approx(1.0) and res["mean"]["ssim_rgb"] == pytest.approx(1.0)
    times = [row["time"] for row in res["frames"]]
    assert times == pytest.approx([i / 10 for i in range(10)])
    assert [row["index"] for row in res["frames"]] == list(range(10))
    assert "Infinity" in json.dumps(res)


def test_evaluate_noisy_file(media):
    res = evaluate_files(str(media["noisy"]), str(media["clean"]))
    assert res["count"] == 10
    m = res["mean"]
    assert 15 < m["psnr_y"] < 40 and 15 < m["psnr_rgb"] < 40
    assert 0 < m["ssim_y"] < 1 and 0 < m["ssim_rgb"] < 1
    for row in res["frames"]:
        assert math.isfinite(row["psnr_y"]) and row["ssim_y"] < 1
    # The mean is the mean of the per-frame values.
    assert m["psnr_y"] == pytest.approx(np.mean([row["psnr_y"] for row in res["frames"]]))
    # Cropping changes the numbers but keeps them plausible.
    cropped = evaluate_files(str(media["noisy"]), str(media["clean"]), crop=4)["mean"]
    assert cropped["psnr_y"] != m["psnr_y"] and 15 < cropped["psnr_y"] < 40


def test_evaluate_refuses_different_counts(media):
    with pytest.raises(MediaError, match="frame counts differ: distorted has 10 frames, reference has 20"):
        evaluate_files(str(media["clean"]), str(media["long"]))
    with pytest.raises(MediaError, match="distorted has 20 frames, reference has 10"):
        evaluate_files(str(media["long"]), str(media["clean"]))


def test_evaluate_refuses_different_sizes(media):
    with pytest.raises(MediaError, match="64x48.*96x64"):
        evaluate_files(str(media["small"]), str(media["clean"]))


def test_evaluate_refuses_shifted_times(media, tmp_path):
    # Same frames, but every timestamp moved by 0.3 s (three frames at 10 fps).
    shifted = tmp_path / "shifted.mkv"
    subprocess.run([_ffmpeg(), "-v", "error", "-y", "-i", str(media["clean"]), "-c", "copy",
                    "-output_ts_offset", "0.3", str(shifted)], check=True, capture_output=True, timeout=60)
    with pytest.raises(MediaError, match=r"frame 0 .*distorted t=0\.3.*reference t=0\.0"):
        evaluate_files(str(shifted), str(media["clean"]))


# ---------------------------------------------------------------------------------------------
# CLI


def _vproc(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run([sys.executable, "-m", "vproc", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120)


def test_cli_eval_writes_json(media, tmp_path):
    out = tmp_path / "out.json"
    proc = _vproc("eval", str(media["noisy"]), str(media["clean"]), "--json", str(out), "--per-frame")
    assert proc.returncode == 0, proc.stderr
    assert "10 frames: Y-PSNR" in proc.stdout
    assert proc.stdout.count("t=") == 10
    data = json.loads(out.read_text())
    assert data["count"] == 10 and len(data["frames"]) == 10
    assert set(data["mean"]) == {"psnr_y", "ssim_y", "psnr_rgb", "ssim_rgb"}
    assert 15 < data["mean"]["psnr_y"] < 40


def test_cli_eval_mismatch_is_one_line_exit_2(media):
    proc = _vproc("eval", str(media["clean"]), str(media["long"]))
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("vproc: error:") and "frame counts differ" in lines[0]
