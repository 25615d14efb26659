"""The shipped ``vsr`` network weights (``vproc/weights/vsrnet_x<s>_bi.pt``): they load, fit the
parameter budget, and reproduce the model card's number (the synthetic check of
:func:`vproc.training.vsr.synthetic_check`, a scene drawn from formulas: no data needed); and
``transcode --sr-method net`` runs them end to end."""

from __future__ import annotations

import json
import pytest
import torch

from vproc.models import vsrnet
from vproc.training import vsr as training

from .. import media

CARD = vsrnet.WEIGHTS_DIR / "README.md"
SHIPPED = [s for s in (2, 4) if vsrnet.default_weights(s).is_file()]
scales = pytest.mark.parametrize("scale", SHIPPED or [pytest.param(0, marks=pytest.mark.skip(reason="no vsr weights shipped"))])


@scales
def test_shipped_weights_load_within_the_budget(scale):
    net = vsrnet.load(vsrnet.default_weights(scale))
    assert not net.training and net.scale == scale and not net.causal and net.channels == 1
    assert vsrnet.parameter_count(net) <= vsrnet.MAX_PARAMETERS
    assert vsrnet.default_weights(scale).stat().st_size < 2_000_000


@scales
def test_shipped_weights_reproduce_the_model_card(scale):
    torch.set_num_threads(2)
    path = vsrnet.default_weights(scale)
    card = json.loads(path.with_suffix(".json").read_text())["metrics"]["synthetic"]
    got = training.synthetic_check(vsrnet.load(path))
    assert got["psnr_y_net"] == pytest.approx(card["psnr_y_net"], abs=1e-3)
    assert got["psnr_y_bicubic"] == pytest.approx(card["psnr_y_bicubic"], abs=1e-3)
    assert got["gain_db"] > 0.5  # the network adds detail bicubic cannot
    assert f"{card['psnr_y_net']:.3f} dB" in CARD.read_text()


@scales
def test_transcode_with_the_network(scale, clip_mp4, clip_info, tmp_path):
    out = tmp_path / "net.mp4"
    result = media.run_vproc("transcode", clip_mp4, out, "--sr", str(scale), "--sr-method", "net", "--sr-adapt", "3",
                       "--json")
    assert result.returncode == 0, result.stderr
    stage = [s for s in json.loads(result.stdout)["stages"] if s["kind"] == "vsr"][0]
    assert stage["summary"]["adapt"]["steps"] == 3
    info = media.inspect(out)
    assert (info.width, info.height) == (scale * clip_info.width, scale * clip_info.height)
    assert info.video_times == clip_info.video_times


# -- the stream weights (trained on real encodings: degradation "stream") ----------------------

STREAM = [s for s in (2, 4) if vsrnet.default_weights(s, "stream").is_file()]
stream_scales = pytest.mark.parametrize(
    "scale", STREAM or [pytest.param(0, marks=pytest.mark.skip(reason="no stream vsr weights shipped"))])


@stream_scales
def test_stream_weights_load_and_reproduce_the_model_card(scale):
    torch.set_num_threads(2)
    path = vsrnet.default_weights(scale, "stream")
    net = vsrnet.load(path)
    assert net.scale == scale and vsrnet.parameter_count(net) <= vsrnet.MAX_PARAMETERS
    card = json.loads(path.with_suffix(".json").read_text())
    assert card["settings"]["degradation"] == "stream"
    got = training.synthetic_check(net, "stream")
    # The check's clips go through the bundled libx264: another x264 build may code them a
    # little differently, hence a tolerance wider than the clean weights' 1e-3 dB.
    want = card["metrics"]["synthetic"]
    assert got["psnr_y_net"] == pytest.approx(want["psnr_y_net"], abs=0.05)
    assert got["psnr_y_bicubic"] == pytest.approx(want["psnr_y_bicubic"], abs=0.05)
    assert got["gain_db"] > 0  # on coded input too, the network adds what bicubic cannot
    clean = training.synthetic_check(vsrnet.load(vsrnet.default_weights(scale)), "stream")
    assert got["psnr_y_net"] > clean["psnr_y_net"]  # and more than the clean weights do there


@stream_scales
def test_transcode_of_an_h264_file_picks_the_stream_weights(scale, clip_mp4, tmp_path):
    out = tmp_path / "net.mp4"
    result = media.run_vproc("transcode", clip_mp4, out, "--sr", str(scale), "--sr-method", "net", "--json")
    assert result.returncode == 0, result.stderr
    stage = [s for s in json.loads(result.stdout)["stages"] if s["kind"] == "vsr"][0]
    assert stage["summary"]["weights"] == "stream"
