"""pytest fixtures that run the real bot against the Discord emulator and the GMI simulator.

- ``video_settings``: `Settings` for a test: the simulator's URL and key, a temp database,
  commands synced to the default guild, fast poll timings, and links to 127.0.0.1 allowed.
- ``video_bot``: ``bot = await video_bot(**setting_overrides)`` builds a `VideoBot`,
  connects it to ``fakecord`` and returns it once its start-up check of the provider is
  done, with that call left out of ``gmi_sim``'s log (closed at teardown by the emulator fixture);
  ``clock=`` gives the bot a clock the test can move (window resets, cooldowns, expiries).
- ``person``: a `Person` helper: run `/video generate` as someone and read what they see.
- `final_status(emu, status)`: the status message's last look, one line pointing at the
  result (no embed, no buttons, no file).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from bot.app import VideoBot
from bot.settings import Settings
from tests.fakecord import FakeDiscord, Interaction, Message
from tests.fakecord.world import Channel, Member
from tests.support.database import settings_for
from tests.support.gmi import GMI_TEST_KEY
from tests.support.jobwait import wait_for_job


@pytest.fixture
def video_settings(fakecord: FakeDiscord, gmi_sim, database_location) -> Settings:
    """On ``database_location``: so every end-to-end test runs on each database engine."""
    return Settings(
        discord_token=fakecord.token,
        gmi_api_key=GMI_TEST_KEY,
        gmi_api_base_url=gmi_sim.base_url,
        **settings_for(database_location),
        command_guild_ids=(fakecord.default.guild.id,),
        discord_api_base_url=fakecord.api_base_url,
        discord_gateway_url=fakecord.gateway_url,
        poll_min_interval=0.01,
        reconcile_window_seconds=0.5,
        poll_max_interval=0.05,
        gmi_timeout_seconds=5.0,
        # The simulator and the emulator serve media on 127.0.0.1; the refusal of private
        # links is tested with this turned off.
        allow_private_media_urls=True,
    )


@pytest.fixture
def video_bot(video_settings, connect_bot, gmi_sim) -> Callable[..., Any]:
    # video_settings first: its database is set up before, so removed after, the bot.
    async def start(*, clock: Callable[[], float] | None = None, **overrides: Any) -> VideoBot:
        settings = video_settings.model_copy(update=overrides)
        bot = VideoBot(settings) if clock is None else VideoBot(settings, clock=clock)
        await connect_bot(bot)
        # Tests start from a known provider state and count only their own calls.
        await asyncio.wait_for(bot.provider_watch.first_check.wait(), 10)
        gmi_sim.log.clear()
        return bot

    return start


def generate_command(options: dict[str, Any]) -> str:
    """The `/video generate` subcommand that takes these options."""
    if any(name.startswith(("first_frame", "last_frame")) for name in options):
        return "video generate frames"
    if any(name.startswith(("reference_", "asset")) for name in options):
        return "video generate references"
    return "video generate text"


class Person:
    """Reads like what a member does: ask for a video, then look at the channel."""

    def __init__(self, emu: FakeDiscord, member: Member, channel: Channel) -> None:
        self.emu = emu
        self.member = member
        self.channel = channel

    async def generate(self, **options: Any) -> Interaction:
        """``/video generate text``, or ``frames`` or ``references`` by the options given."""
        command = generate_command(options)
        ix = await self.emu.run_command(self.member, self.channel, command, **options)
        await ix.wait_acknowledged()
        return ix

    async def status_message(self, ix: Interaction) -> Message:
        return await ix.wait_response_message()

    def replies_to(self, message: Message) -> list[Message]:
        return [m for m in self.channel.messages if m.reply_to == message.id]

    async def quota(self) -> str:
        """What ``/video quota`` shows them (its embed's text)."""
        ix = await self.emu.run_command(self.member, self.channel, "video quota")
        await ix.wait_acknowledged()
        return ix.ephemeral_messages[0].embeds[0]["description"]

    async def wait_result(self, status: Message, timeout: float = 15.0) -> Message:
        await self.emu.wait_for(lambda: self.replies_to(status), timeout, "the result reply")
        (reply,) = self.replies_to(status)
        return reply


async def final_status(emu: FakeDiscord, status: Message, timeout: float = 5.0) -> str:
    """Wait until the status message has shrunk to its one line; return the line."""
    await emu.wait_for(
        lambda: status.content and not status.embeds and not status.components
        and not status.attachments,
        timeout, "the status message's one-line final look",
    )  # fmt: skip
    return status.content


@pytest.fixture
def person(fakecord: FakeDiscord) -> Callable[..., Person]:
    def make(member: Member | None = None, channel: Channel | None = None) -> Person:
        world = fakecord.default
        return Person(fakecord, member or world.alice, channel or world.channel)

    return make



async def job_when(bot: VideoBot, job_id: int, predicate: Callable[[Any], bool]):
    """Wait (bounded) until the bot's stored job satisfies ``predicate``; return it."""
    return await wait_for_job(bot.services.jobs, job_id, predicate, within=5.0)
