"""Training of the video super-resolution network (:mod:`vproc.models.vsrnet`), supervised.

    vproc train vsr --scale 4 [--degradation bi|bd] [--steps N] [--data ../shared/data] [--out PATH] [--seed 0]

Pairs are made here, never read: a high-res (HR) clip of ``window`` frames, its centre frame the
target, degraded to the low-res (LR) input by the benchmark's model (:func:`degrade`):

- ``bi``: MATLAB ``imresize``'s antialiased bicubic downscaling, exactly the filter of
  :func:`vproc.kernels.vsr.degradation_taps` (the ``flow`` method's model and the BI protocol of
  the video SR benchmarks) as a separable torch convolution with a replicated border, sampled at
  HR pixel ``s q + s // 2`` (matches :func:`vproc.kernels.vsr.vsr_blur` to float rounding,
  tests/models/test_vsrnet.py);
- ``bd``: Gaussian blur, sigma 1.6, 13 taps (``fspecial('gaussian', 13, 1.6)``), replicated
  border, then every ``s``-th pixel from ``s // 2`` (MATLAB ``imresize(..., 'nearest')``, the BD
  scripts of the literature, e.g. BasicSR's).

- ``stream``: ``bi``, rounded to 8 bits, then a real encoding and decoding
  (:mod:`vproc.training.codec`: x264, x265, VP9 or AV1 at a CRF drawn from ``crf_min..crf_max``,
  their usual GOPs with I, P and B frames, sometimes noise before encoding): the compressed-Vid4
  protocol of compression-aware VSR (COMISR), what a stream decoded by vproc looks like. Encoding
  every training sample would cost more than the step itself, so a pool of ``pool`` clips of
  ``pool_frames`` frames and ``pool_lr`` LR pixels square is made once, before the first step,
  from its own generator (seeded from ``seed``: a resumed run rebuilds the same pool), each clip
  with its own codec and quality; every batch then takes ``window``-frame, ``lr_crop``-pixel
  crops of random pool clips at random times and places (so the centre frame is an I, P or B
  frame, at any offset to the codec's block grid), flipped and transposed alike in LR and HR.
  ``init`` starts from trained weights (the clean ``bi`` ones: fine-tuning, far fewer steps).

The LR frames are rounded to 8-bit levels (benchmark inputs are 8-bit files). Everything is on
the luma (BT.601 ``Y`` of :func:`vproc.metrics.rgb_to_y`, divided by 255: 16/255..235/255).

Clips (:class:`TrainingData`), from ``--data`` (default ``../shared/data``), Vid4 never read:

- synthetic motion on still images (``train/T91``, ``train/General100``, ``train/BSDS200``,
  minus the held-out :data:`HELD_OUT` images): a random HR crop; every other frame of the window
  is that region under an affine motion path (``grid_sample``, bicubic, reflected border) —
  constant velocity up to ``max_speed`` LR px per frame per axis plus Gaussian sub-pixel jitter
  (``jitter`` LR px), a rotation of up to ``max_rotation`` degrees and a zoom of up to
  ``max_zoom`` per frame; the centre frame is the crop itself (not resampled);
- real motion, a fraction ``video_fraction`` of each batch: consecutive frames (temporal stride
  1..``video_stride``) of ``openpose_video/video.avi`` (720p, 50 fps) and ``vtest_480p/vtest.avi``
  (360p, 10 fps, already compressed), the same crop in each, decoded with PyAV (at most
  ``video_frames`` frames of each).

Random flips and transposition (the whole clip alike). Charbonnier loss on the centre frame,
Adam with a cosine-decayed learning rate. Deterministic given the seed: numpy's PCG64 draws the
data, torch's generator the initial weights, torch runs with deterministic algorithms on two CPU
threads (the float sums of the convolutions' gradients depend on the thread count).

Evaluation (:func:`evaluate`): Y-PSNR (``scale`` border pixels cropped) of the net and of bicubic
on fixed synthetic clips made from the held-out images (not Vid4: that is the test set), and
:func:`synthetic_check`, the same on a scene drawn from formulas (the model card's number the
tests reproduce without any data).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from .. import metrics
from ..errors import ConfigError
from ..kernels.blur import gaussian_kernel
from ..kernels.vsr import degradation_taps
from ..models import vsrnet
from ..io.target import check_writable
from . import codec

#: ``../shared/data`` next to the repository (where the project keeps its data, never committed).
DEFAULT_DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
IMAGE_SETS = ("train/T91", "train/General100", "train/BSDS200")
VIDEOS = ("openpose_video/video.avi", "vtest_480p/vtest.avi")
#: Images never trained on: the held-out set of :func:`evaluate` (file names in their set).
HELD_OUT = {"train/General100": ("im_1.bmp", "im_10.bmp", "im_100.bmp"),
            "train/BSDS200": ("100075.jpg", "100080.jpg", "100098.jpg")}
IMAGE_SUFFIXES = (".bmp", ".jpg", ".jpeg", ".png")
DEGRADATIONS = ("bi", "bd", "stream")
#: ``evaluate`` of ``stream`` weights: x264 at these CRFs, clip by clip in turn.
STREAM_EVAL_CRFS = (23, 28)
BD_SIGMA = 1.6
BD_TAPS = 13
THREADS = 2


@dataclass(frozen=True)
class Settings:
    """Everything that defines a training run (saved next to the weights as JSON)."""

    scale: int = 4
    degradation: str = "bi"
    steps: int = 30000
    seed: int = 0
    batch: int = 8
    lr_crop: int = 32  # LR side of a training crop (HR: scale x this)
    radius: int = 2
    causal: bool = False
    features: int = 48
    blocks: int = 4
    lr: float = 1e-3
    lr_min: float = 1e-5
    charbonnier_eps: float = 1e-3
    grad_clip: float = 1.0
    max_speed: float = 1.5  # LR px per frame, per axis
    jitter: float = 0.25  # LR px, Gaussian, per frame
    max_rotation: float = 1.0  # degrees per frame
    max_zoom: float = 0.01  # relative per frame
    video_fraction: float = 0.25
    video_frames: int = 200
    video_stride: int = 2
    init: str = ""  # weights to start from ("" : random); a path relative to vproc/weights or absolute
    # degradation "stream" (module docstring):
    codecs: str = "x264:0.55,x265:0.2,vp9:0.15,av1:0.1"
    crf_min: int = 18
    crf_max: int = 35
    codec_noise: float = 2.0
    pool: int = 1500
    pool_frames: int = 9
    pool_lr: int = 64

    def __post_init__(self):
        if self.scale not in vsrnet.SCALES:
            raise ConfigError(f"scale must be one of {', '.join(map(str, vsrnet.SCALES))} (got {self.scale})")
        if self.degradation not in DEGRADATIONS:
            raise ConfigError(f"degradation must be one of {', '.join(DEGRADATIONS)} (got {self.degradation!r})")
        if self.degradation == "stream":
            self.codec_mix()  # a bad codec list fails here, before any data is read
            if self.pool < 1 or self.pool_frames < self.window or self.pool_lr < max(self.lr_crop, codec.MIN_SIDE):
                raise ConfigError(f"stream pool: need pool >= 1, pool_frames >= the window ({self.window}) and "
                                  f"pool_lr >= lr_crop and >= {codec.MIN_SIDE} (got {self.pool}, {self.pool_frames}, {self.pool_lr})")
        if self.steps < 1:
            raise ConfigError(f"steps must be >= 1 (got {self.steps})")
        if self.batch < 1 or self.lr_crop < 8:
            raise ConfigError(f"batch must be >= 1 and lr_crop >= 8 (got {self.batch}, {self.lr_crop})")

    @property
    def window(self) -> int:
        return self.radius + 1 if self.causal else 2 * self.radius + 1

    @property
    def center(self) -> int:
        return self.radius

    def codec_mix(self) -> codec.CodecMix:
        """The ``stream`` degradation's codecs, qualities and noise."""
        try:
            weights = tuple((name, float(w)) for name, w in (part.split(":") for part in self.codecs.split(",")))
        except ValueError:
            raise ConfigError(f"codecs must read like x264:0.6,vp9:0.4 (got {self.codecs!r})") from None
        return codec.CodecMix(weights, (self.crf_min, self.crf_max), self.codec_noise)


