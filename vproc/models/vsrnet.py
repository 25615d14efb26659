"""A small sliding-window video super-resolution network (the future ``vsr`` node's ``method: net``).

:class:`VSRNet` maps a window of low-res (LR) luma frames ``(N, T, C, h, w)`` (floats in [0, 1],
``C = channels``, 1 by default: the luma, as the ``flow`` method and the SR benchmarks' Y-PSNR)
to the high-res centre frame ``(N, C, s h, s w)``. Design ("TDAN-lite", implicit alignment, no
external optical flow):

1. A shared feature extractor (two 3x3 convolutions) runs on every frame of the window.
2. Alignment: for each neighbour a tiny flow subnet (:class:`FlowNet`: the centre and the
   neighbour stacked, two stride-2 levels, receptive radius about 20 LR pixels) predicts a dense
   flow in LR pixels from the centre to the neighbour; the neighbour's *features* are warped
   onto the centre with ``grid_sample`` (bilinear, border replicated). The flow's last layer is
   zero-initialised: training starts from plain early fusion (no warp) and learns the offsets
   from the super-resolution loss alone (no flow supervision).
3. Early fusion of the centre's and the warped neighbours' features (1x1 convolution), a
   residual body (``blocks`` conv-ReLU-conv blocks), then sub-pixel upsampling (a 3x3
   convolution and ``PixelShuffle(2)`` per factor 2, one ``PixelShuffle(3)`` for x3), and the
   bicubic upscale of the centre frame as a global skip: the net learns only the detail.

Window: ``2 radius + 1`` frames with the centre in the middle, or with ``causal=True`` the
``radius + 1`` most recent frames, the output frame last (no look-ahead: for live use, no
latency from future frames). :attr:`VSRNet.window` and :attr:`VSRNet.center` say which.

Any size: the input is padded (replicated border) to a multiple of 4 (the flow subnet's two
stride-2 levels) and the output cropped back to exactly ``scale`` x the input. Pure torch: runs
on CPU and CUDA tensors alike. Parameters (defaults: 48 features, 4 blocks, radius 2): x4
289,547 (causal 284,939), x2 280,267 (causal 275,659), x3 314,907; :func:`parameter_count`.

Speed: keep the model and its input ``channels_last`` on the CPU (:meth:`VSRNet.forward`
converts the input): with the default NCHW layout oneDNN's convolution backward measured 16x
slower (2.6 s against 0.16 s per training step, batch 8 of 5 x 32 x 32 LR, two threads).
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ConfigError

SCALES = (2, 3, 4)
#: The flow subnet works down to 1/4 of the LR size: inputs are padded to a multiple of this.
MULTIPLE = 4
#: Parameter budget of the issue (x4, the largest net).
MAX_PARAMETERS = 300_000
WEIGHTS_DIR = Path(__file__).resolve().parent.parent / "weights"


def default_weights(scale: int, degradation: str = "bi") -> Path:
    """Where the shipped weights for ``scale`` and ``degradation`` will live (none shipped yet)."""
    return WEIGHTS_DIR / f"vsrnet_x{int(scale)}_{degradation}.pt"


def _act(x: torch.Tensor) -> torch.Tensor:
    return F.leaky_relu(x, 0.1)


class ResBlock(nn.Module):
    """conv 3x3 - ReLU - conv 3x3, added to the input."""

    def __init__(self, features: int):
        super().__init__()
        self.conv1 = nn.Conv2d(features, features, 3, padding=1)
        self.conv2 = nn.Conv2d(features, features, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(F.relu(self.conv1(x)))


class FlowNet(nn.Module):
    """Flow (dx, dy) in LR pixels from the centre to a neighbour, from the two frames stacked.

    Full resolution, then two stride-2 levels; the flow is estimated at 1/4 size and upsampled
    bilinearly (it is smooth where it matters). Input sides must be multiples of 4."""

    def __init__(self, channels: int, features: int = 24):
        super().__init__()
        f = features
        self.conv1 = nn.Conv2d(2 * channels, f, 3, padding=1)
        self.conv2 = nn.Conv2d(f, 2 * f, 3, stride=2, padding=1)
        self.conv3 = nn.Conv2d(2 * f, 2 * f, 3, stride=2, padding=1)
        self.conv4 = nn.Conv2d(2 * f, 2 * f, 3, padding=1)
        self.out = nn.Conv2d(2 * f, 2, 3, padding=1)
        nn.init.zeros_(self.out.weight)  # start from no warp: plain early fusion
        nn.init.zeros_(self.out.bias)

    def forward(self, center: torch.Tensor, nbr: torch.Tensor) -> torch.Tensor:
        x = _act(self.conv1(torch.cat([center, nbr], 1)))
        x = _act(self.conv2(x))
        x = _act(self.conv3(x))
        x = _act(self.conv4(x))
        return F.interpolate(self.out(x), size=center.shape[-2:], mode="bilinear", align_corners=False)


def warp(x: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    """``x`` ``(N, C, h, w)`` sampled at ``p + flow(p)`` (bilinear, border replicated): the
    neighbour brought onto the centre's grid. ``flow`` ``(N, 2, h, w)`` in pixels (dx, dy)."""
    n, _, h, w = x.shape
    ys = torch.arange(h, device=x.device, dtype=x.dtype)
    xs = torch.arange(w, device=x.device, dtype=x.dtype)
    gy, gx = torch.meshgrid(ys, xs, indexing="ij")
    # align_corners=False: pixel p sits at normalised (2 p + 1) / size - 1
    sx = (2 * (gx + flow[:, 0]) + 1) / w - 1
    sy = (2 * (gy + flow[:, 1]) + 1) / h - 1
    grid = torch.stack([sx, sy], -1)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


