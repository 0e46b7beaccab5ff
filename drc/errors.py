"""User-facing errors: one clear line naming the problem and the fix, never a traceback."""


class DRCError(Exception):
    """A problem caused by input or environment that the user can fix; the message says how."""
