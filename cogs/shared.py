"""What both cogs share: who is asking, text helpers, the mod-log, and the one error path.

Errors: every command, autocomplete-free callback, button and form ends up in
`VideoCommandTree.handle_error`, the only place that turns an exception into an ephemeral
reply. A `bot.errors.UserError` is shown as it is; anything else is logged with its context
and answered with a plain apology.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, cast

import discord
from discord import app_commands

from bot.errors import UserError
from bot.jobs.model import Job
from bot.moderation.requester import Requester

if TYPE_CHECKING:
    from bot.app import VideoBot

log = logging.getLogger(__name__)

NO_MENTIONS = discord.AllowedMentions.none()


def video_bot(interaction: discord.Interaction) -> VideoBot:
    return cast("VideoBot", interaction.client)


def clip(text: str, limit: int) -> str:
    """``text`` cut to Discord's ``limit`` characters, with an ellipsis when cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def requester_of(interaction: discord.Interaction) -> Requester:
    """The member who interacted, as the domain sees them."""
    channel = interaction.channel
    parent_id = channel.parent_id if isinstance(channel, discord.Thread) else None
    roles = [role for role in getattr(interaction.user, "roles", []) if not role.is_default()]
    return Requester(
        user_id=interaction.user.id,
        guild_id=interaction.guild_id,
        channel_id=interaction.channel_id or 0,
        parent_channel_id=parent_id,
        role_ids=tuple(role.id for role in roles),
        can_manage_guild=interaction.permissions.manage_guild,
        role_names=tuple((role.id, role.name) for role in roles),
    )


def member_requester(member: discord.Member) -> Requester:
    """A member someone asks about (not the one interacting), as the quota rules see them."""
    roles = [role for role in member.roles if not role.is_default()]
    return Requester(
        user_id=member.id,
        guild_id=member.guild.id,
        channel_id=0,
        role_ids=tuple(role.id for role in roles),
        role_names=tuple((role.id, role.name) for role in roles),
    )


async def post_to_mod_log(bot: VideoBot, guild_id: int, text: str) -> None:
    """Post ``text`` to the mod-log channel if the server set one. Best effort: a moderator
    may have taken the bot's rights there away. Nobody is ever pinged."""
    settings = await bot.services.servers.get(guild_id)
    if settings.mod_log_channel_id is None:
        return
    channel = bot.get_partial_messageable(settings.mod_log_channel_id, guild_id=guild_id)
    try:
        await channel.send(clip(text, 2000), allowed_mentions=NO_MENTIONS)
    except discord.HTTPException as error:
        log.warning(
            "guild %d: mod-log post to %d failed (%s)", guild_id, settings.mod_log_channel_id, error
        )


# -- the one error path ------------------------------------------------------------------


def _original(error: BaseException) -> BaseException:
    """The exception behind discord.py's wrappers (a failed command, a failed transformer)."""
    if isinstance(error, app_commands.CommandInvokeError):
        return error.original
    if isinstance(error, app_commands.TransformerError) and error.__cause__ is not None:
        return error.__cause__
    return error


def explain_error(interaction: discord.Interaction, error: BaseException) -> str:
    """What to tell the member: expected errors in their own words, anything else logged
    with its context and answered with a plain apology."""
    original = _original(error)
    if isinstance(original, UserError):
        return original.message
    if isinstance(original, app_commands.NoPrivateMessage):
        return "This command works only inside a server."
    if isinstance(original, app_commands.CheckFailure):
        return str(original) or "You can't use this command here."
    if isinstance(original, app_commands.TransformerError):
        return f"I couldn't understand `{original.value}`: {original}"
    where: Any = interaction.command.qualified_name if interaction.command else interaction.data
    log.error("interaction %s failed", where, exc_info=original)
    return "Something went wrong on my side; it has been logged. Please try again."


class VideoCommandTree(app_commands.CommandTree[Any]):
    async def on_error(
        self, interaction: discord.Interaction, error: app_commands.AppCommandError
    ) -> None:
        await self.handle_error(interaction, error)

    async def handle_error(self, interaction: discord.Interaction, error: BaseException) -> None:
        """Tell the member privately, whether or not the interaction was answered yet."""
        text = explain_error(interaction, error)
        try:
            if interaction.response.is_done():
                await interaction.followup.send(text, ephemeral=True, allowed_mentions=NO_MENTIONS)
            else:
                await interaction.response.send_message(
                    text, ephemeral=True, allowed_mentions=NO_MENTIONS
                )
        except discord.HTTPException:
            log.warning("could not tell the member about an error", exc_info=True)


async def report_to_tree(interaction: discord.Interaction, error: BaseException) -> None:
    """Buttons and forms hand their errors to the command tree's handler."""
    tree = interaction.client.tree  # type: ignore[attr-defined]
    await cast(VideoCommandTree, tree).handle_error(interaction, error)


class RoutedModal(discord.ui.Modal):
    """A form whose errors reach the tree's handler like a command's."""

    async def on_error(  # type: ignore[override]  # a Modal's has no item
        self, interaction: discord.Interaction, error: Exception, /
    ) -> None:
        await report_to_tree(interaction, error)


# -- job references ----------------------------------------------------------------------

JOB_CHOICES = 25


def job_choice_label(job: Job) -> str:
    return clip(f"#{job.id} {job.display_state} · {job.request.prompt}", 100)


def can_see(interaction: discord.Interaction, job: Job) -> bool:
    """Whether the member may look at ``job``: their own, one posted in a channel they can
    view, or any job here if they moderate (checked by the caller)."""
    if job.user_id == interaction.user.id:
        return True
    guild = interaction.guild
    member = interaction.user
    if guild is None or not isinstance(member, discord.Member):
        return False
    channel = guild.get_channel_or_thread(job.channel_id)
    return channel is not None and channel.permissions_for(member).view_channel


class JobReference(app_commands.Transformer):
    """A job option: ``#12``, ``12``, the provider's request id, or a link to the job's
    status or result message. A member finds their own jobs and those in channels they can
    view; moderators, any job in the server; anyone else gets the answer a job that does
    not exist gets. It autocompletes from the member's recent jobs (a moderator's: the
    server's)."""

    async def transform(self, interaction: discord.Interaction, value: str) -> Job:
        services = video_bot(interaction).services
        job = await services.job_service.find(interaction.guild_id, str(value))
        if can_see(interaction, job) or await services.moderators.is_moderator(
            requester_of(interaction)
        ):
            return job
        raise services.job_service.not_found(str(value))

    async def autocomplete(  # type: ignore[override]
        self, interaction: discord.Interaction, value: str
    ) -> list[app_commands.Choice[str]]:
        """discord.py only logs errors raised in an autocomplete (the tree's handler never
        sees them), so a failure is logged here and the member gets an empty list."""
        try:
            bot = video_bot(interaction)
            services = bot.services
            if interaction.guild_id is None:
                return []
            if await services.moderators.is_moderator(requester_of(interaction)):
                jobs = await services.jobs.recent_in_guild(interaction.guild_id, limit=JOB_CHOICES)
            else:
                jobs = await services.jobs.recent_for_user(
                    interaction.user.id, interaction.guild_id, limit=JOB_CHOICES
                )
        except Exception:
            log.exception("job autocomplete failed")
            return []
        needle = str(value).strip().lstrip("#").lower()
        choices = []
        for job in jobs:
            label = job_choice_label(job)
            if needle and needle not in label.lower() and needle not in (job.request_id or ""):
                continue
            choices.append(app_commands.Choice(name=label, value=str(job.id)))
        return choices[:JOB_CHOICES]
