"""``thin``: the morphological skeleton of a binary mask by Zhang-Suen thinning.

Algorithm (T. Y. Zhang, C. Y. Suen, "A fast parallel algorithm for thinning digital patterns",
CACM 27(3), 1984), exactly as scikit-image's ``skeletonize(method="zhang")`` runs it, so the
output is identical to it pixel for pixel:

- A foreground pixel's 8 neighbours form a code ``c`` in 0..255, with the weights
  ``NW 1, N 2, NE 4, E 8, SE 16, S 32, SW 64, W 128``; pixels outside the image count as 0.
- :data:`LUT` ``[c]`` holds bit 1 when the pixel is deletable in the first sub-iteration and bit 2
  when it is deletable in the second (scikit-image's table values 1, 2 and 3). It is scikit-image's
  table (``_fast_skeletonize``, BSD-3-Clause, (c) the scikit-image team), taken as data: it is
  not the textbook rule (2..6 neighbours, one 0 -> 1 transition around the ring, ``N E S`` /
  ``E S W`` resp. ``N E W`` / ``N S W`` not all set): 25 of the 256 codes differ from it, e.g.
  ``N + E`` is deletable in both sub-iterations (two ring transitions, but the two neighbours
  touch diagonally), and some two-neighbour corners (``SE + S``, ``NW + W``) are never deleted.
  Matching it is what makes the output identical to ``skeletonize``; the tests check that.
- Each sub-iteration is parallel: every decision reads the mask as it was at the start of the
  sub-iteration, and all deletions are applied together. The first sub-iteration, then the
  second, form one iteration; iterations repeat until one deletes nothing.

Twin (``_thin_step_twin``, numba, parallel rows) and CUDA kernel (``native/thin.cu``) work on
the mask with a one-pixel zero frame (so the border needs no checks), in two buffers:

- CPU: a sub-iteration examines only the rows that can have a new decision: a row whose 3 x 3
  neighbourhood changed during the previous two sub-iterations (the last time this sub-iteration's
  condition was evaluated was two sub-iterations ago; an unchanged neighbourhood gives the same
  code, hence the same decision). The deletions go into the second buffer, then the changed rows
  are copied back. Same results as a full pass, a fraction of the work once the shapes get thin.
- CUDA: one thread per pixel reads one buffer and writes the other (ping-pong), and counts its
  deletions into a device counter (one atomic per block). The loop runs on the device in batches
  of iterations queued back to back, 1, 2, 4, 8, then 16 at a time, each iteration counting into
  its own counter; the host reads the last iteration's counter once per batch (one 4-byte
  device -> host copy, the only synchronisation) and stops when it is 0. Once an
  iteration deletes nothing the mask no longer changes, so the iterations queued after
  convergence are no-ops and the result is identical to stopping at once; they cost at most 15
  passes over the mask, against one host round trip per iteration saved (a shape that needs n
  iterations takes about ``n / 16 + 4`` reads instead of ``n + 1``).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from ..errors import ConfigError
from . import _cuda
from ._common import array_module, output

# The codes of scikit-image's table by value: deletable in the first sub-iteration only, in the
# second only, in both.
_FIRST = (3, 6, 11, 12, 14, 131, 134, 143, 159, 161, 194, 198, 207, 227, 231, 243)
_SECOND = (24, 26, 56, 62, 63, 96, 104, 108, 126, 176, 192, 224, 248, 249, 252)
_BOTH = (7, 10, 15, 28, 30, 31, 40, 60, 112, 120, 124, 130, 135, 160, 193, 195, 199, 225, 240, 241)


def _build_lut() -> np.ndarray:
    lut = np.zeros(256, np.uint8)
    lut[list(_FIRST)] = 1
    lut[list(_SECOND)] = 2
    lut[list(_BOTH)] = 3
    lut.setflags(write=False)
    return lut


#: Deletion table of the 256 neighbourhood codes: bit 1 first sub-iteration, bit 2 second.
LUT = _build_lut()


@njit(parallel=True, cache=True)
def _thin_step_twin(cur, nxt, lut, bit, active, changed):
    """One sub-iteration on the framed buffers ``cur`` and ``nxt`` (equal on entry and on exit).

    Examines the rows ``y`` (frame coordinates, 1..H) with ``active[y]``, deletes the foreground
    pixels whose code has ``bit`` set in ``lut``, sets ``changed[y]`` for the rows that lost a
    pixel (0 for the others) and returns the number of pixels deleted.
    """
    hp, wp = cur.shape
    total = 0
    for y in prange(1, hp - 1):
        n = 0
        if active[y]:
            a = cur[y - 1]
            b = cur[y]
            c = cur[y + 1]
            o = nxt[y]
            for x in range(1, wp - 1):
                if b[x]:
                    code = (a[x - 1] | (a[x] << 1) | (a[x + 1] << 2) | (b[x + 1] << 3)
                            | (c[x + 1] << 4) | (c[x] << 5) | (c[x - 1] << 6) | (b[x - 1] << 7))
                    if lut[code] & bit:
                        o[x] = 0
                        n += 1
        changed[y] = 1 if n > 0 else 0
        total += n
    for y in prange(1, hp - 1):  # after every decision is taken: bring cur up to date
        if changed[y]:
            cur[y, :] = nxt[y]
    return total


@njit(cache=True)
def _next_active(active, changed, before):
    """Rows next to a change in the last two sub-iterations (``changed``, ``before``)."""
    hp = active.shape[0]
    for y in range(1, hp - 1):
        active[y] = changed[y - 1] | changed[y] | changed[y + 1] | before[y - 1] | before[y] | before[y + 1]


def _thin_cpu(frame: np.ndarray) -> None:
    """Thins the framed 0/1 mask ``frame`` in place."""
    nxt = frame.copy()
    hp = frame.shape[0]
    lut = np.asarray(LUT)
    active = np.ones(hp, np.uint8)
    active[0] = active[-1] = 0
    changed = np.zeros(hp, np.uint8)
    before = np.ones(hp, np.uint8)  # the first two sub-iterations look at every row
    before[0] = before[-1] = 0
    while True:
        removed = 0
        for bit in (1, 2):
            removed += _thin_step_twin(frame, nxt, lut, np.uint8(bit), active, changed)
            _next_active(active, changed, before)
            changed, before = before, changed
        if removed == 0:
            break


_THREADS = 256  # flat blocks of thin.cu's kernels
#: Most iterations queued between two reads of the counters on CUDA (see the module docstring).
MAX_BATCH = 16
_lut_dev: dict[int, object] = {}


def _thin_cuda(frame, cp) -> object:
    """Thins the framed 0/1 CuPy mask on the device; returns the buffer holding the result."""
    dev = cp.cuda.Device().id
    lut = _lut_dev.get(dev)
    if lut is None:
        lut = _lut_dev[dev] = cp.asarray(LUT)
    hp, wp = frame.shape
    h, w = hp - 2, wp - 2
    bufs = [frame, frame.copy()]
    counters = cp.zeros(MAX_BATCH, cp.uint32)  # deletions of each iteration of a batch
    fn = _cuda.kernel("thin", "thin_step")
    blocks = (-(-(h * w) // _THREADS), 1, 1)
    i32 = _cuda.i32
    k = 0
    batch = 1
    while True:
        counters.fill(0)
        for j in range(batch):
            slot = counters[j:j + 1]  # a view: the kernel gets a pointer to counter j
            for bit in (1, 2):
                fn(blocks, (_THREADS, 1, 1), (bufs[k], bufs[1 - k], lut, i32(bit), i32(h), i32(w), slot))
                k = 1 - k
        # The one device -> host read per batch. Once an iteration deletes nothing every later
        # one does too, so the last iteration's count says whether the batch reached convergence.
        if int(counters[batch - 1:batch].get()[0]) == 0:
            return bufs[k]
        batch = min(2 * batch, MAX_BATCH)


def thin(mask, *, out=None):
    """The Zhang-Suen skeleton of a binary mask (identical to ``skimage.morphology.skeletonize(mask,
    method="zhang")``): every 8-connected component thinned to 8-connected lines one pixel wide.

    Args:
        mask: ``(H, W)`` uint8 or bool array, nonzero = foreground; numpy or CuPy.
        out: optional C-contiguous uint8 ``(H, W)`` output on the same device.

    Returns:
        uint8 ``(H, W)`` with 1 on the skeleton and 0 elsewhere, on the mask's device.
    """
    who = "thin"
    xp = array_module(mask, who)
    if mask.ndim != 2 or 0 in mask.shape:
        raise ConfigError(f"{who}: expected a non-empty (H, W) mask (got shape {tuple(mask.shape)})")
    if mask.dtype not in (np.uint8, np.bool_):
        raise ConfigError(f"{who}: expected a uint8 or bool mask (got {mask.dtype})")
    h, w = mask.shape
    dst = output(out, (h, w), np.uint8, xp, who)
    frame = xp.zeros((h + 2, w + 2), np.uint8)
    frame[1:-1, 1:-1] = mask != 0
    if xp is np:
        _thin_cpu(frame)
    else:
        frame = _thin_cuda(frame, xp)
    dst[...] = frame[1:-1, 1:-1]
    return dst


__all__ = ["LUT", "thin"]
