"""The lowlight curve network: size, the curve's guarantees (monotonic, in range, white kept,
hue kept), the shipped weights against their model card, the training step and the command."""

from __future__ import annotations

import json
import math
import re

import cv2
import numpy as np
import pytest
import torch

from vproc.errors import ConfigError
from vproc.models import zerodce
from vproc.training import lowlight as training
from vproc.training import lowlight_eval

from ..media import run_vproc

CARD = zerodce.DEFAULT_WEIGHTS.parent / "README.md"
SIDECAR = zerodce.DEFAULT_WEIGHTS.with_suffix(".json")


def test_parameter_count_is_about_ten_thousand():
    assert zerodce.parameter_count(zerodce.ZeroDCE()) == 10431  # one curve map (colour kept)
    assert zerodce.parameter_count(zerodce.ZeroDCE(curve_channels=3)) == 10561  # the paper's 10,561


def test_maps_have_the_input_size_and_range():
    torch.manual_seed(0)
    net = zerodce.ZeroDCE()
    with torch.inference_mode():
        a = net.curves(torch.rand(2, 3, 37, 53))
    assert a.shape == (2, 1, 37, 53)
    assert a.abs().max() <= 1


@pytest.mark.parametrize("h, w, k", [(120, 160, 1), (256, 900, 1), (257, 300, 2), (720, 1280, 3), (1080, 1920, 5)])
def test_the_net_runs_at_most_256_pixels_on_the_short_side(h, w, k):
    assert zerodce.scale_for(h, w) == k
    low = zerodce.downscale(torch.zeros(1, 3, h, w))
    assert min(low.shape[-2:]) <= zerodce.SHORT_SIDE
    assert low.shape[-2:] == (math.ceil(h / k), math.ceil(w / k))


def test_curve_is_monotonic_in_range_and_keeps_black_and_white():
    x = torch.linspace(0, 1, 2001, dtype=torch.float64)[None, :]
    a = torch.linspace(-1, 1, 41, dtype=torch.float64)[:, None]
    y = zerodce.le_curve(x, a)
    assert (y >= 0).all() and (y <= 1).all()
    assert (torch.diff(y, dim=1) >= 0).all()
    assert (y[:, 0] == 0).all() and (y[:, -1] == 1).all()
    assert (y[a[:, 0] > 0, 1:-1] > x[:, 1:-1]).all()  # a > 0 brightens


def colour_ramp(h: int = 64, w: int = 96) -> torch.Tensor:
    """(1, 3, H, W): hues around the circle along x, intensity 0..1 along y, a white pixel and a
    saturated highlight at intensity 1."""
    hue = np.linspace(0, 179, w, dtype=np.float32)
    hsv = np.stack(np.broadcast_arrays(hue[None, :], np.float32(255 * 0.7), np.linspace(0, 255, h, dtype=np.float32)[:, None]), -1)
    rgb = cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2RGB).astype(np.float32) / 255
    rgb[0, 0] = 1.0
    rgb[0, 1] = (1.0, 0.5, 0.0)
    return torch.from_numpy(rgb).permute(2, 0, 1)[None].contiguous()


@pytest.mark.parametrize("seed", [0, 1])
def test_one_map_keeps_hue_and_highlights(seed):
    x = colour_ramp()
    gen = torch.Generator().manual_seed(seed)
    a = torch.rand(1, 1, 8, 12, generator=gen) * 2 - 1  # any map in [-1, 1], upsampled
    y = zerodce.enhance(x, a)
    assert y.shape == x.shape and (y >= 0).all() and (y <= 1).all()
    np.testing.assert_allclose(y[0, :, 0, 0], [1.0, 1.0, 1.0], atol=1e-6)  # white stays white
    np.testing.assert_allclose(y[0, :, 0, 1], [1.0, 0.5, 0.0], atol=1e-6)  # a saturated highlight too
    src, out = x[0].permute(1, 2, 0).numpy(), y[0].permute(1, 2, 0).numpy()
    shift = lowlight_eval.hue_shift(src, out)
    assert shift.size > 3000 and shift.max() < 0.05  # degrees: float rounding only
    lit = (src.max(-1) > 0.02) & (out.max(-1) > 1e-3)  # channel ratios, where they are defined
    so, ss = out[lit], src[lit]
    np.testing.assert_allclose(so / so.max(-1, keepdims=True), ss / ss.max(-1, keepdims=True), atol=5e-5)


def test_per_channel_curves_shift_hue():
    """Why the node uses one map on the intensity: the paper's per-channel curves, even with one
    map copied to all three channels, lift the smaller channels more (hue and saturation drift)."""
    x = colour_ramp()
    a = torch.full((1, 3, 8, 12), 0.8)
    y = zerodce.enhance(x, a)
    src, out = x[0].permute(1, 2, 0).numpy(), y[0].permute(1, 2, 0).numpy()
    assert lowlight_eval.hue_shift(src, out).max() > 3
    y1 = zerodce.enhance(x, a[:, :1])
    assert lowlight_eval.hue_shift(src, y1[0].permute(1, 2, 0).numpy()).max() < 0.05


# -- the shipped weights -------------------------------------------------------------------------


