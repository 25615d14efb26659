"""Training of the ``lowlight`` node's curve network (:mod:`vproc.models.zerodce`) without references.

    vproc train lowlight [--data ../shared/data] [--steps 1200] [--seed 0] [--out vproc/weights/zerodce_lowlight.pt]

Losses (Zero-DCE / Zero-DCE++, Guo et al. CVPR 2020, Li et al. TPAMI 2021), none of which needs a
well-exposed reference, weighted as Zero-DCE++ does (:class:`Settings`):

- spatial consistency ``L_spa``: the differences between neighbouring 4x4-averaged regions of the
  grey (mean of R, G, B) image stay as they were in the input. Taken over the pairs inside the
  crop only: the paper's zero padding also compares the border regions with black, which only
  penalises brightening at the border;
- exposure control ``L_exp``: the mean level of every 16x16 patch goes to ``E = 0.6``. One
  deviation: the level is that of the intensity ``max(R, G, B)``, the quantity the colour-keeping
  curve bends, where the paper averages R, G and B (``exposure_of="grey"``). A saturated colour
  keeps its channel ratios, so its grey level stays far below its intensity: aiming the grey
  level at 0.6 drove saturated regions to full intensity and washed out well-exposed frames
  (measured: ``vproc/weights/README.md``);
- colour constancy ``L_col``: the image means of R, G and B stay close (grey world). With the
  colour-keeping curve the net cannot change colour at all, so here it only weighs against
  brightening images with a strong colour cast (kept, with the paper's weight: measured, it holds
  back over-brightening of cast scenes such as street lights at night);
- illumination smoothness ``L_tvA``: the squared gradients of the curve map.

Data (:class:`TrainingData`), from ``--data`` (default ``../shared/data`` next to the repository):

- real low-light photos: ``DICM``, ``LIME``, ``LOL_eval_low_RetinexNet`` (76 photos);
- well-exposed photos darkened physically: ``train/T91``, ``train/General100``, ``train/BSDS200``:
  sRGB -> linear light, times an exposure drawn log-uniformly from 0.05..0.3, Poisson shot noise
  (a full-scale pixel collects 2000..10000 photo-electrons, log-uniform) plus Gaussian read noise
  (0.5..2 e- RMS), back to sRGB, rounded to 8 bits. Vid4 is never read: it is the benchmark.

Every image is first shrunk (area) so its short side is at most ``short_side`` (256: the size the
node runs the net at, see :func:`vproc.models.zerodce.scale_for`), then random ``crop`` x ``crop``
crops (128), random horizontal and vertical flips; half of each batch real, half darkened. Adam
with a cosine-decayed learning rate, gradient-norm clipping as the paper. Deterministic given the
seed: numpy's PCG64 draws the data, torch's generator the initial weights, torch runs with
deterministic algorithms on two CPU threads (the thread count is part of the recipe: float sums
in the convolutions' gradients depend on it).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from ..errors import ConfigError
from ..models import zerodce
from ..io.target import check_writable

#: ``../shared/data`` next to the repository (where the project keeps its data, never committed).
DEFAULT_DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
#: Real low-light photos (no references).
REAL_SETS = ("DICM", "LIME", "LOL_eval_low_RetinexNet")
#: Well-exposed photos that are darkened for training.
CLEAN_SETS = ("train/T91", "train/General100", "train/BSDS200")
IMAGE_SUFFIXES = (".bmp", ".jpg", ".jpeg", ".png")
THREADS = 2


@dataclass(frozen=True)
class Settings:
    """Everything that defines a training run (saved next to the weights as JSON)."""

    steps: int = 1200
    seed: int = 0
    batch: int = 8
    crop: int = 128
    short_side: int = zerodce.SHORT_SIDE
    curve_channels: int = 1
    lr: float = 2e-3
    weight_decay: float = 1e-4
    grad_clip: float = 0.1
    exposure_level: float = 0.6  # E of L_exp
    exposure_patch: int = 16
    exposure_of: str = "intensity"  # what L_exp averages: "intensity" (max of R, G, B) or "grey" (their mean, the paper's)
    w_spa: float = 1.0
    w_exp: float = 10.0
    w_col: float = 5.0
    w_tv: float = 1600.0
    darken: tuple[float, float] = (0.05, 0.3)  # exposure factor in linear light, log-uniform
    photons: tuple[float, float] = (2000.0, 10000.0)  # e- at full scale, log-uniform
    read_noise: tuple[float, float] = (0.5, 2.0)  # e- RMS, uniform

    def __post_init__(self):
        if self.steps < 1:
            raise ConfigError(f"steps must be >= 1 (got {self.steps})")
        if self.batch < 2:
            raise ConfigError(f"batch must be >= 2 (got {self.batch})")
        if self.exposure_of not in ("intensity", "grey"):
            raise ConfigError(f"exposure_of must be intensity or grey (got {self.exposure_of!r})")
        if self.crop < 32 or self.crop % self.exposure_patch:
            raise ConfigError(f"crop must be >= 32 and a multiple of {self.exposure_patch} (got {self.crop})")


# -- losses ----------------------------------------------------------------------------------------


def spatial_consistency(org: torch.Tensor, enh: torch.Tensor) -> torch.Tensor:
    """``L_spa``: squared change of the differences between neighbouring 4x4 regions (grey level),
    summed over the four neighbours (each pair counts from both sides, as the paper's sum does)."""
    o = F.avg_pool2d(org.mean(1, keepdim=True), 4)
    e = F.avg_pool2d(enh.mean(1, keepdim=True), 4)
    dh = (o[..., :, 1:] - o[..., :, :-1]) - (e[..., :, 1:] - e[..., :, :-1])
    dv = (o[..., 1:, :] - o[..., :-1, :]) - (e[..., 1:, :] - e[..., :-1, :])
    return 2 * (dh.square().mean() + dv.square().mean())


def exposure_control(enh: torch.Tensor, level: float = 0.6, patch: int = 16, of: str = "grey") -> torch.Tensor:
    """``L_exp``: squared distance of every ``patch`` x ``patch`` mean grey level (or mean
    intensity ``max(R, G, B)``, ``of="intensity"``) from ``level``."""
    y = enh.amax(1, keepdim=True) if of == "intensity" else enh.mean(1, keepdim=True)
    return (F.avg_pool2d(y, patch) - level).square().mean()


def colour_constancy(enh: torch.Tensor) -> torch.Tensor:
    """``L_col``: the paper's grey-world term, ``sqrt(sum over channel pairs of (mean_p - mean_q)^4)``."""
    m = enh.mean((2, 3))
    r, g, b = m[:, 0], m[:, 1], m[:, 2]
    return torch.sqrt((r - g).pow(4) + (r - b).pow(4) + (g - b).pow(4) + 1e-12).mean()


def illumination_smoothness(a: torch.Tensor) -> torch.Tensor:
    """``L_tvA``: mean squared horizontal and vertical gradients of the curve maps, summed over
    the maps, twice (the paper's normalisation)."""
    dh = (a[..., :, 1:] - a[..., :, :-1]).square().mean((0, 2, 3)).sum()
    dv = (a[..., 1:, :] - a[..., :-1, :]).square().mean((0, 2, 3)).sum()
    return 2 * (dh + dv)


def zero_reference_loss(org: torch.Tensor, enh: torch.Tensor, a: torch.Tensor, s: Settings) -> dict[str, torch.Tensor]:
    """The four weighted terms and their sum (``total``)."""
    terms = {
        "spa": s.w_spa * spatial_consistency(org, enh),
        "exp": s.w_exp * exposure_control(enh, s.exposure_level, s.exposure_patch, s.exposure_of),
        "col": s.w_col * colour_constancy(enh),
        "tv": s.w_tv * illumination_smoothness(a),
    }
    terms["total"] = sum(terms.values())
    return terms


# -- data ------------------------------------------------------------------------------------------


def srgb_to_linear(x: np.ndarray) -> np.ndarray:
    return np.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4)


