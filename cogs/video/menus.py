"""Apps on anyone's message: **Animate with Seedance** makes its image the first frame of a
new video, **Use as reference** hands its files to the model as references.

The message's files get the checks a command's uploads get (`cogs.video.uploads` reads
their first bytes, `bot.params` its rules) before the form opens, so a file the provider
would refuse is refused at once, in the same words as `/video generate`. The form asks for
the prompt and the main settings; the job is the member's who picked the menu, crediting
the member who posted the files (or, on one of the bot's results, the job behind it).
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.jobs.message_inputs import animation_request, reference_request
from bot.jobs.model import Job, JobOrigin
from bot.params import GenerationRequest, MediaInput

from . import flows
from .messages import marked_job
from .modals import FormValues, JobForm
from .uploads import inspect_uploads

if TYPE_CHECKING:
    from bot.app import VideoBot

ANIMATE = "Animate with Seedance"
USE_AS_REFERENCE = "Use as reference"
IN_SERVERS = app_commands.AppCommandContext(guild=True)


class VideoMenus(commands.Cog):
    def __init__(self, bot: VideoBot) -> None:
        self.bot = bot
        self.menus = (
            app_commands.ContextMenu(
                name=ANIMATE, callback=self.animate, allowed_contexts=IN_SERVERS
            ),
            app_commands.ContextMenu(
                name=USE_AS_REFERENCE, callback=self.use_as_reference, allowed_contexts=IN_SERVERS
            ),
        )

    async def cog_load(self) -> None:
        for menu in self.menus:
            self.bot.tree.add_command(menu)

    async def cog_unload(self) -> None:
        for menu in self.menus:
            self.bot.tree.remove_command(menu.name, type=menu.type)

    async def animate(self, interaction: discord.Interaction, message: discord.Message) -> None:
        request = animation_request(await self._files(interaction, message))
        await self._ask(interaction, message, "Animate this image", request, JobOrigin.ANIMATE)

    async def use_as_reference(
        self, interaction: discord.Interaction, message: discord.Message
    ) -> None:
        request = reference_request(await self._files(interaction, message))
        await self._ask(interaction, message, "Make a video from these", request, JobOrigin.REFERENCE)

    async def _files(
        self, interaction: discord.Interaction, message: discord.Message
    ) -> list[MediaInput]:
        """The message's files as the bot read them, once it is sure it could run a job."""
        flows.check_can_start(interaction, None)
        uploads = await inspect_uploads(self.bot.session, message.attachments)
        return [uploads[attachment.id] for attachment in message.attachments]

    async def _ask(
        self,
        interaction: discord.Interaction,
        message: discord.Message,
        title: str,
        request: GenerationRequest,
        origin: JobOrigin,
    ) -> None:
        self.bot.services.job_service.check_inputs(request)
        parent = await self._job_behind(interaction, message)
        form = JobForm(
            title,
            request,
            max_prompt=self.bot.settings.prompt_max_chars,
            offer=self.bot.health.offer,
            on_submit=functools.partial(
                _submitted,
                request=request,
                origin=origin,
                parent=parent,
                source=None if parent else message,
            ),
        )
        await interaction.response.send_modal(form)

    async def _job_behind(
        self, interaction: discord.Interaction, message: discord.Message
    ) -> Job | None:
        """The job whose result (or status, or gallery copy) this is, when it is the bot's."""
        if self.bot.user is None or message.author.id != self.bot.user.id:
            return None
        job_id = marked_job([embed.footer.text for embed in message.embeds])
        job = await self.bot.services.jobs.get(job_id) if job_id is not None else None
        return job if job is not None and job.guild_id == interaction.guild_id else None


async def _submitted(
    interaction: discord.Interaction, values: FormValues, **start: Any
) -> None:
    request: GenerationRequest = start.pop("request")
    await flows.start_job(interaction, request.with_changes(**values.changes()), **start)
