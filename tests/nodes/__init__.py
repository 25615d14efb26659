"""Node tests; :func:`allocation_counts` is shared by them."""

from vproc import device as devices


def allocation_counts(node, src, calls: int = 4) -> list[int]:
    """Allocation counter after each of ``calls`` process() calls, with every output tied to its
    frame as the runtime does (so pooled buffers come back when the frame goes)."""
    counts = []
    for _ in range(calls):
        (out,) = node.process(src)
        devices.bind(out, out.data if isinstance(out.data, tuple) else (out.data,))
        counts.append(devices.STATS.snapshot()["allocations"])
        del out
    return counts
