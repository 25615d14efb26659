"""Errors raised by vproc.

Every error a user can cause is a :class:`VprocError`. Each kind also inherits the builtin that
fits it (as PyAV's ``av.error`` does), so callers may catch ``ValueError`` or ``OSError`` without
knowing vproc. The CLI catches ``VprocError`` in one place and prints its message as one line.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class VprocError(Exception):
    """Base of every error vproc raises on purpose."""


class ConfigError(VprocError, ValueError):
    """A graph, a parameter or a command-line option is wrong."""


class MediaError(VprocError, OSError):
    """An input cannot be read or decoded, or an output cannot be written or encoded."""


class DeviceError(VprocError, RuntimeError):
    """A requested compute device is missing or unusable."""


class NodeError(VprocError, RuntimeError):
    """A node failed while processing; the message names the node and the frame."""


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """Return ``" (did you mean 'x'?)"`` for the closest choice, or ``""`` when none is close.

    Choices that are exactly as close are all named (``'libx264' or 'libx265'``): picking one of
    a tie would depend on spelling order, not on what the user meant.
    """
    close = difflib.get_close_matches(word, list(choices), n=3, cutoff=0.6)
    if not close:
        return ""
    score = {c: difflib.SequenceMatcher(None, c, word).ratio() for c in close}
    best = sorted(c for c in close if score[c] == score[close[0]])
    return " (did you mean " + " or ".join(f"'{c}'" for c in best) + "?)"
