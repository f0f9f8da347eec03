"""fakecord: a local Discord (REST v10 + Gateway + CDN) that the real discord.py client runs against.

(The full cheat sheet is filled in below.)
"""

from .emulator import (
    ACK_TIMEOUT,
    FakeDiscord,
    InteractionFailed,
    ScenarioError,
    Violation,
    WaitTimeout,
)
from .interactions import Interaction
from .limits import ApiError
from .world import Attachment, Channel, Guild, Member, Message, Role, User

__all__ = [
    "ACK_TIMEOUT", "ApiError", "Attachment", "Channel", "FakeDiscord", "Guild", "Interaction",
    "InteractionFailed", "Member", "Message", "Role", "ScenarioError", "User", "Violation",
    "WaitTimeout",
]
