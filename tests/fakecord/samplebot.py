"""A minimal sample bot for the emulator's own tests (and the standalone/child-process test).

It exercises what a real bot does: slash commands with subcommands, choices, ranges,
attachments and autocomplete; message context menus (one answers with a modal and reads the
target's file, one starts a thread from the message); deferrals, followups and ``@original`` edits; buttons that open
modals (one with a file upload); channel messages with files, replies and ``allowed_mentions``; DMs. A few commands break
Discord's rules on purpose when asked (``/echo`` with 2001 characters...), so tests can check
the emulator refuses them like Discord. Errors the bot gets back are kept in ``bot.errors``
(a handled error, as a well-behaved bot's tree ``on_error`` would do).

Run as a process: ``python -m tests.fakecord.samplebot`` with ``DISCORD_TOKEN``,
``DISCORD_API_BASE_URL`` and ``DISCORD_GATEWAY_URL`` set (the same settings the real bot reads).
"""

from __future__ import annotations

import asyncio
import io
import os
from typing import Literal

import discord
from discord import app_commands
from discord.ext import commands


class RerollModal(discord.ui.Modal, title="Re-roll"):
    prompt: discord.ui.TextInput = discord.ui.TextInput(label="New prompt", custom_id="prompt", max_length=500)

    def __init__(self, source: discord.Message | None) -> None:
        super().__init__(custom_id="reroll-modal")
        self.source = source

    async def on_submit(self, interaction: discord.Interaction) -> None:
        await interaction.response.send_message(f"Re-rolling: {self.prompt.value}", ephemeral=True)
        if self.source is not None:
            await self.source.reply(f"New take on {self.prompt.value}",
                                    allowed_mentions=discord.AllowedMentions.none())


class AnimateModal(discord.ui.Modal, title="Animate"):
    prompt: discord.ui.TextInput = discord.ui.TextInput(label="Prompt", custom_id="prompt", max_length=500)

    def __init__(self, target: discord.Message) -> None:
        super().__init__(custom_id="animate-modal")
        self.target = target

    async def on_submit(self, interaction: discord.Interaction) -> None:
        image = self.target.attachments[0]
        data = await image.read()  # the signed URL from resolved.messages
        await interaction.response.send_message(
            f"Animating {image.filename} ({len(data)}B): {self.prompt.value}", ephemeral=True)


class ShotModal(discord.ui.Modal, title="Add a shot"):
    """A modal with a file upload (component type 19 in a label): the files come resolved."""

    prompt: discord.ui.Label[ShotModal] = discord.ui.Label(
        text="Prompt", component=discord.ui.TextInput(custom_id="prompt", max_length=500))
    image: discord.ui.Label[ShotModal] = discord.ui.Label(
        text="Image", component=discord.ui.FileUpload(custom_id="image", required=False, max_values=2))

    def __init__(self) -> None:
        super().__init__(custom_id="shot-modal")

    async def on_submit(self, interaction: discord.Interaction) -> None:
        assert isinstance(self.prompt.component, discord.ui.TextInput)
        assert isinstance(self.image.component, discord.ui.FileUpload)
        files = [f"{a.filename} {len(await a.read())}B" for a in self.image.component.values]
        await interaction.response.send_message(
            f"Shot: {self.prompt.component.value} with {files or 'no file'}", ephemeral=True)


class RerollButton(discord.ui.DynamicItem[discord.ui.Button], template=r"reroll:(?P<job>\w+)"):
    """A persistent button: works after a restart because the job id is in its custom_id."""

    def __init__(self, job: str) -> None:
        super().__init__(discord.ui.Button(label="Re-roll", custom_id=f"reroll:{job}"))
        self.job = job

    @classmethod
    async def from_custom_id(cls, interaction, item, match):
        return cls(match["job"])

    async def callback(self, interaction: discord.Interaction) -> None:
        await interaction.response.send_modal(RerollModal(interaction.message))


