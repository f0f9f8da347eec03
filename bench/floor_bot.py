"""The floor under ``python -m bench.run --mode burst --floor``: a discord.py bot whose
``/video generate text`` answers at once with a fixed public embed, the shape of the real
bot's status message, and does nothing else (no checks, no database, no provider).

What it measures is what discord.py and aiohttp alone cost per command on the machine:
reading the gateway's events, building each interaction, and posting each answer. The real
bot cannot answer a burst faster than this.

With ``FLOOR_ANSWER=raw`` (``--floor raw``) it goes below discord.py: each interaction is
answered from the gateway event's JSON with one bare aiohttp POST of the same embed (no
`discord.Interaction`, no command tree, no webhook adapter); only the gateway is
discord.py's. What is left is the emulator and the sockets: the floor of the machine.

Run by the benchmark with the bot's environment (``DISCORD_TOKEN``, ``COMMAND_GUILD_IDS``,
``DISCORD_API_BASE_URL``, ``DISCORD_GATEWAY_URL``).
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

import aiohttp
import discord
from discord import app_commands

from bot.cli import run_event_loop
from bot.discord_endpoints import point_discord_at


def accepted_embed(prompt: str, duration: int = 5, resolution: str = "720p") -> dict[str, Any]:
    """The one answer both floors send: the shape of the real bot's status message."""
    fields = [{"name": "Length", "value": f"{duration}s"}, {"name": "Resolution", "value": resolution}]
    return {"type": "rich", "title": "⏳ Accepted", "description": prompt, "fields": fields}


class FloorBot(discord.Client):
    def __init__(self, guild_id: int) -> None:
        intents = discord.Intents.none()
        intents.guilds = True  # as the real bot
        super().__init__(intents=intents, allowed_mentions=discord.AllowedMentions.none())
        self.guild = discord.Object(guild_id)
        self.tree = app_commands.CommandTree(self)
        self.raw_session: aiohttp.ClientSession | None = None
        video = app_commands.Group(name="video", description="Make videos")
        generate = app_commands.Group(name="generate", description="Start one", parent=video)

        @generate.command(name="text", description="A video from a prompt")
        async def text(
            interaction: discord.Interaction, prompt: str, duration: int = 5, resolution: str = "720p"
        ) -> None:
            embed = discord.Embed.from_dict(accepted_embed(prompt, duration, resolution))
            await interaction.response.send_message(embed=embed)

        self.tree.add_command(video, guild=self.guild)

    async def setup_hook(self) -> None:
        await self.tree.sync(guild=self.guild)
        if os.environ.get("FLOOR_ANSWER") == "raw":
            self._answer_raw(os.environ["DISCORD_API_BASE_URL"].rstrip("/"))

    async def close(self) -> None:
        if self.raw_session is not None:
            await self.raw_session.close()
        await super().close()

    def _answer_raw(self, api: str) -> None:
        session = self.raw_session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
        answers: set[asyncio.Task[None]] = set()

        async def answer(url: str, body: dict[str, Any]) -> None:
            async with session.post(url, json=body) as response:
                await response.read()

        def interaction_create(data: dict[str, Any]) -> None:
            # /video generate text: the group, the subgroup, then the command's options
            options = data["data"]["options"][0]["options"][0]["options"]
            embed = accepted_embed(**{o["name"]: o["value"] for o in options})
            url = f"{api}/interactions/{data['id']}/{data['token']}/callback"
            task = asyncio.create_task(answer(url, {"type": 4, "data": {"embeds": [embed]}}))
            answers.add(task)
            task.add_done_callback(answers.discard)

        self._connection.parsers["INTERACTION_CREATE"] = interaction_create


def main() -> None:
    point_discord_at(os.environ["DISCORD_API_BASE_URL"], os.environ["DISCORD_GATEWAY_URL"])
    bot = FloorBot(int(os.environ["COMMAND_GUILD_IDS"]))
    run_event_loop(bot.start(os.environ["DISCORD_TOKEN"]))  # on the real bot's event loop


if __name__ == "__main__":
    main()
