"""Graceful stops: SIGINT / SIGTERM ask a long loop to stop at its next safe point instead of killing it.

The first signal is acknowledged at once, from the handler; a second Ctrl-C stops at once
(KeyboardInterrupt, announced too), for when the safe point is too far away.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Iterator
from dataclasses import dataclass


@dataclass
class StopRequest:
    """The signal received so far (None: keep going)."""

    signum: int | None = None


def say(line: str) -> None:
    """One line on stderr, safe inside a signal handler (print could re-enter a write in progress)."""
    os.write(2, f"\n{line}\n".encode())


@contextlib.contextmanager
def stop_requests() -> Iterator[StopRequest]:
    """Inside the block SIGINT and SIGTERM set ``request.signum`` and say so at once; a second Ctrl-C aborts
    (KeyboardInterrupt) without a checkpoint. The previous handlers come back after the block.

    Outside the main thread (where Python cannot install handlers) signals keep their usual effect.
    """
    request = StopRequest()
    if threading.current_thread() is not threading.main_thread():
        yield request
        return

    def handler(signum: int, frame: object) -> None:
        if request.signum == signal.SIGINT and signum == signal.SIGINT:
            say("second Ctrl-C: aborting now, without a checkpoint")
            raise KeyboardInterrupt
        if request.signum is None and signum == signal.SIGINT:
            say("Ctrl-C: stopping after this step; Ctrl-C again to abort without a checkpoint")
        elif request.signum is None:
            say(f"{signal.Signals(signum).name}: stopping after this step")
        request.signum = signum

    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield request
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
