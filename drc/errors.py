"""User-facing errors: one clear line naming the problem and the fix, never a traceback."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any


class DRCError(Exception):
    """A problem caused by input or environment that the user can fix; the message says how."""


def exit_cleanly(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Entry points (CLI commands, stage scripts): a DRCError becomes one ``error:`` line on stderr
    and exit status 2; a run stopped by a signal after checkpointing (``Interrupted``) says so and exits with
    128 + the signal; Ctrl-C elsewhere exits with 130. Outputs are written atomically, so none is half-written."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except DRCError as exc:
            print(f"error: {exc}", file=sys.stderr)
            sys.exit(2)
        except Interrupted as exc:
            print(f"interrupted: {exc}", file=sys.stderr)
            sys.exit(128 + exc.signum)
        except KeyboardInterrupt:
            print("interrupted; finished outputs are complete, unfinished ones were not written", file=sys.stderr)
            sys.exit(130)

    return wrapper


class Interrupted(Exception):
    """A run stopped by SIGINT / SIGTERM after writing what lets it resume; exits with 128 + the signal."""

    def __init__(self, signum: int, message: str) -> None:
        super().__init__(message)
        self.signum = signum
