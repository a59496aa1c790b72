"""Named points where a crash-safety test may kill the process (SIGKILL: no cleanup runs).

`TAGWATCH_CRASH_AT=NAME` kills the process the first time it passes `crashpoint(NAME)`;
`NAME:N` the N-th time. Unset (always, outside tests) it costs one dictionary lookup.
The names are listed where they are passed (grep crashpoint) and used by tests/*crash*.
"""
from __future__ import annotations

import os
import signal

_passed: dict[str, int] = {}


def crashpoint(name: str) -> None:
    wanted = os.environ.get("TAGWATCH_CRASH_AT")
    if not wanted:
        return
    point, _, nth = wanted.partition(":")
    if point != name:
        return
    _passed[name] = _passed.get(name, 0) + 1
    if _passed[name] >= int(nth or 1):
        os.kill(os.getpid(), signal.SIGKILL)
