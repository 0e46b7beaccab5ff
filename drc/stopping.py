"""Graceful stops: SIGINT / SIGTERM ask a long loop to stop at its next safe point instead of killing it.

A second Ctrl-C stops at once (KeyboardInterrupt), for when the safe point is too far away.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from dataclasses import dataclass


@dataclass
class StopRequest:
    """The signal received so far (None: keep going)."""

    signum: int | None = None


@contextlib.contextmanager
def stop_requests() -> Iterator[StopRequest]:
    """Inside the block SIGINT and SIGTERM set ``request.signum``; the previous handlers come back after it.

    Outside the main thread (where Python cannot install handlers) signals keep their usual effect.
    """
    request = StopRequest()
    if threading.current_thread() is not threading.main_thread():
        yield request
        return

    def handler(signum: int, frame: object) -> None:
        if request.signum == signal.SIGINT and signum == signal.SIGINT:
            raise KeyboardInterrupt  # the second Ctrl-C
        request.signum = signum

    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield request
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
