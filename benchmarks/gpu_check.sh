#!/usr/bin/env bash
# The GPU run book: everything vproc checks on a real GPU, in one call of the device tool.
#
#   here:       make gpu-wheels            (PyAV and ffmpeg-python for the device's Python 3.12, into .whl/)
#   the device: run  command="bash benchmarks/gpu_check.sh"  carry=[".whl"]  timeout_s=560
#
# The device machine has Python 3.12 with torch, CuPy (CUDA 13), numpy, numba, OpenCV, PyYAML,
# typer, rich, scikit-image and pytest (its README), and no network: what vproc needs beyond
# that travels as wheels in .whl/. The FFmpeg binary that encodes (imageio-ffmpeg's: 173 MB,
# 50 MB compressed) does not fit beside PyAV in one call's 64 MiB, so the script uses an
# `ffmpeg` on the device's PATH (or $VPROC_FFMPEG) and says so in the report when there is none:
# the tests and runs that encode then fail, and the kernel tests and benchmarks still run.
#
# One report, $OUT/gpu_report.md (./gpu_report.md outside the device tool): the machine, the
# `cuda`-marked tests on the device (VPROC_REQUIRE_CUDA=1: a missing GPU fails them), the CUDA
# rows of benchmarks/kernels.py, and the copy counters and fps of a 1080p denoise -> vsr x2 (net)
# -> encode run. Each step has its own time limit, so the whole stays
# under 9 minutes of a 10-minute call, inside the 15 minutes of device time a session has.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-$PWD}
REPORT="$OUT/gpu_report.md"
PY=${PY:-python3}
export PYTHONUNBUFFERED=1 VPROC_REQUIRE_CUDA=1

step() {  # step TITLE SECONDS COMMAND...: the command's output and exit status into the report
    local title=$1 limit=$2
    shift 2
    printf '\n## %s\n\n```\n$ %s\n' "$title" "$*" >>"$REPORT"
    local t0=$SECONDS
    timeout "$limit" "$@" >>"$REPORT" 2>&1
    printf 'exit %s after %s s\n```\n' "$?" "$((SECONDS - t0))" >>"$REPORT"
}

{
    echo "# vproc GPU check"
    echo
    echo "commit $(git rev-parse --short HEAD 2>/dev/null || echo '?'), $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo '```'
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv 2>&1
    "$PY" -c "import sys, cupy, torch; print(sys.version.split()[0], 'cupy', cupy.__version__, 'torch', torch.__version__, 'torch sees CUDA:', torch.cuda.is_available())" 2>&1
    echo "ffmpeg: ${VPROC_FFMPEG:-$(command -v ffmpeg || echo 'none on PATH: the encoding tests and the chain run fail')}"
    echo '```'
} >"$REPORT"

export PYTHONPATH="$PWD"
if ls .whl/*.whl >/dev/null 2>&1; then
    "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
        >>"$REPORT" 2>&1 && export PYTHONPATH="/tmp/site:$PWD"
fi
[ -z "${VPROC_FFMPEG:-}" ] && command -v ffmpeg >/dev/null && export VPROC_FFMPEG="$(command -v ffmpeg)"

step "CUDA tests on the device" 240 "$PY" -m pytest -q -m cuda tests -p no:cacheprovider -rs
step "kernels: CUDA vs numba twin vs torch (1080p)" 120 "$PY" benchmarks/kernels.py --sizes 1080p --repeat 5
# (benchmarks/vsr.py and denoise.py measure on Vid4, which stays on the project's machines: the
# chain below times denoise and vsr net on the GPU instead, on frames made here.)
step "1080p denoise -> vsr x2 -> encode: copies per frame and fps" 90 "$PY" - <<'EOF'
import tempfile
from pathlib import Path

import av
import numpy as np

import vproc
from vproc.pipeline import transcode_graph

tmp = Path(tempfile.mkdtemp())
clip = tmp / "in.mkv"
with av.open(str(clip), "w") as out:  # 60 frames of moving texture, 1080p, coded by PyAV itself
    st = out.add_stream("ffv1", rate=30)
    st.width, st.height, st.pix_fmt = 960, 540, "yuv420p"  # x2 -> 1920x1080
    rng = np.random.default_rng(0)
    base = rng.integers(0, 255, (540 + 64, 960 + 64, 3), dtype=np.uint8)
    for i in range(60):
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(base[i % 64:i % 64 + 540, i:i + 960]), format="rgb24")
        for p in st.encode(frame.reformat(format="yuv420p")):
            out.mux(p)
    for p in st.encode(None):
        out.mux(p)
graph = transcode_graph(denoise=True, sr=2, sr_method="net", device="cuda")
stats = vproc.run(graph, str(clip), str(tmp / "out.mkv"))
print("frames in/out:", stats.frames_in, stats.frames_out, f"in {stats.wall_s:.1f} s: {stats.frames_out / stats.wall_s:.1f} fps")
for st in stats.stages:
    print(f"  {st.name:8} {st.device:5} busy {st.busy_s:6.2f} s")
print("copies and allocations per frame:", stats.per_frame())
EOF

echo "report: $REPORT"
cat "$REPORT"