class PickView(discord.ui.View):
    def __init__(self) -> None:
        super().__init__(timeout=60)

    @discord.ui.select(custom_id="flavour", options=[discord.SelectOption(label=x, value=x)
                                                      for x in ("vanilla", "mint")])
    async def pick(self, interaction: discord.Interaction, select: discord.ui.Select) -> None:
        await interaction.response.edit_message(content=f"picked {select.values[0]}", view=None)

    @discord.ui.button(label="Quiet", custom_id="quiet")
    async def quiet(self, interaction: discord.Interaction, button: discord.ui.Button) -> None:
        await interaction.response.defer()
        await interaction.edit_original_response(content="quietly updated")


class SampleBot(commands.Bot):
    def __init__(self, *, sync_guild_id: int | None = None, **kwargs) -> None:
        intents = discord.Intents.default()
        super().__init__(command_prefix="!", intents=intents, **kwargs)
        self.sync_guild_id = sync_guild_id
        self.errors: list[Exception] = []
        self.saved: dict[str, discord.Interaction] = {}
        self.seen_interactions: list[discord.Interaction] = []
        self.autocomplete_count = 3
        self.tree.on_error = self.on_tree_error  # type: ignore[method-assign]
        self._add_commands()

    async def setup_hook(self) -> None:
        self.add_dynamic_items(RerollButton)
        if self.sync_guild_id:
            guild = discord.Object(self.sync_guild_id)
            self.tree.copy_global_to(guild=guild)
            await self.tree.sync(guild=guild)
        else:
            await self.tree.sync()

    async def on_interaction(self, interaction: discord.Interaction) -> None:
        self.seen_interactions.append(interaction)

    async def on_tree_error(self, interaction: discord.Interaction, error: Exception) -> None:
        self.errors.append(getattr(error, "original", error))

    def _add_commands(self) -> None:
        tree = self.tree

        @tree.command(description="Answers pong")
        async def ping(interaction: discord.Interaction) -> None:
            await interaction.response.send_message("pong")

        @tree.command(description="Says the text back")
        async def echo(interaction: discord.Interaction, text: str, ephemeral: bool = False,
                       times: app_commands.Range[int, 1, 3000] = 1) -> None:
            await interaction.response.send_message(text * times, ephemeral=ephemeral,
                                                    allowed_mentions=discord.AllowedMentions.none())

        @tree.command(description="Sends an embed")
        async def embed(interaction: discord.Interaction, description_length: int) -> None:
            await interaction.response.send_message(embed=discord.Embed(description="d" * description_length))

        @tree.command(description="Opens a modal")
        async def feedback(interaction: discord.Interaction) -> None:
            await interaction.response.send_modal(RerollModal(None))

        @tree.command(description="Opens a modal that takes files")
        async def shot(interaction: discord.Interaction) -> None:
            await interaction.response.send_modal(ShotModal())

        @tree.command(description="Uploads a file of the given size")
        async def upload(interaction: discord.Interaction, size: int, defer: bool = False) -> None:
            file = discord.File(io.BytesIO(b"x" * size), filename="blob.bin")
            if defer:
                await interaction.response.defer()
                await interaction.edit_original_response(attachments=[file])
            else:
                await interaction.response.send_message(file=file)

        @tree.command(description="Answers after a delay, or never")
        async def slow(interaction: discord.Interaction, delay: float) -> None:
            self.saved["slow"] = interaction
            if delay >= 0:
                await asyncio.sleep(delay)
                await interaction.response.send_message("finally")

        @tree.command(description="Defers and keeps the interaction for later")
        async def later(interaction: discord.Interaction) -> None:
            self.saved["later"] = interaction  # before answering: a test reads it once acknowledged
            await interaction.response.defer(ephemeral=True, thinking=True)

        @tree.command(description="Posts in the channel")
        async def post(interaction: discord.Interaction, text: str, with_file: bool = False,
                       with_embed: bool = False, reply: bool = False) -> None:
            await interaction.response.send_message("posting", ephemeral=True)
            channel = interaction.channel
            assert isinstance(channel, discord.abc.Messageable)
            kwargs: dict = {"allowed_mentions": discord.AllowedMentions(
                everyone=False, roles=False, users=[interaction.user])}
            if with_file:
                kwargs["file"] = discord.File(io.BytesIO(b"data"), filename="a.txt")
            if with_embed:
                kwargs["embed"] = discord.Embed(title="t", description="d")
            if reply:
                status = await interaction.original_response()
                kwargs["reference"] = status
            await channel.send(text, **kwargs)

        @tree.command(description="Shows a select and a quiet button")
        async def pick(interaction: discord.Interaction) -> None:
            await interaction.response.send_message("pick one", view=PickView())

        @tree.command(description="Sends you a DM")
        async def dm(interaction: discord.Interaction) -> None:
            await interaction.response.defer(ephemeral=True)
            try:
                await interaction.user.send("hello in private")
            except discord.Forbidden:
                await interaction.followup.send("I cannot DM you", ephemeral=True)
            else:
                await interaction.followup.send("check your DMs", ephemeral=True)

        @tree.command(description="Moderators only")
        @app_commands.default_permissions(manage_guild=True)
        async def purge(interaction: discord.Interaction) -> None:
            await interaction.response.send_message("purged", ephemeral=True)

        @tree.command(description="Describes what it was given")
        async def inspect(interaction: discord.Interaction, user: discord.Member, role: discord.Role,
                          channel: discord.TextChannel, ratio: float = 1.0,
                          who: discord.User | discord.Role | None = None) -> None:
            await interaction.response.send_message(
                f"{user.name}:{user.guild_permissions.manage_guild} {role.name} #{channel.name} "
                f"{ratio} {getattr(who, 'name', None)}", ephemeral=True)

        video = app_commands.Group(name="video", description="Make videos")

        @video.command(name="generate", description="Generate a video")
        @app_commands.describe(prompt="What to see", duration="Seconds")
        async def generate(interaction: discord.Interaction, prompt: str,
                           duration: app_commands.Range[int, 1, 10] = 5,
                           style: Literal["cinematic", "anime"] = "cinematic",
                           first_frame: discord.Attachment | None = None) -> None:
            await interaction.response.defer(thinking=True)
            frame = await first_frame.read() if first_frame else b""
            await interaction.followup.send(
                f"{interaction.user.mention} {prompt} ({duration}s, {style}, frame {len(frame)}B)",
                file=discord.File(io.BytesIO(b"MP4" + frame), filename="video.mp4"),
                view=discord.ui.View(timeout=None).add_item(RerollButton("job1")),
                allowed_mentions=discord.AllowedMentions(everyone=False, roles=False,
                                                         users=[interaction.user]))

        @video.command(name="status", description="Status of a request")
        async def status(interaction: discord.Interaction, request_id: str) -> None:
            await interaction.response.send_message(f"status of {request_id}", ephemeral=True)

        @status.autocomplete("request_id")
        async def status_autocomplete(interaction: discord.Interaction, current: str):
            return [app_commands.Choice(name=f"{current}-{i}", value=f"{current}{i}")
                    for i in range(self.autocomplete_count)]

        tree.add_command(video)

        async def animate(interaction: discord.Interaction, message: discord.Message) -> None:
            if not message.attachments:
                await interaction.response.send_message("That message has no file to animate.",
                                                        ephemeral=True)
                return
            await interaction.response.send_modal(AnimateModal(message))

        async def discuss(interaction: discord.Interaction, message: discord.Message) -> None:
            await interaction.response.defer(ephemeral=True)
            thread = await message.create_thread(name=f"About {message.author.name}'s message",
                                                 auto_archive_duration=60)
            await thread.send("Let's talk about it here.")
            await interaction.followup.send(f"Started {thread.mention}", ephemeral=True)

        tree.add_command(app_commands.ContextMenu(name="Animate with Seedance", callback=animate))
        tree.add_command(app_commands.ContextMenu(name="Discuss in a thread", callback=discuss))


async def _main() -> None:
    from bot.discord_endpoints import point_discord_at

    point_discord_at(os.environ.get("DISCORD_API_BASE_URL"), os.environ.get("DISCORD_GATEWAY_URL"))
    guild = os.environ.get("SAMPLEBOT_SYNC_GUILD_ID")
    bot = SampleBot(sync_guild_id=int(guild) if guild else None)
    async with bot:
        await bot.start(os.environ["DISCORD_TOKEN"])


if __name__ == "__main__":
    asyncio.run(_main())
