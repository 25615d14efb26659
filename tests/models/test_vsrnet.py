"""The vsr network with random weights (the shipped ones: test_vsr_weights.py): size, shapes, the
causal window, the degradation model against the flow method's kernels, a tiny deterministic
training run and the command."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from vproc.errors import ConfigError
from vproc.kernels.vsr import vsr_blur
from vproc.models import vsrnet
from vproc.training import vsr as training

from ..media import run_vproc


@pytest.mark.parametrize("scale", [2, 4])
def test_parameter_count_is_within_budget(scale):
    for causal in (False, True):
        n = vsrnet.parameter_count(vsrnet.VSRNet(scale, causal=causal))
        assert 200_000 < n <= vsrnet.MAX_PARAMETERS, n
    assert vsrnet.parameter_count(vsrnet.VSRNet(4)) == 289_547


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_output_is_scale_times_any_input_size(scale):
    torch.manual_seed(0)
    net = vsrnet.VSRNet(scale, radius=1).eval()
    with torch.no_grad():
        for h, w in ((9, 13), (17, 5), (16, 20)):
            y = net(torch.rand(2, net.window, 1, h, w))
            assert y.shape == (2, 1, scale * h, scale * w)
            assert torch.isfinite(y).all()


def test_untrained_net_is_bicubic_of_the_centre_plus_a_learned_detail():
    torch.manual_seed(0)
    net = vsrnet.VSRNet(2, radius=1).eval()
    for p in net.up[-1].parameters():  # the last layer zeroed: the output is the global skip
        torch.nn.init.zeros_(p)
    x = torch.rand(1, 3, 1, 12, 12)
    with torch.no_grad():
        y = net(x)
    ref = torch.nn.functional.interpolate(x[:, 1], scale_factor=2, mode="bicubic", align_corners=False)
    assert torch.allclose(y, ref, atol=1e-6)


def test_causal_flag_changes_the_window():
    for radius in (1, 2):
        full, causal = vsrnet.VSRNet(4, radius), vsrnet.VSRNet(4, radius, causal=True)
        assert (full.window, full.center) == (2 * radius + 1, radius)
        assert (causal.window, causal.center) == (radius + 1, radius)  # the latest frame, no look-ahead
        with pytest.raises(ConfigError, match="expected frames"):
            causal(torch.rand(1, full.window, 1, 8, 8))
    torch.manual_seed(0)
    net = vsrnet.VSRNet(2, 1, causal=True).eval()
    x = torch.rand(1, 2, 1, 8, 8)
    with torch.no_grad():
        a = net(x)
        b = net(torch.stack([x[:, 0], x[:, 1]], 1))
        c = net(torch.stack([torch.rand(1, 1, 8, 8), x[:, 1]], 1))  # another past frame
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_bad_constructor_arguments_are_config_errors():
    with pytest.raises(ConfigError):
        vsrnet.VSRNet(5)
    with pytest.raises(ConfigError):
        vsrnet.VSRNet(4, radius=3)


def test_warp_by_a_whole_pixel_shifts():
    x = torch.arange(48.0).reshape(1, 1, 6, 8)
    flow = torch.zeros(1, 2, 6, 8)
    flow[:, 0] = 1.0
    y = vsrnet.warp(x, flow)
    assert torch.allclose(y[..., :-1], x[..., 1:]) and torch.allclose(y[..., -1], x[..., -1])


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_bi_degradation_matches_the_flow_methods_model(scale):
    rng = np.random.default_rng(scale)
    hr = rng.random((11 * scale, 7 * scale)).astype(np.float32)
    ref = vsr_blur(hr, scale)[scale // 2::scale, scale // 2::scale]
    got = training.degrade(torch.from_numpy(hr)[None, None], scale, "bi")[0, 0].numpy()
    assert got.shape == ref.shape == (11, 7)
    np.testing.assert_allclose(got, ref, atol=1e-4)


def test_bd_degradation_is_gaussian_1_6_then_subsampling():
    import cv2

    rng = np.random.default_rng(0)
    hr = rng.random((32, 40)).astype(np.float32)
    blurred = cv2.GaussianBlur(hr, (13, 13), 1.6, borderType=cv2.BORDER_REPLICATE)
    got = training.degrade(torch.from_numpy(hr)[None, None], 4, "bd")[0, 0].numpy()
    np.testing.assert_allclose(got, blurred[2::4, 2::4], atol=1e-5)
    flat = training.degrade(torch.full((1, 1, 16, 16), 0.3), 4, "bd")
    assert torch.allclose(flat, torch.full_like(flat, 0.3), atol=1e-6)


def test_synthetic_clip_moves_the_neighbours_and_keeps_the_centre():
    s = training.Settings(scale=2, lr_crop=16, radius=1)
    rng = np.random.default_rng(0)
    img = (np.random.default_rng(1).random((90, 100)) * 255).astype(np.uint8)
    clip = training.synthetic_clip(img, s, rng)
    assert clip.shape == (3, 32, 32) and clip.dtype == np.float32
    assert 0 <= clip.min() and clip.max() <= 1
    flat = img.astype(np.float32) / 255
    centre = clip[1]  # a crop of the image itself, not resampled
    hits = [(y, x) for y in range(90 - 31) for x in range(100 - 31) if np.array_equal(flat[y:y + 32, x:x + 32], centre)]
    assert len(hits) == 1
    assert not np.allclose(clip[0], centre) and not np.allclose(clip[2], centre)


def _tiny_images():
    rng = np.random.default_rng(3)
    return [(rng.random((70, 80, 3)) * 255).astype(np.uint8) for _ in range(3)]


def test_two_training_steps_run_deterministically_and_save(tmp_path):
    s = training.Settings(batch=2, lr_crop=12, radius=1, features=16, blocks=1)
    seen = []
    summary = training.train(2, "bi", 2, None, tmp_path / "a.pt", 7, lambda k, n, loss: seen.append((k, n, loss)),
                             settings=s, images=_tiny_images())
    assert [(k, n) for k, n, _ in seen] == [(1, 2), (2, 2)] and all(math.isfinite(l) for _, _, l in seen)
    saved = json.loads((tmp_path / "a.json").read_text())
    assert saved["settings"]["scale"] == 2 and saved["settings"]["seed"] == 7 and saved["data"]["sources"] == {"memory": 3}
    assert len(saved["loss_curve"]["mean"]) == 2 and saved["parameters"] == summary["parameters"]
    training.train(2, "bi", 2, None, tmp_path / "b.pt", 7, settings=s, images=_tiny_images())
    a, b = torch.load(tmp_path / "a.pt"), torch.load(tmp_path / "b.pt")
    assert a["config"] == b["config"] and all(torch.equal(a["state"][k], b["state"][k]) for k in a["state"])
    net = vsrnet.load(tmp_path / "a.pt")
    assert (net.scale, net.window) == (2, 3)
    result = training.evaluate(net, "bi", images=_tiny_images(), clips_per_image=1, lr_size=16)
    assert result["clips"] == 3 and math.isfinite(result["psnr_y_net"]) and math.isfinite(result["psnr_y_bicubic"])


def test_a_stopped_training_resumes_from_its_checkpoint_bit_for_bit(tmp_path):
    s = training.Settings(batch=2, lr_crop=12, radius=1, features=16, blocks=1)
    kw = dict(settings=s, images=_tiny_images(), checkpoint_every=2)
    training.train(2, "bi", 5, None, tmp_path / "whole.pt", 7, **kw)

    class Crash(Exception):
        pass

    def crash_after_3(step, steps, loss):
        if step == 3:
            raise Crash

    with pytest.raises(Crash):
        training.train(2, "bi", 5, None, tmp_path / "cut.pt", 7, crash_after_3, **kw)
    ckpt = training.checkpoint_path(tmp_path / "cut.pt")
    assert ckpt.is_file() and not (tmp_path / "cut.pt").exists()
    steps = []
    summary = training.train(2, "bi", 5, None, tmp_path / "cut.pt", 7, lambda k, n, l: steps.append(k), **kw)
    assert steps == [3, 4, 5] and summary["resumed_at_step"] == 3 and not ckpt.exists()
    a, b = torch.load(tmp_path / "whole.pt"), torch.load(tmp_path / "cut.pt")
    assert all(torch.equal(a["state"][k], b["state"][k]) for k in a["state"])
    whole = json.loads((tmp_path / "whole.json").read_text())
    assert whole["loss_curve"] == summary["loss_curve"]


def test_a_checkpoint_of_other_settings_is_not_resumed(tmp_path):
    s = training.Settings(batch=2, lr_crop=12, radius=1, features=16, blocks=1)

    def stop_at_2(step, steps, loss):
        if step == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        training.train(2, "bi", 4, None, tmp_path / "w.pt", 7, stop_at_2, settings=s, images=_tiny_images(),
                       checkpoint_every=2)
    steps = []
    training.train(2, "bi", 4, None, tmp_path / "w.pt", 8, lambda k, n, l: steps.append(k), settings=s,
                   images=_tiny_images(), checkpoint_every=2)  # another seed: starts over
    assert steps == [1, 2, 3, 4]


def test_missing_or_broken_weights_are_one_line_errors(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        vsrnet.load(tmp_path / "none.pt")
    (tmp_path / "bad.pt").write_bytes(b"not a torch file")
    with pytest.raises(ConfigError, match="not a VSRNet file"):
        vsrnet.load(tmp_path / "bad.pt")


def test_missing_data_folder_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        training.TrainingData(tmp_path / "nonexistent", training.Settings())


def test_train_vsr_command_without_data_is_one_line_error(tmp_path):
    result = run_vproc("train", "vsr", "--scale", "4", "--data", tmp_path / "nonexistent")
    assert result.returncode == 2, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("vproc: error: ") and "nonexistent" in lines[0]


def test_train_vsr_is_listed_in_help():
    result = run_vproc("train", "--help")
    assert result.returncode == 0 and "vsr" in result.stdout
