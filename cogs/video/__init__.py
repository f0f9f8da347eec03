"""The `/video` commands, the Apps menus on messages, and the delivery of finished jobs."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .cog import VideoCog
from .menus import VideoMenus

if TYPE_CHECKING:
    from bot.app import VideoBot


async def setup(bot: VideoBot) -> None:
    await bot.add_cog(VideoCog(bot))
    await bot.add_cog(VideoMenus(bot))
