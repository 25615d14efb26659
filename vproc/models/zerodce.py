"""Zero-DCE++ curve estimation (Li, Guo, Loy, TPAMI 2021), adapted to keep colour.

The network (:class:`ZeroDCE`) estimates, from a downscaled copy of the frame, a map ``A`` of
light-enhancement curve parameters in [-1, 1] (``tanh``); ``A`` is upsampled bilinearly to the
full size and the curve ``LE(x) = x + A x (1 - x)`` is applied :data:`ITERATIONS` times (8, one
``A`` shared by all iterations, as Zero-DCE++ does). For ``|A| <= 1`` each iteration is increasing
on [0, 1] (its slope ``1 + A (1 - 2x)`` is >= 0) and maps 0 to 0 and 1 to 1, so the iterated
curve is monotonic, stays in [0, 1] and leaves white at white: highlights are not clipped.

Architecture, as the paper's: seven depthwise-separable 3x3 convolutions (a depthwise 3x3 and a
pointwise 1x1, each with a bias), 32 channels, ReLU, with the symmetric skip concatenations
(layer 5 takes layers 3 and 4, layer 6 takes 2 and 5, layer 7 takes 1 and 6). Two deliberate
differences (the model card, ``vproc/weights/README.md``, has the measurements):

- Colour. Zero-DCE++ estimates three maps and bends R, G and B with separate curves, which
  shifts hue wherever the maps differ (and even with equal maps, a curve applied per channel
  desaturates: it lifts the small channel more than the large one). Here the net estimates one
  map (``curve_channels=1``, 10,431 parameters instead of 10,561); the curve is applied to the
  intensity ``I = max(R, G, B)`` and all three channels are scaled by ``LE^8(I) / I``, as the
  parametric path of the ``lowlight`` node does: channel ratios (hue and saturation) are kept
  exactly, and no channel exceeds ``LE^8(I) <= 1``. ``curve_channels=3`` gives the paper's
  per-channel curves, for comparison.
- Borders. The input is padded once by replicating its border 7 pixels (the receptive radius of
  seven 3x3 layers) and the convolutions are unpadded (skips cropped to match), instead of zero
  padding at every layer: the net sees the frame as if it went on beyond its edges, not as if
  it were framed in black (which, to a low-light net, looks like a dark region to lift).
  Padding every layer by replication instead measured almost twice the training time on the CPU.

Resolution. The net runs on the frame shrunk (area averaging) by the integer factor
:func:`scale_for` picks: the smallest that brings the short side to at most :data:`SHORT_SIDE`
(256) pixels (1 for 256p, 3 for 720p, 5 for 1080p), so its cost hardly grows with the frame size;
the curve map is smooth (the training penalises its gradients), so little is lost upsampling it.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ConfigError

#: LE iterations (Zero-DCE++: 8, sharing one map).
ITERATIONS = 8
#: The network sees the frame shrunk so that its short side is at most this many pixels.
SHORT_SIDE = 256
#: The weights shipped with vproc (a torch state dict).
DEFAULT_WEIGHTS = Path(__file__).resolve().parent.parent / "weights" / "zerodce_lowlight.pt"
_EPS = 1e-6  # intensities below this count as black when dividing by I
_RADIUS = 7  # receptive radius of seven 3x3 layers: the input's replicated border


def _crop(x: torch.Tensor, n: int) -> torch.Tensor:
    return x[..., n:-n, n:-n]


class SeparableConv(nn.Module):
    """Depthwise 3x3 (unpadded) then pointwise 1x1: Zero-DCE++'s building block."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.depth = nn.Conv2d(cin, cin, 3, groups=cin)
        self.point = nn.Conv2d(cin, cout, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.point(self.depth(x))


class ZeroDCE(nn.Module):
    """The curve-estimation network: RGB in [0, 1] ``(N, 3, h, w)`` -> maps ``(N, C, h, w)`` in [-1, 1].

    Args:
        curve_channels: 1 (one map applied on the intensity: colour kept) or 3 (per-channel
            curves, as the paper).
        width: feature channels (32 in the paper).
    """

    def __init__(self, curve_channels: int = 1, width: int = 32):
        super().__init__()
        if curve_channels not in (1, 3):
            raise ConfigError(f"ZeroDCE: curve_channels must be 1 or 3 (got {curve_channels})")
        self.curve_channels = curve_channels
        self.conv1 = SeparableConv(3, width)
        self.conv2 = SeparableConv(width, width)
        self.conv3 = SeparableConv(width, width)
        self.conv4 = SeparableConv(width, width)
        self.conv5 = SeparableConv(2 * width, width)
        self.conv6 = SeparableConv(2 * width, width)
        self.conv7 = SeparableConv(2 * width, curve_channels)

    def curves(self, x: torch.Tensor) -> torch.Tensor:
        """Curve maps for (already downscaled) RGB ``x``, at its size."""
        # Each unpadded 3x3 layer takes one pixel off every side; skips are cropped to match.
        x = F.pad(x, (_RADIUS,) * 4, mode="replicate")
        x1 = F.relu(self.conv1(x))
        x2 = F.relu(self.conv2(x1))
        x3 = F.relu(self.conv3(x2))
        x4 = F.relu(self.conv4(x3))
        x5 = F.relu(self.conv5(torch.cat([_crop(x3, 1), x4], 1)))
        x6 = F.relu(self.conv6(torch.cat([_crop(x2, 3), x5], 1)))
        return torch.tanh(self.conv7(torch.cat([_crop(x1, 5), x6], 1)))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Enhance full-size RGB ``x`` ``(N, 3, H, W)``: returns (enhanced, maps at the net's size)."""
        a = self.curves(downscale(x))
        return enhance(x, a), a


def parameter_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def scale_for(height: int, width: int, short_side: int = SHORT_SIDE) -> int:
    """The integer factor the frame is shrunk by before the net: short side at most ``short_side``."""
    return max(1, math.ceil(min(height, width) / short_side))


def downscale(x: torch.Tensor, factor: int | None = None) -> torch.Tensor:
    """``x`` ``(N, C, H, W)`` shrunk by ``factor`` (default :func:`scale_for`) by area averaging;
    the size is rounded up, so every pixel is covered."""
    h, w = x.shape[-2:]
    factor = scale_for(h, w) if factor is None else factor
    if factor == 1:
        return x
    return F.interpolate(x, size=(math.ceil(h / factor), math.ceil(w / factor)), mode="area")


def le_curve(x: torch.Tensor, a: torch.Tensor, iterations: int = ITERATIONS) -> torch.Tensor:
    """``LE(x) = x + a x (1 - x)`` applied ``iterations`` times with the same ``a``."""
    for _ in range(iterations):
        x = x + a * x * (1 - x)
    return x


def enhance(rgb: torch.Tensor, a: torch.Tensor, iterations: int = ITERATIONS,
            out: torch.Tensor | None = None) -> torch.Tensor:
    """Apply curve maps ``a`` ``(N, 1 or 3, h, w)`` (any size: upsampled bilinearly) to ``rgb``.

    One map: the curve bends the intensity ``I = max(R, G, B)`` and every channel is scaled by
    ``LE(I) / I`` (hue and saturation kept). Three maps: one curve per channel (the paper's way).
    The result is clamped to [0, 1] (it is inside already, up to float rounding). ``out``: an
    optional tensor of ``rgb``'s shape to write into.
    """
    if a.shape[-2:] != rgb.shape[-2:]:
        a = F.interpolate(a, size=rgb.shape[-2:], mode="bilinear", align_corners=False)
    if a.shape[1] == 3:
        y = le_curve(rgb.clamp(0, 1), a, iterations)
    else:
        i = rgb.amax(1, keepdim=True)
        gain = le_curve(i.clamp(0, 1), a, iterations) / i.clamp_min(_EPS)
        y = torch.mul(rgb, gain, out=out) if out is not None else rgb * gain
    if out is not None and y is not out:
        out.copy_(y)
        y = out
    return y.clamp_(0, 1)


def load(path: str | Path | None = None, device: str = "cpu") -> ZeroDCE:
    """The network with the weights at ``path`` (default: the shipped :data:`DEFAULT_WEIGHTS`),
    in eval mode on ``device``. A missing or unusable file is a :class:`ConfigError` (one line)."""
    path = Path(path) if path is not None else DEFAULT_WEIGHTS
    if not path.is_file():
        hint = " (run `vproc train lowlight` to make it)" if path == DEFAULT_WEIGHTS else ""
        raise ConfigError(f"lowlight weights not found: {path}{hint}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        channels = int(state["conv7.point.weight"].shape[0])
        model = ZeroDCE(curve_channels=channels)
        model.load_state_dict(state)
    except ConfigError:
        raise
    except Exception as exc:  # a file that is not a state dict of this network, in any way
        raise ConfigError(f"lowlight weights {path} are not a ZeroDCE state dict "
                          f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})") from None
    return model.to(device).eval()
