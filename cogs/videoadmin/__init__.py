"""`/videoadmin`: the moderators' commands (limits, settings, blocks, usage, jobs, audit)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .cog import VideoAdminCog

if TYPE_CHECKING:
    from bot.app import VideoBot


async def setup(bot: VideoBot) -> None:
    await bot.add_cog(VideoAdminCog(bot))
