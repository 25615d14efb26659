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
    """Return ``" (did you mean 'x'?)"`` for the closest choice, or ``""`` when none is close."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""
