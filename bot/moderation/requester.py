"""Who is asking, and whether they moderate the server they ask in."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from bot.db.servers import GuildSettings, ServerSettingsRepository
from bot.errors import PermissionDenied


@dataclass(frozen=True)
class Requester:
    """Who is asking, as plain values the cog reads from the interaction
    (``cogs.shared.requester_of``). ``role_names`` is optional and only makes refusal
    messages name roles in plain text."""

    user_id: int
    guild_id: int | None
    channel_id: int
    parent_channel_id: int | None = None  # the parent channel when in a thread
    role_ids: frozenset[int] | tuple[int, ...] = frozenset()
    can_manage_guild: bool = False
    role_names: tuple[tuple[int, str], ...] = ()  # optional, for messages: ((id, name), ...)
    # When the job asked for must be stored by (the bot's clock), for its member's answer
    # to reach Discord within 3 s; None: no one is waiting on an answer.
    answer_by: float | None = None


def is_moderator(
    can_manage_guild: bool, role_ids: Iterable[int], settings: GuildSettings | None
) -> bool:
    """Manage Server, or the server's moderator role."""
    if can_manage_guild:
        return True
    if settings is None or settings.mod_role_id is None:
        return False
    return settings.mod_role_id in set(role_ids)


class Moderators:
    """The one check every moderator operation makes."""

    def __init__(self, servers: ServerSettingsRepository) -> None:
        self.servers = servers

    async def is_moderator(self, actor: Requester) -> bool:
        if actor.guild_id is None:
            return False
        settings = await self.servers.get(actor.guild_id)
        return is_moderator(actor.can_manage_guild, actor.role_ids, settings)

    async def require(self, actor: Requester) -> GuildSettings:
        """The server's settings if ``actor`` moderates it; `PermissionDenied` otherwise."""
        if actor.guild_id is None:
            raise PermissionDenied("Moderator commands work only inside a server.")
        settings = await self.servers.get(actor.guild_id)
        if not is_moderator(actor.can_manage_guild, actor.role_ids, settings):
            raise PermissionDenied(
                "Only moderators can do this: members with Manage Server"
                + (
                    f" or the <@&{settings.mod_role_id}> role."
                    if settings.mod_role_id
                    else " (an admin can also name a moderator role)."
                )
            )
        return settings


def guild_of(actor: Requester) -> int:
    """The server ``actor`` asks in (moderator operations run only inside one)."""
    if actor.guild_id is None:
        raise PermissionDenied("This works only inside a server.")
    return actor.guild_id
