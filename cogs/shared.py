"""What both cogs share: who is asking, text helpers, and the one error path.

Errors: every command, autocomplete-free callback, button and form ends up in
`VideoCommandTree.handle_error`, the only place that turns an exception into an ephemeral
reply. A `bot.errors.UserError` is shown as it is; options Discord sent in a shape the
command doesn't have are explained (its copy of the command is out of date); anything else
is logged with its context and answered with a plain apology.

Text: whatever a member (or the provider) wrote goes through `literal` before it is shown,
so it renders as typed and can't format, mention or link its way into the bot's messages.
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, Any, cast

import discord
from discord import AppCommandOptionType, app_commands

from bot.errors import UserError
from bot.jobs.model import Job
from bot.moderation.requester import Requester
from bot.params import normalise_text, quoted

if TYPE_CHECKING:
    from bot.app import VideoBot

log = logging.getLogger(__name__)

NO_MENTIONS = discord.AllowedMentions.none()


# Discord's error code for an interaction that can no longer be answered (its 3 s passed).
UNKNOWN_INTERACTION = 10062


def video_bot(interaction: discord.Interaction) -> VideoBot:
    return cast("VideoBot", interaction.client)


def clip(text: str, limit: int) -> str:
    """``text`` cut to Discord's ``limit`` characters, with an ellipsis when cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def literal(text: str) -> str:
    """Someone's text (a prompt, a file name, a link, a reason) shown as it was typed:
    markdown, mentions and Discord's other ``<...>`` markup (channels, commands, times)
    render as text, and characters that hide or reorder text are taken out. Links stay
    whole. Escaping lengthens the text: apply Discord's size limits to the result."""
    shown = discord.utils.escape_markdown(normalise_text(text)).replace("<", "\\<")
    return discord.utils.escape_mentions(shown)


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


async def delete_job_messages(bot: VideoBot, job: Job) -> None:
    """The messages of a deleted job go too (best effort): its status message, its result
    (in the channel or its thread) and its copy in the gallery. A thread started from the
    status message stays: the conversation in it is the members'."""
    places = [(job.channel_id, job.status_message_id)]
    if job.delivered_via == "channel":
        places.append((job.result_channel_id or job.channel_id, job.result_message_id))
    if job.gallery_channel_id is not None:
        places.append((job.gallery_channel_id, job.gallery_message_id))
    for channel_id, message_id in places:
        if message_id is None:
            continue
        channel = bot.get_partial_messageable(channel_id, guild_id=job.guild_id)
        try:
            await channel.get_partial_message(message_id).delete()
        except discord.HTTPException as error:
            log.info("job %d: message %d not deleted (%s)", job.id, message_id, error)


# -- the one error path ------------------------------------------------------------------


def _original(error: BaseException) -> BaseException:
    """The exception behind discord.py's wrappers (a failed command, a failed transformer)."""
    if isinstance(error, app_commands.CommandInvokeError):
        return error.original
    if isinstance(error, app_commands.TransformerError) and error.__cause__ is not None:
        return error.__cause__
    return error


