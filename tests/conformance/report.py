"""The conformance table: ``python -m tests.conformance.report`` runs every case of
:data:`tests.conformance.compare.CASES` (the ffmpeg CLI and ``vproc transcode`` on the same
input) and prints ``case | ffmpeg CLI | vproc | same?``, one row per compared fact."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from tests.conformance.compare import CASES, run_case


def _short(value) -> str:
    text = str(value)
    return text if len(text) <= 60 else text[:57] + "..."


def main() -> int:
    print("| case | fact | ffmpeg CLI | vproc | same? |")
    print("|---|---|---|---|---|")
    differ = 0
    with tempfile.TemporaryDirectory() as tmp:
        for i, case in enumerate(CASES):
            try:
                rows = run_case(case, Path(tmp) / str(i))
            except Exception as exc:  # a case that fails is a row too
                print(f"| {case.name} | (run) | | {_short(exc)} | **no** |")
                differ += 1
                continue
            for field, want, got in rows:
                same = want == got
                differ += not same
                print(f"| {case.name} | {field} | {_short(want)} | {_short(got)} | {'yes' if same else '**no**'} |")
    print(f"\n{differ} difference(s)")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