def linear_to_srgb(x: np.ndarray) -> np.ndarray:
    return np.where(x <= 0.0031308, 12.92 * x, 1.055 * np.power(np.maximum(x, 0.0031308), 1 / 2.4) - 0.055)


def darken(rgb8: np.ndarray, exposure: float, photons: float, read_noise: float,
           rng: np.random.Generator) -> np.ndarray:
    """Well-exposed uint8 sRGB -> the same scene at ``exposure`` (linear light) with Poisson shot
    noise (``photons`` e- at full scale before darkening) and Gaussian read noise, uint8 sRGB."""
    lin = srgb_to_linear(rgb8.astype(np.float64) / 255.0) * exposure
    electrons = rng.poisson(lin * photons) + rng.normal(0.0, read_noise, lin.shape)
    return np.round(linear_to_srgb(np.clip(electrons / photons, 0.0, 1.0)) * 255.0).astype(np.uint8)


def _images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES) if folder.is_dir() else []


def _read(path: Path, short_side: int) -> np.ndarray | None:
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        return None
    h, w = bgr.shape[:2]
    k = short_side / min(h, w)
    if k < 1:
        bgr = cv2.resize(bgr, (max(1, round(w * k)), max(1, round(h * k))), interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(bgr[..., ::-1])


class TrainingData:
    """The training images in memory (uint8 RGB, short side at most ``short_side``) and the
    sampler of batches. Images smaller than a crop are left out."""

    def __init__(self, root: str | Path, short_side: int, crop: int):
        root = Path(root)
        if not root.is_dir():
            raise ConfigError(f"lowlight training data folder not found: {root} (pass --data DIR; "
                              f"it needs {', '.join(REAL_SETS)} and/or {', '.join(CLEAN_SETS)})")
        self.crop = crop
        self.counts: dict[str, int] = {}
        self.real: list[np.ndarray] = []
        self.clean: list[np.ndarray] = []
        for sets, into in ((REAL_SETS, self.real), (CLEAN_SETS, self.clean)):
            for name in sets:
                imgs = [img for p in _images(root / name) if (img := _read(p, short_side)) is not None
                        and min(img.shape[:2]) >= crop]
                self.counts[name] = len(imgs)
                into.extend(imgs)
        if not self.real and not self.clean:
            raise ConfigError(f"no training images in {root}: expected image files in "
                              f"{', '.join(REAL_SETS + CLEAN_SETS)}")

    def _crop(self, img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        h, w = img.shape[:2]
        y, x = rng.integers(0, h - self.crop + 1), rng.integers(0, w - self.crop + 1)
        out = img[y:y + self.crop, x:x + self.crop]
        if rng.random() < 0.5:
            out = out[:, ::-1]
        if rng.random() < 0.5:
            out = out[::-1]
        return out

    def batch(self, n: int, rng: np.random.Generator, s: Settings) -> torch.Tensor:
        """``n`` crops as float ``(n, 3, crop, crop)`` in [0, 1]: even indices real photos, odd
        ones darkened (all of one kind when the other is missing)."""
        out = np.empty((n, self.crop, self.crop, 3), np.uint8)
        for i in range(n):
            real = bool(self.real) and (i % 2 == 0 or not self.clean)
            pool = self.real if real else self.clean
            img = self._crop(pool[rng.integers(len(pool))], rng)
            if not real:
                exposure = math.exp(rng.uniform(math.log(s.darken[0]), math.log(s.darken[1])))
                photons = math.exp(rng.uniform(math.log(s.photons[0]), math.log(s.photons[1])))
                img = darken(img, exposure, photons, rng.uniform(*s.read_noise), rng)
            out[i] = img
        x = torch.from_numpy(out).permute(0, 3, 1, 2).float().div_(255.0)
        return x.contiguous(memory_format=torch.channels_last)


# -- training --------------------------------------------------------------------------------------


def train(data: str | Path | None = None, out: str | Path | None = None, settings: Settings | None = None,
          report: Callable[[int, int, dict[str, float]], None] | None = None,
          dataset: TrainingData | None = None) -> dict:
    """Train the curve network, save its state dict at ``out`` (default: the shipped weights
    file) and the settings and summary next to it (``.json``); returns the summary.

    ``report(step, steps, losses)`` is called after every step with the step's loss terms.
    ``dataset`` replaces the images read from ``data`` (tests use small synthetic ones).
    """
    s = settings or Settings()
    out = Path(out) if out is not None else zerodce.DEFAULT_WEIGHTS
    # Before training: a folder that cannot be written fails now, in one line, not after the run.
    out = check_writable(out, "weights file", make_folder=True)
    torch.set_num_threads(THREADS)
    torch.use_deterministic_algorithms(True)
    t0, c0 = time.perf_counter(), time.process_time()
    if dataset is None:
        dataset = TrainingData(data if data is not None else DEFAULT_DATA, s.short_side, s.crop)
    t_load = time.perf_counter() - t0
    rng = np.random.default_rng(s.seed)
    torch.manual_seed(s.seed)
    model = zerodce.ZeroDCE(curve_channels=s.curve_channels).to(memory_format=torch.channels_last)
    opt = torch.optim.Adam(model.parameters(), lr=s.lr, weight_decay=s.weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda k: 0.5 * (1 + math.cos(math.pi * k / s.steps)))
    history = []
    model.train()
    for step in range(1, s.steps + 1):
        x = dataset.batch(s.batch, rng, s)
        enh, a = model(x)
        terms = zero_reference_loss(x, enh, a, s)
        opt.zero_grad(set_to_none=True)
        terms["total"].backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), s.grad_clip)
        opt.step()
        sched.step()
        losses = {k: float(v.detach()) for k, v in terms.items()}
        history.append(losses)
        if report is not None:
            report(step, s.steps, losses)
    t_train, t_cpu = time.perf_counter() - t0, time.process_time() - c0
    model.eval()
    out.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    tmp = out.with_name(out.name + ".partial")
    torch.save(state, tmp)
    tmp.replace(out)
    tail = history[-min(100, len(history)):]
    summary = {
        "settings": asdict(s),
        "data": {"root": str(data) if data is not None else "../shared/data (the default)", "images": dataset.counts},
        "parameters": zerodce.parameter_count(model),
        "threads": THREADS,
        "torch": torch.__version__,
        "load_seconds": round(t_load, 1),
        "train_seconds": round(t_train, 1),  # wall clock, loading included
        "cpu_seconds": round(t_cpu, 1),  # CPU time of the process (both threads)
        "first_loss": history[0],
        "final_loss_mean_last_100": {k: sum(h[k] for h in tail) / len(tail) for k in tail[0]},
    }
    write_json(out.with_suffix(".json"), summary)
    return summary


def write_json(path: Path, data: dict) -> None:
    tmp = path.with_name(path.name + ".partial")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    tmp.replace(path)
