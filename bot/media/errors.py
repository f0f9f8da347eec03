"""The one error the media package raises."""

from __future__ import annotations


class MediaError(Exception):
    """A video that can't be probed, fitted, cut or joined, with a short ``reason``.

    Not a `bot.errors.UserError`: the caller decides what, if anything, a member reads.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
