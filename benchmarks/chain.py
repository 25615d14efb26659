"""The whole chain on a bad stream: ``vproc transcode --denoise --lowlight --sr 2`` vs tuned FFmpeg chains.

    python benchmarks/chain.py [--frames 20] [--exposure 0.12] [--crf 23] [--seed 0] [--json out/chain.json]

Data (read from ``../shared/data``, never copied): the first ``--frames`` ground-truth frames of
each Vid4 sequence, made into the stream a phone or a cheap camera sends at night, one file per
sequence, in this order (each step where it happens in a real camera and channel):

1. underexposed at the sensor: ``benchmarks/lowlight.py``'s darkening (sRGB to linear light, times
   ``--exposure``, Poisson shot noise at 1000 photo-electrons full scale and 2 e- read noise,
   back to sRGB, 8 bits), at full resolution;
2. downscaled x2 for delivery: MATLAB ``imresize`` bicubic (``benchmarks/vsr.py``'s BI), so
   720x576 becomes 360x288;
3. compressed: BT.601 limited-range ``yuv420p`` (swscale), libx264 ``-preset medium -crf
   --crf`` at 25 fps, tagged BT.601 / sRGB transfer, in MP4.

The reference is the clean GT at full resolution. Every method reads the MP4 and writes a
lossless FFV1 ``yuv420p`` file twice the size; Y-PSNR (BT.601 limited-range luma, MATLAB's
``rgb2ycbcr`` of the GT, 2 border pixels cropped) of the output's Y plane against the GT's, the
mean per sequence and the mean of the four; fps: frames over the whole command's wall time
(process start, decoding and encoding included), per sequence, summed.

Rows:

- ``vproc --denoise --lowlight --sr 2``: the CLI as a user types it (its defaults: denoise
  strength auto, lowlight ``curve``, vsr ``flow``), output ``.nut`` (FFV1).
- ``vproc ... --lowlight-method linear --sr-method net``: the same chain with the linear-light
  gain and the network (``degradation: auto``: the stream weights where shipped, as the input
  is H.264).
- ``ffmpeg hqdn3d + lut1d oracle + lanczos``: ``hqdn3d`` (luma spatial and temporal strengths
  by a compass search, chroma at 3/4), then the exact inverse of step 1's exposure (a ``lut1d``
  cube on RGB: sRGB to linear, divided by ``--exposure``, clipped, back to sRGB; BT.601 limited
  range both ways), then ``scale=iw*2:ih*2:flags=lanczos``: the best brightening there is, as it
  is told the exposure, which no vproc row is.
- ``ffmpeg nlmeans + lut1d oracle + lanczos``: the same with ``nlmeans`` (its strength ``s`` by
  the search).

The FFmpeg chains' parameters are tuned on the first sequence (calendar) for the mean Y-PSNR
(an advantage to them: it is a test sequence); vproc gets no tuning. Ratios: PSNR as the
difference to the best FFmpeg chain, fps as a ratio to it.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import av
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from vproc.io.ffmpeg import ffmpeg_binary  # noqa: E402
from vproc.metrics import crop_border, psnr, rgb_to_y  # noqa: E402

import denoise as denoise_bench  # noqa: E402  (benchmarks/, on sys.path as the script's folder)
import lowlight as lowlight_bench  # noqa: E402
import vsr as vsr_bench  # noqa: E402

SEQUENCES = vsr_bench.SEQUENCES
DATA = vsr_bench.DATA
RATE = 25
SCALE = 2
VPROC_ROWS = {
    "vproc --denoise --lowlight --sr 2": ["--denoise", "--lowlight", "--sr", "2"],
    "vproc --denoise --lowlight --sr 2 --lowlight-method linear --sr-method net":
        ["--denoise", "--lowlight", "--sr", "2", "--lowlight-method", "linear", "--sr-method", "net"],
}


def make_stream(gt: list[np.ndarray], exposure: float, crf: int, rng: np.random.Generator, path: Path) -> None:
    """Steps 1-3 of the module docstring into ``path`` (MP4)."""
    lr = [vsr_bench.bi_down(lowlight_bench.darken(g, exposure, rng), SCALE) for g in gt]
    h, w = lr[0].shape[:2]
    subprocess.run([ffmpeg_binary(), "-hide_banner", "-loglevel", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24",
                    "-s", f"{w}x{h}", "-r", str(RATE), "-i", "-",
                    "-vf", "scale=out_color_matrix=bt601:out_range=tv,format=yuv420p",
                    "-c:v", "libx264", "-preset", "medium", "-crf", str(crf),
                    "-colorspace", "smpte170m", "-color_primaries", "smpte170m", "-color_trc", "iec61966-2-1",
                    "-color_range", "tv", str(path)],
                   input=b"".join(f.tobytes() for f in lr), capture_output=True, check=True)


def luma_planes(path: Path) -> list[np.ndarray]:
    """The Y plane of every frame of a (yuv420p) video, as float64."""
    out = []
    with av.open(str(path)) as c:
        for f in c.decode(video=0):
            if f.format.name not in ("yuv420p", "yuvj420p"):
                raise RuntimeError(f"{path.name}: expected yuv420p output, got {f.format.name}")
            y = np.frombuffer(f.planes[0], np.uint8).reshape(f.height, f.planes[0].line_size)[:, :f.width]
            out.append(y.astype(np.float64))
    return out


def score(path: Path, gt: list[np.ndarray]) -> float:
    ys = luma_planes(path)
    if len(ys) != len(gt):
        raise RuntimeError(f"{path.name}: {len(ys)} frames for {len(gt)}")
    return float(np.mean([psnr(crop_border(y, SCALE), crop_border(rgb_to_y(g), SCALE)) for y, g in zip(ys, gt)]))


def timed(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True)
    if done.returncode:
        raise RuntimeError(f"{' '.join(cmd[:4])} ... failed: {done.stderr.decode(errors='replace')[-400:]}")
    return time.perf_counter() - t0


def run_vproc(flags: list[str], src: Path, out: Path) -> float:
    return timed([sys.executable, "-m", "vproc", "-q", "transcode", str(src), str(out), "-y", "--no-progress", *flags])


def run_ffmpeg(vf: str, src: Path, out: Path) -> float:
    return timed([ffmpeg_binary(), "-hide_banner", "-loglevel", "error", "-y", "-i", str(src), "-vf", vf,
                  "-c:v", "ffv1", "-pix_fmt", "yuv420p", str(out)])


def write_cube(path: Path, exposure: float, size: int = 1024) -> None:
    """A 1-D ``.cube`` LUT: the exact inverse of the darkening (sRGB -> linear / exposure -> sRGB)."""
    x = np.linspace(0.0, 1.0, size)
    y = lowlight_bench.linear_to_srgb(np.clip(lowlight_bench.srgb_to_linear(x) / exposure, 0.0, 1.0))
    path.write_text(f"LUT_1D_SIZE {size}\n" + "".join(f"{v:.6f} {v:.6f} {v:.6f}\n" for v in y))


def chain_vf(kind: str, p: dict, cube: Path) -> str:
    up = f"scale=iw*{SCALE}:ih*{SCALE}:flags=lanczos"
    if kind.startswith("nlmeans"):
        den = f"nlmeans=s={p['s']:.4g}"
    else:
        ls, lt = p["luma_spatial"], p["luma_tmp"]
        den = f"hqdn3d={ls:.4g}:{0.75 * ls:.4g}:{lt:.4g}:{0.75 * lt:.4g}"
    rgb = (f"scale=in_color_matrix=bt601:in_range=tv,format=gbrp,lut1d=file={cube},"
           "scale=out_color_matrix=bt601:out_range=tv,format=yuv420p")
    return f"{den},{rgb},{up}"


PEERS = {"hqdn3d-lut": "ffmpeg hqdn3d + lut1d oracle + lanczos",
         "nlmeans-lut": "ffmpeg nlmeans + lut1d oracle + lanczos"}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=20)
    ap.add_argument("--exposure", type=float, default=0.12)
    ap.add_argument("--crf", type=int, default=23)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    if not (DATA / "Vid4" / "GT").is_dir():
        sys.exit(f"benchmarks/chain.py needs the shared data set at {DATA} (Vid4/GT)")
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "vproc")], check=True)
    t_start = time.perf_counter()
    gt = {q: vsr_bench.load_gt(q, args.frames, SCALE * 2) for q in SEQUENCES}
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        streams = {}
        for i, q in enumerate(SEQUENCES):
            streams[q] = tmp / f"{q}.mp4"
            make_stream(gt[q], args.exposure, args.crf, np.random.default_rng([args.seed, i]), streams[q])
        cube = tmp / "oracle.cube"
        write_cube(cube, args.exposure)
        tune_q = SEQUENCES[0]

        def evaluate(run) -> dict:
            per, seconds, frames = {}, 0.0, 0
            for q, src in streams.items():
                out = tmp / f"out_{q}.nut"
                seconds += run(src, out)
                frames += len(gt[q])
                per[q] = score(out, gt[q])
            return {"psnr_y": float(np.mean(list(per.values()))), "sequences": per, "fps": frames / seconds}

        settings = {}
        for kind, name in PEERS.items():
            if kind == "nlmeans-lut":
                start, bounds = {"s": 3.0}, {"s": (1.0, 30.0)}
            else:
                start, bounds = {"luma_spatial": 4.0, "luma_tmp": 6.0}, {"luma_spatial": (0.1, 255.0), "luma_tmp": (0.1, 255.0)}

            def tuning_score(p, kind=kind):
                out = tmp / "tune.nut"
                run_ffmpeg(chain_vf(kind, p, cube), streams[tune_q], out)
                return score(out, gt[tune_q])
            best, best_psnr, hist = denoise_bench.compass_search(tuning_score, start, bounds, max_evals=14)
            vf = chain_vf(kind, best, cube)
            settings[name] = {"vf": vf, "tuning_psnr_y": best_psnr, "evaluations": len(hist)}
            results[name] = evaluate(lambda src, out, vf=vf: run_ffmpeg(vf, src, out))
            results[name]["setting"] = vf
        for name, flags in VPROC_ROWS.items():
            run_vproc(flags, streams[tune_q], tmp / "warm.nut")  # numba's first compile is not timed
            results[name] = evaluate(lambda src, out, flags=flags: run_vproc(flags, src, out))
            results[name]["setting"] = " ".join(flags)

    peers = {n: r for n, r in results.items() if n in PEERS.values()}
    best_peer = max(peers, key=lambda n: peers[n]["psnr_y"])
    ref = peers[best_peer]
    n = sum(len(v) for v in gt.values())
    lr_sizes = ", ".join(f"{q} {g[0].shape[1] // SCALE}x{g[0].shape[0] // SCALE}" for q, g in gt.items())
    print(f"\nchain: Vid4 GT, first {args.frames} frames each ({n} frames), darkened x{args.exposure} in linear light "
          f"with shot and read noise, downscaled x{SCALE} (BI: {lr_sizes}), libx264 crf {args.crf}; output x{SCALE}, "
          f"FFV1; {os.cpu_count()} CPU cores")
    for name, st in settings.items():
        print(f"- {name}: tuned on {tune_q} in {st['evaluations']} settings: {st['vf']} (tuning Y-PSNR {st['tuning_psnr_y']:.2f})")
    print("\n| method | Y-PSNR | dB vs best FFmpeg chain | fps | fps vs best FFmpeg chain | " + " | ".join(SEQUENCES) + " |")
    print("|---|---:|---:|---:|---:|" + "---:|" * len(SEQUENCES))
    for name, r in results.items():
        seqs = " | ".join(f"{r['sequences'][q]:.2f}" for q in SEQUENCES)
        print(f"| {name} | {r['psnr_y']:.2f} | {r['psnr_y'] - ref['psnr_y']:+.2f} | {r['fps']:.1f} | "
              f"{r['fps'] / ref['fps']:.2f}x | {seqs} |")
    print(f"\nbest FFmpeg chain: {best_peer}; run time {time.perf_counter() - t_start:.0f} s")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"config": vars(args) | {"json": str(args.json)},
                                         "settings": settings, "results": results}, indent=1))


if __name__ == "__main__":
    main()