def test_shipped_weights_are_small_and_load():
    assert zerodce.DEFAULT_WEIGHTS.stat().st_size < 100_000
    net = zerodce.load()
    assert not net.training and net.curve_channels == 1
    assert zerodce.parameter_count(net) == 10431


def test_shipped_weights_reproduce_the_model_card():
    torch.set_num_threads(2)
    got = lowlight_eval.synthetic_check(zerodce.load())
    card = json.loads(SIDECAR.read_text())["metrics"]["synthetic"]
    assert got["psnr"] == pytest.approx(card["psnr"], abs=1e-3)
    assert got["ssim"] == pytest.approx(card["ssim"], abs=1e-3)
    assert got["psnr_input"] == pytest.approx(card["psnr_input"], abs=1e-3)
    assert got["psnr_bright"] == pytest.approx(card["psnr_bright"], abs=1e-3)
    text = CARD.read_text()
    assert re.search(rf"\bPSNR {card['psnr']:.3f} dB\b", text) and re.search(rf"\bSSIM {card['ssim']:.3f}\b", text)
    assert card["psnr"] > card["psnr_input"] + 5  # and the network really enhances


def test_missing_or_broken_weights_are_one_line_errors(tmp_path):
    with pytest.raises(ConfigError, match="lowlight weights not found: .*nope.pt"):
        zerodce.load(tmp_path / "nope.pt")
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a state dict")
    with pytest.raises(ConfigError, match="are not a ZeroDCE state dict") as exc:
        zerodce.load(bad)
    assert "\n" not in str(exc.value)


# -- losses and training -------------------------------------------------------------------------


def test_losses_vanish_where_they_should():
    torch.manual_seed(0)
    img = torch.rand(2, 3, 32, 32)
    assert training.spatial_consistency(img, img) == 0
    assert training.spatial_consistency(img, img * 2) > 0
    assert training.exposure_control(torch.full((1, 3, 32, 32), 0.6)) < 1e-12
    red = torch.zeros(1, 3, 32, 32)
    red[:, 0] = 0.6  # intensity 0.6, grey level 0.2
    assert training.exposure_control(red, of="intensity") < 1e-12
    assert float(training.exposure_control(red, of="grey")) == pytest.approx(0.16, rel=1e-5)
    assert training.colour_constancy(torch.full((1, 3, 8, 8), 0.3)) < 1e-5
    assert training.colour_constancy(torch.stack([torch.full((8, 8), v) for v in (0.9, 0.3, 0.1)])[None]) > 0.1
    assert training.illumination_smoothness(torch.full((1, 1, 8, 8), 0.4)) == 0


def write_folder(root, names, n, size=(48, 64), seed=0):
    rng = np.random.default_rng(seed)
    for name in names:
        (root / name).mkdir(parents=True)
        for i in range(n):
            img = cv2.GaussianBlur(rng.integers(0, 256, (*size, 3), dtype=np.uint8), (7, 7), 2)
            cv2.imwrite(str(root / name / f"{i}.png"), img)


@pytest.fixture
def tiny_data(tmp_path):
    root = tmp_path / "data"
    write_folder(root, ["DICM", "LIME"], 2)
    write_folder(root, ["train/T91"], 3, seed=1)
    write_folder(root, ["Vid4/GT/calendar"], 2, seed=2)  # the benchmark: never read for training
    return root


def test_two_training_steps_write_weights_and_settings_deterministically(tiny_data, tmp_path):
    s = training.Settings(steps=2, batch=2, crop=32, seed=5)
    steps = []
    summary = training.train(tiny_data, tmp_path / "a.pt", s, report=lambda k, n, losses: steps.append((k, n, losses)))
    assert [k for k, _, _ in steps] == [1, 2] and all(math.isfinite(l["total"]) for _, _, l in steps)
    assert summary["data"]["images"] == {"DICM": 2, "LIME": 2, "LOL_eval_low_RetinexNet": 0,
                                         "train/T91": 3, "train/General100": 0, "train/BSDS200": 0}
    saved = json.loads((tmp_path / "a.json").read_text())
    assert saved["settings"]["steps"] == 2 and saved["settings"]["seed"] == 5 and saved["parameters"] == 10431
    training.train(tiny_data, tmp_path / "b.pt", s)
    a, b = torch.load(tmp_path / "a.pt"), torch.load(tmp_path / "b.pt")
    assert all(torch.equal(a[k], b[k]) for k in a)  # the same seed, the same weights
    net = zerodce.load(tmp_path / "a.pt")
    assert any(not torch.equal(v, w) for v, w in zip(net.state_dict().values(), zerodce.ZeroDCE().state_dict().values()))


def test_darkening_is_physical():
    rng = np.random.default_rng(0)
    clean = np.full((64, 64, 3), 188, np.uint8)  # linear 0.5
    dark = training.darken(clean, 0.1, 1e6, 0.0, rng)  # practically noiseless: linear 0.05
    assert abs(dark.mean() - 255 * training.linear_to_srgb(np.array(0.05))) < 1.0


def test_train_command_without_data_is_one_line_error(tmp_path):
    result = run_vproc("train", "lowlight", "--data", tmp_path / "nonexistent")
    assert result.returncode == 2, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("vproc: error: ") and "nonexistent" in lines[0]


def test_train_is_listed_in_help():
    result = run_vproc("train", "--help")
    assert result.returncode == 0 and "lowlight" in result.stdout