class MalformedOptions(app_commands.AppCommandError):
    """Discord sent a command with options the bot's command doesn't have in that shape."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("; ".join(problems))


OUT_OF_SYNC = (
    "Discord sent this command in a shape I don't expect{detail}. Its copy of the command is "
    "probably out of date (the bot was just updated): wait a minute, or reload Discord "
    "(Ctrl+R), and try again."
)


def explain_error(interaction: discord.Interaction, error: BaseException) -> str:
    """What to tell the member: expected errors in their own words, anything else logged
    with its context and answered with a plain apology."""
    original = _original(error)
    if isinstance(original, UserError):
        return original.message
    if isinstance(original, MalformedOptions | app_commands.CommandSignatureMismatch):
        problems = getattr(original, "problems", [])
        log.warning(
            "/%s: Discord's copy of the command differs (%s); sync the commands",
            interaction.command.qualified_name if interaction.command else "?",
            "; ".join(problems) or type(original).__name__,
        )
        return OUT_OF_SYNC.format(detail=f" ({'; '.join(problems)})" if problems else "")
    if isinstance(original, app_commands.CommandNotFound):
        log.warning(
            "Discord sent /%s, which this bot doesn't have; sync the commands",
            " ".join([*original.parents, original.name]),
        )
        return OUT_OF_SYNC.format(detail=" (a command I don't have)")
    if isinstance(original, app_commands.NoPrivateMessage):
        return "This command works only inside a server."
    if isinstance(original, app_commands.CheckFailure):
        return str(original) or "You can't use this command here."
    if isinstance(original, app_commands.TransformerError):
        return f"I couldn't understand {quoted(str(original.value))} there."
    where: Any = interaction.command.qualified_name if interaction.command else interaction.data
    log.error("interaction %s failed", where, exc_info=original)
    return "Something went wrong on my side; it has been logged. Please try again."


class VideoCommandTree(app_commands.CommandTree[Any]):
    async def interaction_check(self, interaction: discord.Interaction, /) -> bool:
        """Check a command's options against the command before discord.py reads them.

        Discord checks options against its copy of the command, which can lag behind the
        bot's (a deploy before the sync lands, a client holding an old copy). discord.py
        then fails deep inside (a missing option as a signature mismatch, a value of
        another type or an unknown choice passed on as it is), so here every option is
        checked for presence, type and choice, and a mismatch answered in plain words.
        """
        if interaction.type is discord.InteractionType.application_command:
            command = interaction.command
            data = cast(dict[str, Any], interaction.data or {})
            if isinstance(command, app_commands.Command) and data.get("type", 1) == 1:
                problems = option_problems(command, data)
                if problems:
                    raise MalformedOptions(problems)
        return True

    async def on_error(
        self, interaction: discord.Interaction, error: app_commands.AppCommandError
    ) -> None:
        await self.handle_error(interaction, error)

    async def handle_error(self, interaction: discord.Interaction, error: BaseException) -> None:
        """Tell the member privately, whether or not the interaction was answered yet.

        An answer Discord refused because the interaction had expired (its 3 s passed) is
        a sign of overload, not a bug, and nothing more can reach the member: one warning
        line, not a traceback each (an overloaded minute can have hundreds)."""
        original = _original(error)
        if isinstance(original, discord.NotFound) and original.code == UNKNOWN_INTERACTION:
            log.warning(
                "%s was answered after Discord's 3 s, so it failed for the member: the bot "
                "is short of CPU or its database is slow",
                f"/{interaction.command.qualified_name}" if interaction.command else "A click",
            )
            return
        text = clip(explain_error(interaction, error), 2000)
        try:
            if interaction.response.is_done():
                await interaction.followup.send(text, ephemeral=True, allowed_mentions=NO_MENTIONS)
            else:
                await interaction.response.send_message(
                    text, ephemeral=True, allowed_mentions=NO_MENTIONS
                )
        except discord.HTTPException as failure:
            if failure.code == UNKNOWN_INTERACTION:  # too late: one line, not a traceback each
                log.info("could not tell the member about an error: the interaction expired")
            else:
                log.warning("could not tell the member about an error", exc_info=True)


_OPTION_WORDS = {
    AppCommandOptionType.string: "text",
    AppCommandOptionType.integer: "a whole number",
    AppCommandOptionType.number: "a number",
    AppCommandOptionType.boolean: "true or false",
    AppCommandOptionType.attachment: "a file",
    AppCommandOptionType.user: "a member",
    AppCommandOptionType.channel: "a channel",
    AppCommandOptionType.role: "a role",
    AppCommandOptionType.mentionable: "a member or a role",
}
_RESOLVED = {
    AppCommandOptionType.attachment: ("attachments",),
    AppCommandOptionType.user: ("users",),
    AppCommandOptionType.channel: ("channels",),
    AppCommandOptionType.role: ("roles",),
    AppCommandOptionType.mentionable: ("users", "roles"),
}


def option_problems(
    command: app_commands.Command[Any, ..., Any], data: dict[str, Any]
) -> list[str]:
    """What is wrong with the options of ``data`` (a command interaction's) for ``command``:
    unknown, missing, of another type than the command's, or not one of its choices."""
    options: list[dict[str, Any]] = data.get("options") or []
    while options and options[0].get("type") in (1, 2):  # down to the subcommand's own
        options = options[0].get("options") or []
    resolved: dict[str, Any] = data.get("resolved") or {}
    parameters = {p.display_name: p for p in command.parameters}
    given = {str(o.get("name")): o for o in options}
    problems = [
        f"{quoted(name)} is missing"
        for name, p in parameters.items()
        if p.required and name not in given
    ]
    for name, option in given.items():
        parameter = parameters.get(name)
        if parameter is None:
            problems.append(f"it has no option {quoted(name)}")
        elif not _fits(parameter.type, option, resolved):
            problems.append(f"{quoted(name)} should be {_OPTION_WORDS[parameter.type]}")
        elif parameter.choices and option["value"] not in {c.value for c in parameter.choices}:
            choices = ", ".join(str(c.name) for c in parameter.choices)
            problems.append(f"{quoted(name)} should be one of {choices}")
    return problems


def _fits(kind: AppCommandOptionType, option: dict[str, Any], resolved: dict[str, Any]) -> bool:
    """Whether ``option`` is of type ``kind``, as Discord sends that type."""
    value = option.get("value")
    if option.get("type") != kind.value:
        return False
    if kind in _RESOLVED:
        return any(str(value) in (resolved.get(part) or {}) for part in _RESOLVED[kind])
    if kind is AppCommandOptionType.boolean:
        return isinstance(value, bool)
    if kind is AppCommandOptionType.string:
        return isinstance(value, str)
    numbers = int if kind is AppCommandOptionType.integer else int | float
    return isinstance(value, numbers) and not isinstance(value, bool)


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


_MARKUP = re.compile(r"<(@!?|@&|#)(\d{15,20})>")


def plain(text: str, guild: discord.Guild | None) -> str:
    """``text`` where Discord shows it raw (autocomplete choices, titles): mention markup
    becomes ``@name`` / ``#channel``, named from the server where it can be."""

    def named(match: re.Match[str]) -> str:
        kind, ident = match.group(1), int(match.group(2))
        found: Any = None
        if guild is not None:
            found = (
                guild.get_role(ident) if kind == "@&"
                else guild.get_channel_or_thread(ident) if kind == "#"
                else guild.get_member(ident)
            )  # fmt: skip
        if kind == "#":
            return f"#{found.name}" if found is not None else "#channel"
        name = getattr(found, "display_name", None) or getattr(found, "name", None)
        return f"@{name}" if name else ("@role" if kind == "@&" else "@member")

    return _MARKUP.sub(named, normalise_text(text))


def job_choice_label(job: Job, guild: discord.Guild | None, *, owner: bool) -> str:
    """``#12 Delivered · a fox in the snow``; with ``owner``, whose job it is too."""
    whose = ""
    if owner:
        member = guild.get_member(job.user_id) if guild is not None else None
        whose = f"{member.display_name if member else 'a member'} · "
    return clip(plain(f"#{job.id} {job.display_state} · {whose}{job.request.prompt}", guild), 100)


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
            moderating = await services.moderators.is_moderator(requester_of(interaction))
            if moderating:
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
            label = job_choice_label(job, interaction.guild, owner=moderating)
            if needle and needle not in label.lower() and needle not in (job.request_id or ""):
                continue
            choices.append(app_commands.Choice(name=label, value=str(job.id)))
        return choices[:JOB_CHOICES]