# -- degradation -----------------------------------------------------------------------------------


def degradation_filter(scale: int, degradation: str) -> np.ndarray:
    """The 1-D float32 taps of the blur before sampling (tap ``n // 2`` on the output pixel);
    ``stream`` downscales as ``bi`` does (the codec comes after)."""
    if degradation in ("bi", "stream"):
        return np.array(degradation_taps(scale), np.float32)  # a writable copy
    if degradation == "bd":
        return np.array(gaussian_kernel(BD_TAPS, BD_SIGMA), np.float32)
    raise ConfigError(f"degradation must be one of {', '.join(DEGRADATIONS)} (got {degradation!r})")


def degrade(hr: torch.Tensor, scale: int, degradation: str = "bi") -> torch.Tensor:
    """HR planes ``(N, C, H, W)`` -> LR ``(N, C, H // s, W // s)``: the separable blur of
    :func:`degradation_filter` (replicated border), then HR pixel ``s q + s // 2`` for LR ``q``.
    ``H`` and ``W`` must be multiples of ``scale``. Not rounded (see :func:`quantize`)."""
    s = int(scale)
    n, c, hh, ww = hr.shape
    if hh % s or ww % s:
        raise ConfigError(f"degrade: HR size {ww}x{hh} is not a multiple of {s}")
    taps = torch.from_numpy(degradation_filter(s, degradation)).to(hr.device, hr.dtype)
    k = taps.numel()
    lo, hi = k // 2, k - 1 - k // 2
    x = F.pad(hr.reshape(n * c, 1, hh, ww), (lo, hi, lo, hi), mode="replicate")
    off = s // 2
    x = x[..., off:, off:]  # output q reads blurred[s q + s // 2]
    x = F.conv2d(x, taps.view(1, 1, 1, k), stride=(1, s))
    x = F.conv2d(x, taps.view(1, 1, k, 1), stride=(s, 1))
    return x[..., :hh // s, :ww // s].reshape(n, c, hh // s, ww // s)


def quantize(x: torch.Tensor) -> torch.Tensor:
    """Round to 8-bit levels (values stay in [0, 1] floats)."""
    return torch.round(x.clamp(0, 1) * 255) / 255


def luma(rgb8: np.ndarray) -> np.ndarray:
    """uint8 RGB ``(H, W, 3)`` -> the BT.601 luma of :func:`vproc.metrics.rgb_to_y` rounded to uint8."""
    return np.clip(np.round(metrics.rgb_to_y(rgb8)), 0, 255).astype(np.uint8)


# -- clips -----------------------------------------------------------------------------------------


def _affine_thetas(k_offsets: np.ndarray, s: Settings, region: int, rng: np.random.Generator) -> np.ndarray:
    """Per frame (offset ``k`` from the centre) the ``affine_grid`` matrix of the motion path."""
    v = rng.uniform(-s.max_speed, s.max_speed, 2)
    rot = math.radians(rng.uniform(-s.max_rotation, s.max_rotation))
    zoom = rng.uniform(-s.max_zoom, s.max_zoom)
    thetas = np.zeros((len(k_offsets), 2, 3))
    for i, k in enumerate(k_offsets):
        a = rot * k
        z = (1 + zoom) ** k
        t = (v * k + (rng.normal(0, s.jitter, 2) if k else 0)) * s.scale  # HR px
        thetas[i, :, :2] = z * np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
        thetas[i, :, 2] = 2 * t / region  # normalised coordinates of a square region
    return thetas


def synthetic_clip(img: np.ndarray, s: Settings, rng: np.random.Generator, hr: int | None = None) -> np.ndarray:
    """A ``(window, hr, hr)`` float32 HR clip (luma in [0, 1]) from a uint8 luma image: a random
    crop (reflect-padded when the image is small) moved along a random affine path."""
    hr = hr or s.scale * s.lr_crop
    margin = s.scale * int(math.ceil(s.radius * (s.max_speed + 3 * s.jitter))) + hr // 8 + 4
    region = hr + 2 * margin
    h, w = img.shape
    if h < region or w < region:
        py, px = max(0, region - h), max(0, region - w)
        img = np.pad(img, ((py // 2 + 1, py - py // 2 + 1), (px // 2 + 1, px - px // 2 + 1)), mode="reflect")
        h, w = img.shape
    y, x = rng.integers(0, h - region + 1), rng.integers(0, w - region + 1)
    crop = torch.from_numpy(img[y:y + region, x:x + region].astype(np.float32) / 255.0)
    offsets = np.arange(s.window) - s.center
    thetas = torch.from_numpy(_affine_thetas(offsets, s, region, rng)).float()
    src = crop.expand(s.window, 1, region, region)
    grid = F.affine_grid(thetas, [s.window, 1, region, region], align_corners=False)
    moved = F.grid_sample(src, grid, mode="bicubic", padding_mode="reflection", align_corners=False).clamp_(0, 1)
    moved[s.center, 0] = crop  # the target itself, not resampled
    return moved[:, 0, margin:margin + hr, margin:margin + hr].numpy()


def video_clip(frames: list[np.ndarray], s: Settings, rng: np.random.Generator) -> np.ndarray:
    """``window`` consecutive frames (stride 1..``video_stride``) of a decoded video, one crop."""
    hr = s.scale * s.lr_crop
    stride = int(rng.integers(1, s.video_stride + 1))
    span = (s.window - 1) * stride
    start = int(rng.integers(0, len(frames) - span))
    h, w = frames[0].shape
    y, x = rng.integers(0, h - hr + 1), rng.integers(0, w - hr + 1)
    clip = [frames[start + i * stride][y:y + hr, x:x + hr] for i in range(s.window)]
    if rng.random() < 0.5:
        clip.reverse()  # time reversed: motion the other way (for causal windows, a new path)
    return np.stack(clip).astype(np.float32) / 255.0


def augment(clip: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Random horizontal and vertical flips and transposition of a clip ``(T, H, W)`` (all its frames alike)."""
    return _flipped([clip], rng)[0]


def _flipped(arrays: list[np.ndarray], rng: np.random.Generator) -> list[np.ndarray]:
    """The same random horizontal flip, vertical flip and transposition (three draws, each half
    the time) of every array, on its last two axes; contiguous copies."""
    for op in (lambda a: np.flip(a, -1), lambda a: np.flip(a, -2), lambda a: np.swapaxes(a, -1, -2)):
        if rng.random() < 0.5:
            arrays = [op(a) for a in arrays]
    return [np.ascontiguousarray(a) for a in arrays]


def make_pair(clips: np.ndarray, s: Settings) -> tuple[torch.Tensor, torch.Tensor]:
    """HR clips ``(B, T, H, W)`` -> (LR input ``(B, T, 1, h, w)`` rounded to 8 bits, HR centre
    ``(B, 1, H, W)``)."""
    hr = torch.from_numpy(np.ascontiguousarray(clips))
    b, t, hh, ww = hr.shape
    lr = quantize(degrade(hr.reshape(b * t, 1, hh, ww), s.scale, s.degradation)).reshape(b, t, 1, hh // s.scale, ww // s.scale)
    return lr, hr[:, s.center:s.center + 1].clone()


def augment_pair(lr: np.ndarray, hr: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """:func:`augment` applied alike to an LR clip ``(T, h, w)`` and its HR frame ``(H, W)``."""
    lr, hr = _flipped([lr, hr], rng)
    return lr, hr


class CodedPool:
    """The ``stream`` degradation's clips: HR clips from ``sample(s_pool, rng)``, each downscaled
    (``bi``), rounded and put through one drawn encoding (module docstring); kept as uint8."""

    def __init__(self, sample: Callable, s: Settings, rng: np.random.Generator,
                 report: Callable[[int, int], None] | None = None):
        mix = s.codec_mix()
        available = mix.available()
        wide = replace(s, radius=(s.pool_frames - 1) // 2, causal=False, lr_crop=s.pool_lr)
        self.hr, self.lr, self.codings = [], [], []
        for i in range(s.pool):
            clip = torch.from_numpy(np.ascontiguousarray(sample(wide, rng)[:s.pool_frames]))
            t, hh, ww = clip.shape
            lr = quantize(degrade(clip.reshape(t, 1, hh, ww), s.scale, "bi"))[:, 0].numpy()
            lr8 = np.rint(lr * 255).astype(np.uint8)
            name, crf, sigma = codec.draw(mix, rng, available)
            self.lr.append(codec.encode_decode(lr8, name, crf, noise=sigma, rng=rng))
            self.hr.append(np.rint(clip.numpy() * 255).astype(np.uint8))
            self.codings.append((name, crf, sigma))
            if report is not None:
                report(i + 1, s.pool)

    def counts(self) -> dict[str, int]:
        """Clips per codec."""
        out: dict[str, int] = {}
        for name, _, _ in self.codings:
            out[name] = out.get(name, 0) + 1
        return out

    def batch(self, s: Settings, rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        lrs, hrs = [], []
        for _ in range(s.batch):
            j = int(rng.integers(len(self.lr)))
            t0 = int(rng.integers(0, s.pool_frames - s.window + 1))
            y, x = (int(v) for v in rng.integers(0, s.pool_lr - s.lr_crop + 1, 2))
            c, k = s.lr_crop, s.scale
            lr = self.lr[j][t0:t0 + s.window, y:y + c, x:x + c]
            hr = self.hr[j][t0 + s.center, k * y:k * (y + c), k * x:k * (x + c)]
            lr, hr = augment_pair(lr, hr, rng)
            lrs.append(lr)
            hrs.append(hr)
        lr = torch.from_numpy(np.stack(lrs).astype(np.float32) / 255.0)[:, :, None]
        hr = torch.from_numpy(np.stack(hrs).astype(np.float32) / 255.0)[:, None]
        return lr, hr


def _images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES) if folder.is_dir() else []


def _read_luma(path: Path) -> np.ndarray | None:
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    return None if bgr is None else luma(np.ascontiguousarray(bgr[..., ::-1]))


def read_video(path: Path, limit: int) -> list[np.ndarray]:
    """The first ``limit`` frames of a video as uint8 luma (PyAV)."""
    import av

    out = []
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            out.append(luma(frame.to_ndarray(format="rgb24")))
            if len(out) >= limit:
                break
    return out


class TrainingData:
    """The training sources in memory (uint8 luma) and the sampler of batches.

    Args:
        root: the data folder (``../shared/data``); ``None`` with ``images`` given.
        s: the settings (crop size, motion, video share).
        images: uint8 RGB ``(H, W, 3)`` or luma ``(H, W)`` images used instead of reading ``root``
            (tests); no videos then.
    """

    def __init__(self, root: str | Path | None, s: Settings, images: Sequence[np.ndarray] | None = None):
        self.counts: dict[str, int] = {}
        self.pool: CodedPool | None = None
        self.images: list[np.ndarray] = []
        self.videos: list[list[np.ndarray]] = []
        if images is not None:
            self.images = [luma(i) if i.ndim == 3 else np.asarray(i, np.uint8) for i in images]
            self.counts["memory"] = len(self.images)
            return
        root = Path(root)
        if not root.is_dir():
            raise ConfigError(f"vsr training data folder not found: {root} (pass --data DIR; "
                              f"it needs {', '.join(IMAGE_SETS)} and/or {', '.join(VIDEOS)})")
        for name in IMAGE_SETS:
            held = set(HELD_OUT.get(name, ()))
            imgs = [img for p in _images(root / name) if p.name not in held and (img := _read_luma(p)) is not None]
            self.counts[name] = len(imgs)
            self.images.extend(imgs)
        hr = s.scale * s.lr_crop
        for name in VIDEOS:
            path = root / name
            frames = read_video(path, s.video_frames) if path.is_file() else []
            if len(frames) > (s.window - 1) * s.video_stride and min(frames[0].shape) >= hr:
                self.videos.append(frames)
            self.counts[name] = len(frames)
        if not self.images and not self.videos:
            raise ConfigError(f"no training images or videos in {root}: expected {', '.join(IMAGE_SETS + VIDEOS)}")

    def clip(self, s: Settings, rng: np.random.Generator) -> np.ndarray:
        """One HR clip ``(window, H, W)``: a video's frames or an image moved (module docstring)."""
        if self.videos and (not self.images or rng.random() < s.video_fraction):
            return video_clip(self.videos[rng.integers(len(self.videos))], s, rng)
        return synthetic_clip(self.images[rng.integers(len(self.images))], s, rng)

    def coded_pool(self, s: Settings, report: Callable[[int, int], None] | None = None) -> None:
        """Make the ``stream`` degradation's pool (from its own generator); batches use it after."""
        self.pool = CodedPool(self.clip, s, np.random.default_rng([s.seed, 1]), report)
        self.counts["pool"] = len(self.pool.lr)
        self.counts.update({f"pool {name}": n for name, n in self.pool.counts().items()})

    def batch(self, s: Settings, rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        if s.degradation == "stream":
            return self.pool.batch(s, rng)
        clips = [augment(self.clip(s, rng), rng) for _ in range(s.batch)]
        return make_pair(np.stack(clips), s)


# -- training --------------------------------------------------------------------------------------


def charbonnier(a: torch.Tensor, b: torch.Tensor, eps: float) -> torch.Tensor:
    return torch.sqrt((a - b).square() + eps * eps).mean()


def build(s: Settings) -> vsrnet.VSRNet:
    return vsrnet.VSRNet(s.scale, s.radius, s.causal, 1, s.features, s.blocks)


def checkpoint_path(out: str | Path) -> Path:
    """Where :func:`train` keeps its checkpoint for the weights file ``out``."""
    out = Path(out)
    return out.with_name(out.name + ".ckpt")


def train(scale: int = 4, degradation: str = "bi", steps: int | None = None, data: str | Path | None = None,
          out: str | Path | None = None, seed: int = 0,
          report: Callable[[int, int, float], None] | None = None, *,
          settings: Settings | None = None, images: Sequence[np.ndarray] | None = None,
          checkpoint_every: int = 500, resume: bool = True,
          pool_report: Callable[[int, int], None] | None = None) -> dict:
    """Train the network; save it at ``out`` (default :func:`vproc.models.vsrnet.default_weights`)
    as ``{"config", "state"}`` and the settings, loss curve and timings next to it (``.json``);
    returns that summary.

    ``settings`` (if given) replaces the defaults; ``scale``, ``degradation``, ``steps`` and ``seed``
    are applied on top of it. ``report(step, steps, loss)`` is called after every step.
    ``images``: in-memory images replacing the data folder (tests). ``pool_report(done, total)``
    is called as the ``stream`` degradation's pool is made.

    Every ``checkpoint_every`` steps the whole state (weights, optimiser, schedule, the data
    generator's state, the loss history) goes to :func:`checkpoint_path` (``out`` + ``.ckpt``),
    replaced atomically. With ``resume`` a run finds it and continues from it when its settings
    are the same (otherwise it starts over), and the result is bit for bit that of an uninterrupted
    run (tests/models/test_vsrnet.py): a CPU run of hours can stop and go on. The checkpoint is
    deleted when the weights are written.
    """
    base = settings or Settings()
    kw = dict(scale=scale, degradation=degradation, seed=seed)
    if steps is not None:
        kw["steps"] = steps
    s = Settings(**{**asdict(base), **kw})
    out = Path(out) if out is not None else vsrnet.default_weights(s.scale, s.degradation)
    # Before training: a folder that cannot be written fails now, in one line, not after the run
    # (the checkpoints go there too).
    out = check_writable(out, "weights file", make_folder=True)
    torch.set_num_threads(THREADS)
    torch.use_deterministic_algorithms(True)
    t0, c0 = time.perf_counter(), time.process_time()
    dataset = TrainingData(None if images is not None else (data if data is not None else DEFAULT_DATA), s, images)
    if s.degradation == "stream":
        dataset.coded_pool(s, pool_report)
    t_load = time.perf_counter() - t0
    rng = np.random.default_rng(s.seed)
    torch.manual_seed(s.seed)
    model = build(s)
    if s.init:
        start = vsrnet.load(init_path(s.init))
        if start.config != model.config:
            raise ConfigError(f"init weights {s.init} are a {start.config} network; this run builds {model.config}")
        model.load_state_dict(start.state_dict())
    model = model.to(memory_format=torch.channels_last)
    opt = torch.optim.Adam(model.parameters(), lr=s.lr)
    floor = s.lr_min / s.lr
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda k: floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * min(k, s.steps) / s.steps)))
    history: list[float] = []
    t_data, spent, first = 0.0, 0.0, 1  # spent: train seconds of earlier, checkpointed sessions
    ckpt = checkpoint_path(out)
    if resume and ckpt.is_file():
        state = torch.load(ckpt, map_location="cpu", weights_only=False)
        if state.get("settings") == asdict(s):
            model.load_state_dict(state["model"])
            opt.load_state_dict(state["optimizer"])
            sched.load_state_dict(state["schedule"])
            rng.bit_generator.state = state["rng"]
            history, t_data, spent, first = state["history"], state["data_seconds"], state["seconds"], state["step"] + 1
    model.train()
    t_loop = time.perf_counter()
    for step in range(first, s.steps + 1):
        td = time.perf_counter()
        lr, hr = dataset.batch(s, rng)
        t_data += time.perf_counter() - td
        loss = charbonnier(model(lr), hr, s.charbonnier_eps)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), s.grad_clip)
        opt.step()
        sched.step()
        history.append(float(loss.detach()))
        if report is not None:
            report(step, s.steps, history[-1])
        if checkpoint_every and step % checkpoint_every == 0 and step < s.steps:
            _save_atomic({"settings": asdict(s), "step": step, "model": model.state_dict(),
                          "optimizer": opt.state_dict(), "schedule": sched.state_dict(),
                          "rng": rng.bit_generator.state, "history": history, "data_seconds": t_data,
                          "seconds": spent + time.perf_counter() - t_loop}, ckpt)
    t_train, t_cpu = spent + time.perf_counter() - t0, time.process_time() - c0
    model.eval()
    out.parent.mkdir(parents=True, exist_ok=True)
    saved = {"config": model.config, "state": {k: v.contiguous() for k, v in model.state_dict().items()}}
    _save_atomic(saved, out)
    ckpt.unlink(missing_ok=True)
    every = max(1, s.steps // 200)
    tail = history[-min(100, len(history)):]
    summary = {
        "settings": asdict(s),
        "data": {"root": "memory" if images is not None else str(data) if data is not None
                 else "../shared/data (the default)", "sources": dataset.counts},
        "parameters": vsrnet.parameter_count(model),
        "threads": THREADS,
        "torch": torch.__version__,
        "load_seconds": round(t_load, 1),
        "data_seconds": round(t_data, 1),
        "train_seconds": round(t_train, 1),  # wall clock, loading included (all sessions when resumed)
        "cpu_seconds": round(t_cpu, 1),  # this session's
        "resumed_at_step": first if first > 1 else None,
        "seconds_per_step": round((time.perf_counter() - t_loop) / max(1, s.steps - first + 1), 3),
        "first_loss": history[0],
        "final_loss_mean_last_100": sum(tail) / len(tail),
        "loss_curve": {"every": every, "mean": [sum(history[i:i + every]) / len(history[i:i + every])
                                                for i in range(0, len(history), every)]},
    }
    write_json(out.with_suffix(".json"), summary)
    return summary


def init_path(init: str) -> Path:
    """``Settings.init`` as a file: a shipped weights name (``vsrnet_x2_bi.pt``) or a path."""
    path = Path(init)
    return path if path.is_absolute() or path.exists() else vsrnet.WEIGHTS_DIR / path


def _save_atomic(obj, path: Path) -> None:
    tmp = path.with_name(path.name + ".partial")
    torch.save(obj, tmp)
    tmp.replace(path)


def write_json(path: Path, data: dict) -> None:
    tmp = path.with_name(path.name + ".partial")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    tmp.replace(path)


# -- evaluation ------------------------------------------------------------------------------------


def held_out_images(root: str | Path | None = None) -> list[np.ndarray]:
    """The :data:`HELD_OUT` images (uint8 luma) found under ``root``."""
    root = Path(root) if root is not None else DEFAULT_DATA
    out = []
    for name, files in HELD_OUT.items():
        for f in files:
            path = root / name / f
            img = _read_luma(path) if path.is_file() else None
            if img is not None:
                out.append(img)
    return out


def _y_psnr(a: np.ndarray, b: np.ndarray, crop: int) -> float:
    """Y-PSNR of two luma planes in [0, 1] (as 0..255 luma values), ``crop`` border pixels off."""
    return metrics.psnr(metrics.crop_border(a * 255.0, crop), metrics.crop_border(b * 255.0, crop))


@torch.no_grad()
def evaluate(model: vsrnet.VSRNet, degradation: str = "bi", root: str | Path | None = None,
             images: Sequence[np.ndarray] | None = None, clips_per_image: int = 2, lr_size: int = 48,
             seed: int = 1234) -> dict:
    """Mean Y-PSNR of ``model`` and of bicubic (torch, a = -0.75 as OpenCV's INTER_CUBIC) on fixed
    synthetic clips (``lr_size`` LR pixels square, the default motion) from the held-out images
    (or ``images``), ``scale`` border pixels cropped, the output rounded to 8 bits. ``stream``:
    the LR clips (at least 64 pixels square) through libx264 at the CRFs of
    :data:`STREAM_EVAL_CRFS` in turn."""
    s = Settings(scale=model.scale, degradation=degradation, radius=model.radius, causal=model.causal)
    imgs = list(images) if images is not None else held_out_images(root)
    imgs = [luma(i) if i.ndim == 3 else i for i in imgs]
    if not imgs:
        raise ConfigError(f"no held-out images for the vsr evaluation under {root or DEFAULT_DATA}")
    if degradation == "stream":
        lr_size = max(lr_size, codec.MIN_SIDE)
    rng = np.random.default_rng(seed)
    clips = np.stack([synthetic_clip(img, s, rng, hr=s.scale * lr_size) for img in imgs for _ in range(clips_per_image)])
    lr, hr = make_pair(clips, s)
    if degradation == "stream":  # BI, then x264 at each of STREAM_EVAL_CRFS in turn
        coded = [codec.encode_decode(np.rint(lr[k, :, 0].numpy() * 255).astype(np.uint8), "x264",
                                     STREAM_EVAL_CRFS[k % len(STREAM_EVAL_CRFS)]) for k in range(len(clips))]
        lr = torch.from_numpy(np.stack(coded).astype(np.float32) / 255.0)[:, :, None]
    model.eval()
    net, bic = [], []
    for k in range(len(clips)):
        x = lr[k:k + 1]
        y = quantize(model(x))[0, 0].numpy()
        b = quantize(F.interpolate(x[:, s.center], scale_factor=s.scale, mode="bicubic", align_corners=False))[0, 0].numpy()
        ref = hr[k, 0].numpy()
        net.append(_y_psnr(y, ref, s.scale))
        bic.append(_y_psnr(b, ref, s.scale))
    return {"clips": len(clips), "psnr_y_net": float(np.mean(net)), "psnr_y_bicubic": float(np.mean(bic)),
            "gain_db": float(np.mean(net) - np.mean(bic))}


def synthetic_check(model: vsrnet.VSRNet, degradation: str = "bi") -> dict:
    """:func:`evaluate` on a scene drawn from formulas (:func:`vproc.training.lowlight_eval.synthetic_scene`:
    gradients, discs, fine stripes, a ramp; no files, no data), four clips of 48 x 48 low-res
    pixels moved along the default motion with a fixed seed. The model card's reproducible
    number: the tests recompute it from the shipped weights."""
    from .lowlight_eval import synthetic_scene

    return evaluate(model, degradation, images=[synthetic_scene()], clips_per_image=4, lr_size=48, seed=7)