class Upsampler(nn.Sequential):
    """Sub-pixel upsampling: per factor 2 a 3x3 conv to ``4 u`` channels and ``PixelShuffle(2)``
    (x3: ``9 u`` and ``PixelShuffle(3)``), then a 3x3 conv to ``channels``."""

    def __init__(self, scale: int, features: int, up_features: int, channels: int):
        layers: list[nn.Module] = []
        cin = features
        for factor in ([2] * (scale // 2) if scale in (2, 4) else [3]):
            layers += [nn.Conv2d(cin, factor * factor * up_features, 3, padding=1), nn.PixelShuffle(factor),
                       nn.LeakyReLU(0.1)]
            cin = up_features
        layers.append(nn.Conv2d(cin, channels, 3, padding=1))
        super().__init__(*layers)


class VSRNet(nn.Module):
    """Sliding-window VSR: ``(N, T, C, h, w)`` LR window -> ``(N, C, scale h, scale w)`` HR centre.

    Args:
        scale: 2, 3 or 4.
        radius: 1 or 2: neighbours on each side (causal: past frames).
        causal: the window is the ``radius + 1`` latest frames, the output frame last.
        channels: planes per frame (1: luma).
        features: feature channels of the extractor and body.
        blocks: residual blocks in the body.
        flow_features: width of the flow subnet's first level (doubled below).
        up_features: channels after each pixel shuffle.
    """

    def __init__(self, scale: int = 4, radius: int = 2, causal: bool = False, channels: int = 1,
                 features: int = 48, blocks: int = 4, flow_features: int = 24, up_features: int = 16):
        super().__init__()
        if scale not in SCALES:
            raise ConfigError(f"VSRNet: scale must be one of {', '.join(map(str, SCALES))} (got {scale})")
        if radius not in (1, 2):
            raise ConfigError(f"VSRNet: radius must be 1 or 2 (got {radius})")
        self.scale, self.radius, self.causal, self.channels = int(scale), int(radius), bool(causal), int(channels)
        self.config = dict(scale=self.scale, radius=self.radius, causal=self.causal, channels=self.channels,
                           features=features, blocks=blocks, flow_features=flow_features, up_features=up_features)
        self.window = radius + 1 if causal else 2 * radius + 1
        self.center = radius  # index of the output frame in the window (the last one when causal)
        self.feat1 = nn.Conv2d(channels, features, 3, padding=1)
        self.feat2 = nn.Conv2d(features, features, 3, padding=1)
        self.flow = FlowNet(channels, flow_features)
        self.fuse = nn.Conv2d(self.window * features, features, 1)
        self.body = nn.Sequential(*[ResBlock(features) for _ in range(blocks)])
        self.up = Upsampler(self.scale, features, up_features, channels)

    @staticmethod
    def pad(x: torch.Tensor) -> torch.Tensor:
        """Planes ``(M, C, h, w)`` padded (replicated border, bottom and right) to multiples of
        :data:`MULTIPLE`, channels-last."""
        h, w = x.shape[-2:]
        ph, pw = -h % MULTIPLE, -w % MULTIPLE
        if ph or pw:
            x = F.pad(x, (0, pw, 0, ph), mode="replicate")
        return x.contiguous(memory_format=torch.channels_last)

    def features(self, padded: torch.Tensor) -> torch.Tensor:
        """The extractor's features ``(M, features, hp, wp)`` of padded planes (:meth:`pad`): the
        same for a frame in every window, so a caller going through a video may compute them once
        per frame and pass them to :meth:`forward`."""
        return _act(self.feat2(_act(self.feat1(padded))))

    def forward(self, frames: torch.Tensor, feats: torch.Tensor | None = None) -> torch.Tensor:
        """``frames`` ``(N, T, C, h, w)``; ``feats``: their :meth:`features` ``(N, T, features, hp,
        wp)`` if already computed (the same result, less work)."""
        if frames.ndim != 5 or frames.shape[1] != self.window or frames.shape[2] != self.channels:
            raise ConfigError(f"VSRNet: expected frames (N, {self.window}, {self.channels}, h, w) "
                              f"(got {tuple(frames.shape)})")
        n, t, c, h, w = frames.shape
        x = self.pad(frames.reshape(n * t, c, h, w))
        hp, wp = x.shape[-2:]
        if feats is None:
            feats = self.features(x)
        feats = feats.reshape(n, t, -1, hp, wp)
        x = x.reshape(n, t, c, hp, wp)
        centre = x[:, self.center]
        others = [k for k in range(t) if k != self.center]
        aligned = [feats[:, self.center]]
        if others:
            nbrs = x[:, others].reshape(n * len(others), c, hp, wp)
            ctr = centre.unsqueeze(1).expand(n, len(others), c, hp, wp).reshape(n * len(others), c, hp, wp)
            flow = self.flow(ctr, nbrs)
            nf = feats[:, others].reshape(n * len(others), -1, hp, wp)
            warped = warp(nf, flow).reshape(n, len(others), -1, hp, wp)
            aligned += list(warped.unbind(1))
        y = _act(self.fuse(torch.cat(aligned, 1)))
        y = self.up(self.body(y) + y)
        skip = F.interpolate(centre, scale_factor=self.scale, mode="bicubic", align_corners=False)
        s = self.scale
        return (skip + y)[..., :s * h, :s * w]


def parameter_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def load(path: str | Path, device: str = "cpu") -> VSRNet:
    """A network saved by :func:`vproc.training.vsr.train` (a dict with ``config`` and ``state``),
    in eval mode on ``device``. A missing or unusable file is a :class:`ConfigError` (one line)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"vsr weights not found: {path}")
    try:
        saved = torch.load(path, map_location="cpu", weights_only=True)
        model = VSRNet(**saved["config"])
        model.load_state_dict(saved["state"])
    except ConfigError:
        raise
    except Exception as exc:  # not a file of this network, in any way
        raise ConfigError(f"vsr weights {path} are not a VSRNet file "
                          f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})") from None
    return model.to(device).eval()
