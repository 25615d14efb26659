"""The ``stream`` degradation: real encodings of the training clips (:mod:`vproc.training.codec`),
the coded pool training draws from, and the ``vsr`` node's choice of weights by the source's codec."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from vproc.errors import ConfigError
from vproc.io.source import Source
from vproc.models import vsrnet
from vproc.nodes import vsr as vsr_node
from vproc.training import codec
from vproc.training import vsr as training

from .. import media


def moving_pattern(frames: int = 7, side: int = 64) -> np.ndarray:
    yy, xx = np.mgrid[0:side, 0:side].astype(np.float64)
    return np.stack([np.clip(128 + 60 * np.sin((xx - 1.3 * i) / 3.0) * np.cos(yy / 4.0), 0, 255).astype(np.uint8)
                     for i in range(frames)])


def rmse(a, b) -> float:
    return float(np.sqrt(np.mean((a.astype(np.float64) - b) ** 2)))


def test_encode_decode_round_trip_is_lossy_deterministic_and_worse_at_higher_crf():
    frames = moving_pattern()
    low, high = codec.encode_decode(frames, "x264", 18), codec.encode_decode(frames, "x264", 35)
    assert low.shape == frames.shape and low.dtype == np.uint8
    assert np.array_equal(low, codec.encode_decode(frames, "x264", 18))  # single-threaded: same bytes
    assert 0 < rmse(low, frames) < rmse(high, frames)


@pytest.mark.parametrize("name", [n for n, (enc, _) in codec.ENCODERS.items() if n != "x264"])
def test_every_codec_of_the_mix_round_trips(name):
    if codec.ENCODERS[name][0] not in codec.video_encoders():
        pytest.skip(f"this FFmpeg has no {codec.ENCODERS[name][0]}")
    frames = moving_pattern(5)
    out = codec.encode_decode(frames, name, 28)
    assert out.shape == frames.shape and 0 < rmse(out, frames) < 20


def test_noise_before_encoding_and_bad_inputs():
    frames = moving_pattern(5)
    clean = codec.encode_decode(frames, "x264", 18)
    noisy = codec.encode_decode(frames, "x264", 18, noise=6.0, rng=np.random.default_rng(0))
    assert rmse(noisy, frames) > rmse(clean, frames)
    with pytest.raises(ConfigError, match="even-sized"):
        codec.encode_decode(frames[:, :63, :64], "x264", 23)
    with pytest.raises(ConfigError, match="at least 64"):
        codec.encode_decode(frames[:, :32, :32], "x264", 23)
    with pytest.raises(ConfigError, match="unknown training codec"):
        codec.encode_decode(frames, "mpeg9", 23)


def test_draw_follows_the_mix():
    mix = codec.CodecMix((("x264", 1.0), ("vp9", 0.0)), (20, 22), noise=3.0, noise_share=1.0)
    rng = np.random.default_rng(1)
    draws = [codec.draw(mix, rng) for _ in range(20)]
    assert {d[0] for d in draws} == {"x264"} and {d[1] for d in draws} <= {20, 21, 22}
    assert all(0 <= d[2] <= 3.0 for d in draws) and any(d[2] > 0 for d in draws)
    with pytest.raises(ConfigError, match="unknown codec"):
        codec.CodecMix((("x266", 1.0),))
    with pytest.raises(ConfigError, match="codecs must read like"):
        training.Settings(degradation="stream", codecs="x264=1")


def _tiny_images():
    rng = np.random.default_rng(3)
    return [(rng.random((140, 150, 3)) * 255).astype(np.uint8) for _ in range(2)]


def test_stream_training_draws_crops_from_a_coded_pool_and_starts_from_init(tmp_path):
    s = training.Settings(scale=2, batch=2, lr_crop=16, radius=1, features=16, blocks=1, pool=3, pool_frames=5, pool_lr=64,
                          codecs="x264:1")
    training.train(2, "bi", 1, None, tmp_path / "clean.pt", 7, settings=s, images=_tiny_images())
    seen = []
    summary = training.train(2, "stream", 2, None, tmp_path / "stream.pt", 7, settings=dataclasses.replace(
        s, init=str(tmp_path / "clean.pt")), images=_tiny_images(),
        pool_report=lambda done, total: seen.append((done, total)))
    assert seen == [(1, 3), (2, 3), (3, 3)]
    assert summary["data"]["sources"] == {"memory": 2, "pool": 3, "pool x264": 3}
    assert summary["settings"]["init"].endswith("clean.pt") and math.isfinite(summary["first_loss"])
    data = training.TrainingData(None, s, _tiny_images())
    data.coded_pool(s)
    lr, hr = data.pool.batch(s, np.random.default_rng(0))
    assert tuple(lr.shape) == (2, 3, 1, 16, 16) and tuple(hr.shape) == (2, 1, 32, 32)
    assert 0 <= float(lr.min()) and float(lr.max()) <= 1
    net = vsrnet.load(tmp_path / "stream.pt")
    result = training.evaluate(net, "stream", images=_tiny_images(), clips_per_image=1)
    assert result["clips"] == 2 and math.isfinite(result["psnr_y_net"])


def test_init_weights_of_another_network_are_refused(tmp_path):
    s = training.Settings(batch=2, lr_crop=12, radius=1, features=16, blocks=1, init="vsrnet_x2_bi.pt")
    with pytest.raises(ConfigError, match="init weights"):
        training.train(2, "bi", 1, None, tmp_path / "x.pt", 7, settings=s, images=_tiny_images())


def test_auto_picks_stream_weights_for_lossy_delivery_codecs(monkeypatch, tmp_path):
    shipped = {2: tmp_path / "vsrnet_x2_stream.pt"}
    shipped[2].write_bytes(b"")
    monkeypatch.setattr(vsrnet, "default_weights",
                        lambda scale, degradation="bi": shipped.get(scale, tmp_path / "none.pt")
                        if degradation == "stream" else tmp_path / f"x{scale}_{degradation}.pt")
    pick = vsr_node.weights_degradation
    assert pick("auto", 2, "h264") == "stream" and pick("auto", 2, "vp9") == "stream"
    assert pick("auto", 2, "ffv1") == "bi" and pick("auto", 2, None) == "bi"  # lossless, or not from a stream
    assert pick("auto", 4, "h264") == "bi"  # no x4 stream weights: the clean ones
    assert pick("clean", 2, "h264") == "bi" and pick("stream", 2, None) == "stream" and pick("bd", 2, "h264") == "bd"


def test_the_source_tells_the_codec(tmp_path):
    clip = tmp_path / "c.mp4"
    media.make_clip(clip, seconds=0.2, audio=False)
    with Source(str(clip)) as src:
        assert src.info.codec == "h264"
