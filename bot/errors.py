"""Errors a member should see, all carrying the text they are shown.

Domain code raises these with sentences written for the person who asked; the command
tree's error handler (``cogs.shared.VideoCommandTree``) is the one place that turns them
into a private reply. Anything that is not a `UserError` is a bug: it is logged with its
context and the member gets a plain apology.
"""

from __future__ import annotations


class UserError(Exception):
    """A request the bot won't carry out, with the member-facing reason as ``message``."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Refused(UserError):
    """A request that breaks one or more rules (input checks, limits, gates).

    ``limit`` names the moderators' limit that refused it, if one did.
    """

    def __init__(self, *reasons: str, limit: str | None = None) -> None:
        self.reasons = list(reasons)
        self.limit = limit
        text = reasons[0] if len(reasons) == 1 else "\n".join(f"• {r}" for r in reasons)
        super().__init__(text)


class InvalidInput(UserError):
    """A value typed by a member or moderator that can't be used as it is."""


class PermissionDenied(UserError):
    """The member may not do this (not a moderator, not their job)."""


class NotFound(UserError):
    """What the member named does not exist here."""


class Conflict(UserError):
    """The thing exists but is in a state the action does not apply to."""


class Unavailable(UserError):
    """The bot takes no new jobs for now (it is restarting, or the provider is down); the
    member is told why and when to come back. Raised before anything is stored."""
