"""`/videoadmin`: a thin adapter over bot.quotas, bot.moderation, bot.usage and bot.jobs.

Discord hides the command from members without Manage Server (its default permission),
but a server may open it to anyone, so nothing here decides who is a moderator: every
domain call checks `Moderators.require` itself and raises a `UserError` with a message for
the member, which the tree's error handler shows privately. Read-only views that have no
domain check of their own call `Moderators.require` first.

Every change answers privately with its audit line (who, what, old → new) and, when the
server chose a mod-log channel, posts the same line there without pinging anyone.
"""

from __future__ import annotations

import functools
import io
import logging
import zoneinfo
from collections.abc import Callable
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.db.audit import AuditEntry
from bot.db.challenges import ChallengeTerms
from bot.errors import InvalidInput, UserError
from bot.jobs.destinations import ResultsIn
from bot.jobs.model import Job
from bot.markup import plural
from bot.model_offer import RESOLUTIONS
from bot.quotas.catalogue import LIMITS, LimitKind, Window
from bot.usage import TOP_ORDER, Period
from cogs.shared import (
    NO_MENTIONS,
    JobReference,
    clip,
    delete_job_messages,
    member_requester,
    plain,
    requester_of,
)
from cogs.video import challenges as challenge_posts  # a module: it imports our render
from cogs.video.assets import (
    asset_choices,
    check_can_keep,
    forget_file,
    keep_file,
    read_upload,
)
from cogs.video.messages import library_embed
from cogs.video.poster import missing_post_permissions, missing_thread_permissions
from cogs.video.reviews import missing_review_permissions

from . import render
from .parsing import parse_deadline, parse_expiry

if TYPE_CHECKING:
    from bot.app import VideoBot
    from bot.services import Services

log = logging.getLogger(__name__)

AUDIT_PAGE_SIZE = 20
EVENTS_PAGE_SIZE = 20
NAME_LOOKUPS = 50

RESULTS_IN_CHOICES = [
    app_commands.Choice(name=render.RESULTS_IN_WORDS[where], value=where.value)
    for where in ResultsIn
]
LIMIT_CHOICES = [
    app_commands.Choice(name=render.limit_choice_label(name), value=name) for name in LIMITS
]
WINDOW_CHOICES = [app_commands.Choice(name=w.value, value=w.value) for w in Window]
TOP_CHOICES = [app_commands.Choice(name=by, value=by) for by in TOP_ORDER]
KIND_CHOICES = [
    app_commands.Choice(name="word or phrase (whole words, any case)", value="word"),
    app_commands.Choice(name="regular expression", value="regex"),
]
VALUE_HINTS = {
    LimitKind.COUNT: ["1", "3", "5", "10", "20", "unlimited"],
    LimitKind.AMOUNT: ["1", "5", "10", "25", "unlimited"],
    LimitKind.COOLDOWN: ["30s", "1m", "5m", "1h", "none"],
    LimitKind.RESOLUTION: [*RESOLUTIONS, "unlimited"],
    LimitKind.ALLOW: ["allow", "deny"],
}


@functools.cache
def _timezones() -> tuple[str, ...]:
    return tuple(sorted(zoneinfo.available_timezones()))


def _thread_permission_note(guild: discord.Guild, allowed: frozenset[int]) -> str | None:
    """Where members generate but the bot can't start result threads (results there stay
    in the channel), named with what it lacks."""
    channels = [c for c in guild.text_channels if not allowed or c.id in allowed]
    lacking = []
    for channel in channels:
        perms = channel.permissions_for(guild.me)
        if not perms.view_channel:
            continue
        missing = missing_thread_permissions(perms)
        if missing:
            lacking.append(f"{channel.mention} (missing {', '.join(missing)})")
    if not lacking:
        return None
    return clip(
        "⚠️ I can't start threads in " + ", ".join(lacking) + ": results there stay in the "
        "channel until I can.",
        1024,
    )


_MISSING_TO_POST: Callable[[discord.Permissions], list[str]] = functools.partial(
    missing_post_permissions, is_thread=False
)


def _cannot_post_note(
    channel: discord.TextChannel | None,
    otherwise: str,
    missing_in: Callable[[discord.Permissions], list[str]] = _MISSING_TO_POST,
) -> str | None:
    """A warning when the bot lacks what it needs to post in a channel just chosen."""
    if channel is None:
        return None
    missing = missing_in(channel.permissions_for(channel.guild.me))
    if not missing:
        return None
    return f"⚠️ I can't post in {channel.mention} yet: give me {', '.join(missing)} there, or {otherwise}."


def _scope(role: discord.Role | None, member: discord.Member | None) -> tuple[str, int | None]:
    """Which level a limit command is about: a role, a member, else the server."""
    if role is not None and member is not None:
        raise InvalidInput("Give either `role` or `member`, not both.")
    if role is not None:
        if role.is_default():
            raise InvalidInput("For everyone, leave out `role`: that is the server default.")
        return "role", role.id
    if member is not None:
        return "member", member.id
    return "server", None


@app_commands.guild_only()
@app_commands.default_permissions(manage_guild=True)
class VideoAdminCog(
    commands.GroupCog,
    name="videoadmin",
    group_name="videoadmin",
    group_description="Moderate video generation: limits, blocks, assets, usage, jobs, the audit log.",
):
    limit = app_commands.Group(
        name="limit", description="Set, clear and list limits per server, role or member."
    )
    settings = app_commands.Group(
        name="settings", description="Change the server's video settings."
    )
    channels = app_commands.Group(
        name="channels", description="Choose the channels where members may generate videos."
    )
    block = app_commands.Group(
        name="block", description="Block members from generating, and lift blocks."
    )
    filter = app_commands.Group(
        name="filter", description="Manage the words and patterns refused in prompts."
    )
    usage = app_commands.Group(
        name="usage", description="See who generated how much, and the spend."
    )
    job = app_commands.Group(name="job", description="Cancel or delete anyone's job here.")
    queue = app_commands.Group(
        name="queue", description="Move or drop jobs waiting in the queue (see /video queue)."
    )
    quota = app_commands.Group(
        name="quota", description="Give a member extra quota or a fresh start."
    )
    asset = app_commands.Group(
        name="asset", description="Manage the library of references members use by name."
    )
    review = app_commands.Group(
        name="review", description="Choose which jobs wait for a moderator's approval, and where."
    )
    challenge = app_commands.Group(
        name="challenge", description="Run a video challenge: entries, votes and rewards."
    )

    def __init__(self, bot: VideoBot) -> None:
        self.bot = bot
        super().__init__()

    # -- shared --------------------------------------------------------------------------

    @property
    def services(self) -> Services:
        return self.bot.services

    @property
    def currency(self) -> str:
        return self.bot.settings.currency

    async def _changed(
        self, interaction: discord.Interaction, entry: AuditEntry, note: str | None = None
    ) -> None:
        currency = self.bot.settings.currency
        # Queued before the answer, so the mod-log reads in the order changes were made.
        self.bot.mod_log.record(entry)
        embed = render.change_embed(entry, currency, note)
        if interaction.response.is_done():  # deferred while the change was worked out
            await interaction.followup.send(
                embed=embed, ephemeral=True, allowed_mentions=NO_MENTIONS
            )
        else:
            await interaction.response.send_message(
                embed=embed, ephemeral=True, allowed_mentions=NO_MENTIONS
            )

    async def _show(self, interaction: discord.Interaction, embed: discord.Embed) -> None:
        await interaction.response.send_message(
            embed=embed, ephemeral=True, allowed_mentions=NO_MENTIONS
        )

    async def _names(
        self, guild: discord.Guild | None, user_ids: set[int], channel_ids: set[int]
    ) -> tuple[dict[int, str], dict[int, str]]:
        """Display names for a report: members from the cache, else asked of Discord (at
        most `NAME_LOOKUPS` of them, so a big export can't flood the API); channel names."""
        users: dict[int, str] = {}
        lookups = 0
        for user_id in sorted(user_ids):
            member = guild.get_member(user_id) if guild else None
            if member is None and guild is not None and lookups < NAME_LOOKUPS:
                lookups += 1
                try:
                    member = await guild.fetch_member(user_id)
                except discord.HTTPException:
                    member = None
            if member is not None:
                users[user_id] = member.display_name
        channels: dict[int, str] = {}
        for channel_id in channel_ids:
            channel = guild.get_channel_or_thread(channel_id) if guild else None
            if channel is not None:
                channels[channel_id] = channel.name
        return users, channels

    async def _is_moderator(self, interaction: discord.Interaction) -> bool:
        """For autocompletes, which must answer with choices rather than raise."""
        return await self.services.moderators.is_moderator(requester_of(interaction))

    # -- /videoadmin limit ---------------------------------------------------------------

    @limit.command(name="set", description="Set a limit for the server, a role or a member.")
    @app_commands.describe(
        name="The limit to change; start typing to pick one.",
        value="Its value, for example 5, unlimited, 30s, 720p, allow or deny.",
        role="Set it for this role (a member gets their most generous role's value).",
        member="Set it for this member only (it overrides roles and the server).",
    )
    @app_commands.choices(name=LIMIT_CHOICES)
    async def limit_set(
        self,
        interaction: discord.Interaction,
        name: str,
        value: app_commands.Range[str, 1, 40],
        role: discord.Role | None = None,
        member: discord.Member | None = None,
    ) -> None:
        scope, scope_id = _scope(role, member)
        entry = await self.services.limit_admin.set_limit(
            requester_of(interaction), scope, scope_id, name, value
        )
        await self._changed(interaction, entry)

    @limit_set.autocomplete("value")
    async def limit_value_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        spec = LIMITS.get(getattr(interaction.namespace, "name", None) or "")
        hints = (
            VALUE_HINTS[spec.kind] if spec else sorted({h for v in VALUE_HINTS.values() for h in v})
        )
        needle = current.strip().lower()
        return [app_commands.Choice(name=h, value=h) for h in hints if needle in h][:25]

    @limit.command(name="clear", description="Remove a limit, so the next level decides again.")
    @app_commands.describe(
        name="The limit to change; start typing to pick one.",
        role="Clear it for this role.",
        member="Clear this member's own value.",
    )
    @app_commands.choices(name=LIMIT_CHOICES)
    async def limit_clear(
        self,
        interaction: discord.Interaction,
        name: str,
        role: discord.Role | None = None,
        member: discord.Member | None = None,
    ) -> None:
        scope, scope_id = _scope(role, member)
        entry = await self.services.limit_admin.clear_limit(
            requester_of(interaction), scope, scope_id, name
        )
        await self._changed(interaction, entry)

    @limit.command(
        name="list", description="List the limits set here, or those of one role or member."
    )
    @app_commands.describe(
        role="Only this role's limits.",
        member="This member's own values, and what applies to them in the end.",
    )
    async def limit_list(
        self,
        interaction: discord.Interaction,
        role: discord.Role | None = None,
        member: discord.Member | None = None,
    ) -> None:
        scope, scope_id = (None, None) if role is None and member is None else _scope(role, member)
        stored = await self.services.limit_admin.list_limits(
            requester_of(interaction), scope, scope_id
        )
        embed = render.limits_embed(stored, render.limits_title(role, member))
        if member is not None:
            effective = await self.services.limit_admin.effective_limits(
                requester_of(interaction), member_requester(member)
            )
            render.effective_field(embed, effective)
        await self._show(interaction, embed)

    # -- /videoadmin settings ------------------------------------------------------------

    @settings.command(
        name="show", description="Show the moderator role, mod-log, reset time, refunds and budget."
    )
    async def settings_show(self, interaction: discord.Interaction) -> None:
        settings = await self.services.moderators.require(requester_of(interaction))
        budget = await self.services.standings.budget(settings.guild_id)
        await self._show(interaction, render.settings_embed(settings, budget, self.currency))

    @settings.command(name="modrole", description="Choose the role whose members moderate videos.")
    @app_commands.describe(role="The moderator role; leave it empty to have none.")
    async def settings_modrole(
        self, interaction: discord.Interaction, role: discord.Role | None = None
    ) -> None:
        if role is not None and role.is_default():
            raise InvalidInput("@everyone can't be the moderator role.")
        entry = await self.services.server_settings.set_mod_role(
            requester_of(interaction), role.id if role else None
        )
        await self._changed(interaction, entry)

    @settings.command(
        name="modlog", description="Choose the channel where every moderation change is posted."
    )
    @app_commands.describe(channel="The mod-log channel; leave it empty to stop posting.")
    async def settings_modlog(
        self, interaction: discord.Interaction, channel: discord.TextChannel | None = None
    ) -> None:
        note = None
        if channel is not None:
            perms = channel.permissions_for(channel.guild.me)
            if not (perms.view_channel and perms.send_messages):
                note = (
                    f"⚠️ I can't post in {channel.mention} yet: give me View Channel and "
                    "Send Messages there."
                )
        entry = await self.services.server_settings.set_mod_log_channel(
            requester_of(interaction), channel.id if channel else None
        )
        await self._changed(interaction, entry, note)

    @settings.command(
        name="timezone", description="Set the time zone of the daily, weekly and monthly resets."
    )
    @app_commands.describe(name="A time zone such as Europe/Paris; start typing to pick one.")
    async def settings_timezone(
        self, interaction: discord.Interaction, name: app_commands.Range[str, 1, 64]
    ) -> None:
        entry = await self.services.server_settings.set_timezone(requester_of(interaction), name)
        await self._changed(interaction, entry)

    @settings_timezone.autocomplete("name")
    async def timezone_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        needle = current.strip().lower().replace(" ", "_")
        found = [tz for tz in _timezones() if needle in tz.lower()]
        found.sort(key=lambda tz: (not tz.lower().startswith(needle), tz))
        return [app_commands.Choice(name=tz, value=tz) for tz in found[:25]]

    @settings.command(
        name="resethour",
        description="Set the local hour (0-23) when daily, weekly and monthly counts reset.",
    )
    @app_commands.describe(
        hour="The hour of the day, in the server's time zone, when counts reset."
    )
    async def settings_resethour(
        self, interaction: discord.Interaction, hour: app_commands.Range[int, 0, 23]
    ) -> None:
        entry = await self.services.server_settings.set_reset_hour(requester_of(interaction), hour)
        await self._changed(interaction, entry)

    @settings.command(
        name="refunds",
        description="Choose whether quota is given back when a job fails, is cancelled or times out.",
    )
    @app_commands.describe(enabled="On: failed, cancelled and timed-out jobs don't count.")
    async def settings_refunds(self, interaction: discord.Interaction, enabled: bool) -> None:
        entry = await self.services.server_settings.set_refunds(requester_of(interaction), enabled)
        await self._changed(interaction, entry)

    @settings.command(
        name="exempt",
        description="Choose whether moderators and the owner skip member limits here.",
    )
    @app_commands.describe(
        enabled="On: moderators' own videos count against no member limit (the budget still does)."
    )
    async def settings_exempt(self, interaction: discord.Interaction, enabled: bool) -> None:
        entry = await self.services.server_settings.set_moderators_exempt(
            requester_of(interaction), enabled
        )
        await self._changed(interaction, entry)

    @settings.command(
        name="budget", description="Set the server's monthly budget of estimated cost."
    )
    @app_commands.describe(
        amount="The estimated cost allowed per month; leave it empty to remove the budget."
    )
    async def settings_budget(
        self,
        interaction: discord.Interaction,
        amount: app_commands.Range[float, 0, 1_000_000] | None = None,
    ) -> None:
        entry = await self.services.server_settings.set_monthly_budget(
            requester_of(interaction), amount
        )
        assert interaction.guild_id is not None
        budget = await self.services.standings.budget(interaction.guild_id)
        await self._changed(interaction, entry, render.budget_text(budget, self.currency))

    @settings.command(
        name="confirm",
        description="Show members the price first of every job estimated above an amount.",
    )
    @app_commands.describe(
        amount="Jobs estimated above it wait for their member's Confirm; leave it empty to stop."
    )
    async def settings_confirm(
        self,
        interaction: discord.Interaction,
        amount: app_commands.Range[float, 0, 1_000_000] | None = None,
    ) -> None:
        entry = await self.services.server_settings.set_confirm_above(
            requester_of(interaction), amount
        )
        settings = await self.services.server_settings.get(entry.guild_id)
        await self._changed(interaction, entry, render.confirm_text(settings, self.currency))

    @settings.command(
        name="results", description="Post results in the channel, or in a thread per job."
    )
    @app_commands.describe(where="In the channel (a reply to each job), or in a thread per job.")
    @app_commands.choices(where=RESULTS_IN_CHOICES)
    async def settings_results(self, interaction: discord.Interaction, where: str) -> None:
        entry = await self.services.server_settings.set_results_in(requester_of(interaction), where)
        note = None
        if where == ResultsIn.THREAD and interaction.guild is not None:
            note = _thread_permission_note(interaction.guild, await self._allowed(interaction))
        await self._changed(interaction, entry, note)

    @settings.command(
        name="gallery", description="Name a channel that gets a copy of every finished video."
    )
    @app_commands.describe(channel="The gallery channel; leave it empty to have none.")
    async def settings_gallery(
        self, interaction: discord.Interaction, channel: discord.TextChannel | None = None
    ) -> None:
        entry = await self.services.server_settings.set_gallery_channel(
            requester_of(interaction), channel.id if channel else None
        )
        await self._changed(interaction, entry, _cannot_post_note(channel, "no copies will arrive"))

    # -- /videoadmin review --------------------------------------------------------------

    @review.command(name="channel", description="Choose where jobs that need approval are posted.")
    @app_commands.describe(
        channel="The review channel (moderators only, ideally); leave it empty to have none."
    )
    async def review_channel(
        self, interaction: discord.Interaction, channel: discord.TextChannel | None = None
    ) -> None:
        entry = await self.services.server_settings.set_review_channel(
            requester_of(interaction), channel.id if channel else None
        )
        note = _cannot_post_note(
            channel,
            "jobs that need approval will end unmade (without charge)",
            missing_review_permissions,
        )
        await self._changed(interaction, entry, note)

    @review.command(name="cost", description="Require approval for jobs above an estimated cost.")
    @app_commands.describe(
        amount="Jobs estimated above this need approval; leave it empty to remove the rule."
    )
    async def review_cost(
        self,
        interaction: discord.Interaction,
        amount: app_commands.Range[float, 0, 1_000_000] | None = None,
    ) -> None:
        entry = await self.services.server_settings.set_review_cost_above(
            requester_of(interaction), amount
        )
        await self._changed(interaction, entry, await self._review_channel_note(interaction))

    @review.command(name="videos", description="Require approval for jobs with reference videos.")
    @app_commands.describe(required="On: every job with a reference video waits for approval.")
    async def review_videos(self, interaction: discord.Interaction, required: bool) -> None:
        entry = await self.services.server_settings.set_review_reference_videos(
            requester_of(interaction), required
        )
        await self._changed(interaction, entry, await self._review_channel_note(interaction))

    @review.command(
        name="role", description="Require approval for every job of members without a role."
    )
    @app_commands.describe(
        role="Members without this role need approval; leave it empty to remove the rule."
    )
    async def review_role(
        self, interaction: discord.Interaction, role: discord.Role | None = None
    ) -> None:
        if role is not None and role.is_default():
            raise InvalidInput(
                "Everyone has @everyone, so nobody would need approval: pick another role."
            )
        entry = await self.services.server_settings.set_review_unless_role(
            requester_of(interaction), role.id if role else None
        )
        await self._changed(interaction, entry, await self._review_channel_note(interaction))

    async def _review_channel_note(self, interaction: discord.Interaction) -> str | None:
        assert interaction.guild_id is not None
        settings = await self.services.servers.get(interaction.guild_id)
        if settings.review_channel_id is not None:
            return None
        return (
            "⚠️ No review channel is set: jobs that need approval end unmade (without charge) "
            "until you choose one with `/videoadmin review channel`."
        )

    @settings.command(
        name="queue", description="Cap how many of this server's jobs are at the model at once."
    )
    @app_commands.describe(
        cap="At most this many jobs at once, the others wait their turn; empty: no cap."
    )
    async def settings_queue(
        self, interaction: discord.Interaction, cap: app_commands.Range[int, 1, 1000] | None = None
    ) -> None:
        entry = await self.services.server_settings.set_max_in_flight(
            requester_of(interaction), cap
        )
        self.services.turns.turn_freed()  # a higher cap, or none, lets the next jobs go
        await self._changed(interaction, entry)

    async def _allowed(self, interaction: discord.Interaction) -> frozenset[int]:
        assert interaction.guild_id is not None
        return (await self.services.servers.get(interaction.guild_id)).allowed_channel_ids

    # -- /videoadmin channels ------------------------------------------------------------

    @channels.command(name="allow", description="Allow generating in a channel (and its threads).")
    @app_commands.describe(
        channel="The channel; once any channel is listed, only listed channels are allowed."
    )
    async def channels_allow(
        self, interaction: discord.Interaction, channel: discord.TextChannel
    ) -> None:
        entry = await self.services.server_settings.allow_channel(
            requester_of(interaction), channel.id
        )
        await self._changed(interaction, entry)

    @channels.command(name="disallow", description="Take a channel off the allowed list.")
    @app_commands.describe(
        channel="The channel to take off; with none listed, all channels are allowed."
    )
    async def channels_disallow(
        self, interaction: discord.Interaction, channel: discord.TextChannel
    ) -> None:
        entry = await self.services.server_settings.disallow_channel(
            requester_of(interaction), channel.id
        )
        await self._changed(interaction, entry)

    @channels.command(name="list", description="List where members may generate videos.")
    async def channels_list(self, interaction: discord.Interaction) -> None:
        settings = await self.services.moderators.require(requester_of(interaction))
        embed = render.listing("Generation channels", [render.channels_text(settings)], "")
        await self._show(interaction, embed)

    # -- /videoadmin block ---------------------------------------------------------------

    @block.command(name="add", description="Stop a member from generating videos here.")
    @app_commands.describe(
        member="The member to block.",
        reason="Why; the member reads it when they try.",
        expires="How long, for example 30m, 12h, 7d or 2w; leave it empty to block until lifted.",
    )
    async def block_add(
        self,
        interaction: discord.Interaction,
        member: discord.Member,
        reason: app_commands.Range[str, 1, 500],
        expires: app_commands.Range[str, 1, 20] | None = None,
    ) -> None:
        expires_at = parse_expiry(expires, self.bot.clock())
        entry = await self.services.member_blocks.block(
            requester_of(interaction), member.id, reason, expires_at
        )
        await self._changed(interaction, entry)

    @block.command(name="remove", description="Let a blocked member generate again.")
    @app_commands.describe(member="The member to unblock.")
    async def block_remove(self, interaction: discord.Interaction, member: discord.Member) -> None:
        entry = await self.services.member_blocks.unblock(requester_of(interaction), member.id)
        await self._changed(interaction, entry)

    @block.command(name="list", description="List the members blocked from generating, and why.")
    async def block_list(self, interaction: discord.Interaction) -> None:
        blocks = await self.services.member_blocks.listed(requester_of(interaction))
        await self._show(interaction, render.blocks_embed(blocks))

    # -- /videoadmin filter --------------------------------------------------------------

    @filter.command(name="add", description="Refuse prompts containing a word, phrase or pattern.")
    @app_commands.describe(
        pattern="The word or phrase (whole words, any case), or a regular expression.",
        kind="Word (the default) or regex.",
    )
    @app_commands.choices(kind=KIND_CHOICES)
    async def filter_add(
        self,
        interaction: discord.Interaction,
        pattern: app_commands.Range[str, 1, 200],
        kind: str = "word",
    ) -> None:
        _, entry = await self.services.prompt_filter.add(requester_of(interaction), pattern, kind)
        await self._changed(interaction, entry)

    @filter.command(name="remove", description="Stop refusing prompts with a pattern.")
    @app_commands.describe(pattern="The blocked pattern; start typing to pick one.")
    async def filter_remove(
        self, interaction: discord.Interaction, pattern: app_commands.Range[int, 1]
    ) -> None:
        entry = await self.services.prompt_filter.remove(requester_of(interaction), pattern)
        await self._changed(interaction, entry)

    @filter_remove.autocomplete("pattern")
    async def pattern_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[int]]:
        if not await self._is_moderator(interaction):
            return []
        patterns = await self.services.prompt_filter.listed(requester_of(interaction))
        needle = str(current).strip().lstrip("#").lower()
        return [
            app_commands.Choice(
                name=clip(plain(f"#{p.id} {p.kind}: {p.pattern}", None), 100), value=p.id
            )
            for p in patterns
            if needle in f"{p.id} {p.pattern}".lower()
        ][:25]

    @filter.command(name="list", description="List the blocked words and patterns.")
    async def filter_list(self, interaction: discord.Interaction) -> None:
        patterns = await self.services.prompt_filter.listed(requester_of(interaction))
        await self._show(interaction, render.patterns_embed(patterns))

    @filter.command(
        name="events", description="List the prompts refused for a blocked word, newest first."
    )
    @app_commands.describe(
        member="Only this member's refused prompts.", page="The page to show, 20 entries per page."
    )
    async def filter_events(
        self,
        interaction: discord.Interaction,
        member: discord.Member | None = None,
        page: app_commands.Range[int, 1, 1000] = 1,
    ) -> None:
        events = await self.services.prompt_filter.refusals(
            requester_of(interaction),
            limit=EVENTS_PAGE_SIZE,
            offset=(page - 1) * EVENTS_PAGE_SIZE,
            user_id=member.id if member else None,
        )
        await self._show(interaction, render.events_embed(events))

    # -- /videoadmin usage ---------------------------------------------------------------

    async def _period(
        self, interaction: discord.Interaction, period: str, previous: bool
    ) -> Period:
        assert interaction.guild_id is not None
        return await self.services.usage.period(interaction.guild_id, period, previous=previous)

    @usage.command(name="member", description="See what one member generated in a period.")
    @app_commands.describe(
        member="The member whose usage to show.",
        period="Day, week or month (the default is month).",
        previous="Show the period before the current one.",
    )
    @app_commands.choices(period=WINDOW_CHOICES)
    async def usage_member(
        self,
        interaction: discord.Interaction,
        member: discord.Member,
        period: str = "month",
        previous: bool = False,
    ) -> None:
        span = await self._period(interaction, period, previous)
        report = await self.services.usage.member_usage(requester_of(interaction), member.id, span)
        await self._show(interaction, render.member_usage_embed(report, self.currency))

    @usage.command(
        name="server",
        description="See what the server generated, and its spend against the budget.",
    )
    @app_commands.describe(
        period="Day, week or month (the default is month).",
        previous="Show the period before the current one.",
    )
    @app_commands.choices(period=WINDOW_CHOICES)
    async def usage_server(
        self, interaction: discord.Interaction, period: str = "month", previous: bool = False
    ) -> None:
        span = await self._period(interaction, period, previous)
        report = await self.services.usage.server_usage(requester_of(interaction), span)
        await self._show(interaction, render.server_usage_embed(report, self.currency))

    @usage.command(name="top", description="List the members who generated the most.")
    @app_commands.describe(
        period="Day, week or month (the default is month).",
        previous="Show the period before the current one.",
        by="Rank by estimated cost (the default), videos or seconds.",
        count="How many members to list (1 to 25).",
    )
    @app_commands.choices(period=WINDOW_CHOICES, by=TOP_CHOICES)
    async def usage_top(
        self,
        interaction: discord.Interaction,
        period: str = "month",
        previous: bool = False,
        by: str = "cost",
        count: app_commands.Range[int, 1, 25] = 10,
    ) -> None:
        span = await self._period(interaction, period, previous)
        top = await self.services.usage.top_members(
            requester_of(interaction), span, by=by, limit=count
        )
        await self._show(interaction, render.top_embed(top, span, by, self.currency))

    @usage.command(name="export", description="Download every job of a period as a CSV file.")
    @app_commands.describe(
        period="Day, week or month (the default is month).",
        previous="Show the period before the current one.",
    )
    @app_commands.choices(period=WINDOW_CHOICES)
    async def usage_export(
        self, interaction: discord.Interaction, period: str = "month", previous: bool = False
    ) -> None:
        span = await self._period(interaction, period, previous)
        data = await self.services.usage.export_csv(
            requester_of(interaction), span, names=functools.partial(self._names, interaction.guild)
        )
        rows = max(0, data.count(b"\n") - 1)
        filename = f"video-usage-{interaction.guild_id}-{span.window}-{int(span.start)}.csv"
        await interaction.response.send_message(
            f"{plural(rows, 'job')} in {render.period_text(span)}.",
            file=discord.File(io.BytesIO(data), filename=filename),
            ephemeral=True,
        )

    # -- /videoadmin job -----------------------------------------------------------------

    @job.command(name="cancel", description="Stop a running job, whoever started it.")
    @app_commands.describe(job="The job (#number or a link); start typing to pick a recent one.")
    async def job_cancel(
        self, interaction: discord.Interaction, job: app_commands.Transform[Job, JobReference]
    ) -> None:
        result = await self.services.job_service.cancel(requester_of(interaction), job.id)
        await self._job_done(interaction, result.job, "Cancelled", result.audit)

    @job.command(name="delete", description="Delete a finished job and its messages.")
    @app_commands.describe(job="The job (#number or a link); start typing to pick a recent one.")
    async def job_delete(
        self, interaction: discord.Interaction, job: app_commands.Transform[Job, JobReference]
    ) -> None:
        result = await self.services.job_service.delete(requester_of(interaction), job.id)
        await self._job_done(interaction, result.job, "Deleted", result.audit)
        await delete_job_messages(self.bot, result.job)

    # -- /videoadmin queue ---------------------------------------------------------------

    @queue.command(name="move", description="Move a waiting job to a place in the queue.")
    @app_commands.describe(
        job="The job (#number or a link); start typing to pick a recent one.",
        place="Its new place: 1 is the front (the next job sent to the model).",
    )
    async def queue_move(
        self,
        interaction: discord.Interaction,
        job: app_commands.Transform[Job, JobReference],
        place: app_commands.Range[int, 1, 10_000] = 1,
    ) -> None:
        change = await self.services.turns.move(requester_of(interaction), job.id, place)
        await self._changed(interaction, change.audit)

    @queue.command(
        name="drop", description="Take a waiting job out of the queue; it costs its member nothing."
    )
    @app_commands.describe(job="The job (#number or a link); start typing to pick a recent one.")
    async def queue_drop(
        self, interaction: discord.Interaction, job: app_commands.Transform[Job, JobReference]
    ) -> None:
        change = await self.services.turns.drop(requester_of(interaction), job.id)
        await self._changed(interaction, change.audit)

    async def _job_done(
        self,
        interaction: discord.Interaction,
        job: Job,
        verb: str,
        audit: AuditEntry | None,
    ) -> None:
        if audit is not None:
            await self._changed(interaction, audit)
        else:
            await interaction.response.send_message(
                f"{verb} your job #{job.id}.", ephemeral=True, allowed_mentions=NO_MENTIONS
            )

    # -- /videoadmin quota ---------------------------------------------------------------

    @quota.command(
        name="grant", description="Give a member extra quota in the current day, week or month."
    )
    @app_commands.describe(
        member="The member who gets it.",
        window="The current day, week or month.",
        generations="Extra videos.",
        seconds="Extra seconds of video.",
        cost="Extra estimated cost.",
    )
    @app_commands.choices(window=WINDOW_CHOICES)
    async def quota_grant(
        self,
        interaction: discord.Interaction,
        member: discord.Member,
        window: str,
        generations: app_commands.Range[int, 0, 10_000] = 0,
        seconds: app_commands.Range[int, 0, 1_000_000] = 0,
        cost: app_commands.Range[float, 0, 1_000_000] = 0.0,
    ) -> None:
        entry = await self.services.limit_admin.grant(
            requester_of(interaction),
            member.id,
            window,
            generations=generations,
            seconds=seconds,
            cost=cost,
        )
        await self._changed(interaction, entry)

    @quota.command(name="reset", description="Start a member's count afresh.")
    @app_commands.describe(
        member="The member whose count starts afresh.",
        window="Day, week or month; leave it empty to reset all three.",
    )
    @app_commands.choices(window=WINDOW_CHOICES)
    async def quota_reset(
        self,
        interaction: discord.Interaction,
        member: discord.Member,
        window: str | None = None,
    ) -> None:
        entry = await self.services.limit_admin.reset(requester_of(interaction), member.id, window)
        await self._changed(interaction, entry)

    # -- /videoadmin asset ---------------------------------------------------------------

    @asset.command(
        name="add", description="Add an image, video, audio file or provider asset to the library."
    )
    @app_commands.describe(
        name="The name members pick it by (letters, digits, spaces; up to 40 characters).",
        file="The image, video or audio file; I keep it as my own message in this channel.",
        asset_id="Or the id of an asset already uploaded to the provider.",
    )
    async def asset_add(
        self,
        interaction: discord.Interaction,
        name: app_commands.Range[str, 1, 100],
        file: discord.Attachment | None = None,
        asset_id: app_commands.Range[str, 1, 200] | None = None,
    ) -> None:
        library = self.services.library
        actor = requester_of(interaction)
        if (file is None) == (asset_id is None):
            raise InvalidInput("Give the asset either as a `file` or as an `asset_id`: one of them.")
        if asset_id is not None:
            await self._changed(interaction, await library.add_provider_asset(actor, name, asset_id))
            return
        assert file is not None
        name = await library.check_new_name(actor, name)
        check_can_keep(interaction, file)
        # Reading and checking the whole file (a clip's length) can take longer than 3 s.
        await interaction.response.defer(ephemeral=True, thinking=True)
        media, data = await read_upload(file)
        checked = await library.check_file(media, data)
        kept = await keep_file(interaction, name, checked, data)
        try:
            entry = await library.add_file(actor, name, checked, kept)
        except UserError:
            # Another moderator took the name meanwhile: the file posted is nobody's.
            assert interaction.guild_id is not None
            await forget_file(self.bot, interaction.guild_id, kept.channel_id, kept.message_id)
            raise
        await self._changed(interaction, entry)

    @asset.command(name="remove", description="Take an asset out of the library.")
    @app_commands.describe(name="The asset; start typing to pick one.")
    async def asset_remove(
        self, interaction: discord.Interaction, name: app_commands.Range[str, 1, 100]
    ) -> None:
        removed, entry = await self.services.library.remove(requester_of(interaction), name)
        await self._changed(interaction, entry)
        if removed.channel_id is not None and removed.message_id is not None:
            await forget_file(self.bot, removed.guild_id, removed.channel_id, removed.message_id)

    @asset_remove.autocomplete("name")
    async def asset_name_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        if not await self._is_moderator(interaction):
            return []
        return await asset_choices(interaction, current)

    @asset.command(name="list", description="List the library: each asset, who added it, when.")
    async def asset_list(self, interaction: discord.Interaction) -> None:
        await self.services.moderators.require(requester_of(interaction))
        assert interaction.guild_id is not None
        await self._show(
            interaction, library_embed(await self.services.library.listed(interaction.guild_id))
        )

    # -- /videoadmin challenge -----------------------------------------------------------

    @challenge.command(name="start", description="Start a challenge: members enter videos and vote.")
    @app_commands.describe(
        theme="What the entries should show; members read it in the announcement.",
        deadline="When voting ends: a length of time (2d, 12h, 1w) or a date and time "
        "(2026-12-24 18:00, server time).",
        entries_per_member="How many videos each member may enter (1 to 10).",
        channel="Where the announcement and the entries go; this channel if left empty.",
        thread="Start a thread from the announcement where generating a video enters it.",
        winners="How many places win (1 to 10); ties at the last place all win.",
        reward_videos="Extra videos of quota for each winner, granted at the end.",
        reward_window="The day, week or month the extra videos count in (current at the end).",
        reward_role="A role given to each winner (I need Manage Roles, and a higher role).",
        show_votes="Show vote counts while voting is open (hidden until the end if not).",
    )
    @app_commands.choices(reward_window=WINDOW_CHOICES)
    async def challenge_start(
        self,
        interaction: discord.Interaction,
        theme: app_commands.Range[str, 1, 200],
        deadline: app_commands.Range[str, 1, 40],
        entries_per_member: app_commands.Range[int, 1, 10] = 1,
        channel: discord.TextChannel | None = None,
        thread: bool = True,
        winners: app_commands.Range[int, 1, 10] = 1,
        reward_videos: app_commands.Range[int, 0, 1000] = 0,
        reward_window: str = "month",
        reward_role: discord.Role | None = None,
        show_votes: bool = False,
    ) -> None:
        settings = await self.services.moderators.require(requester_of(interaction))
        where = channel or interaction.channel
        if not isinstance(where, discord.TextChannel):
            raise InvalidInput("Name the text channel where the entries go (`channel`).")
        missing = challenge_posts.missing_challenge_permissions(where, thread=thread)
        if missing:
            raise InvalidInput(
                f"I can't run a challenge in {where.mention}: give me {', '.join(missing)} there."
            )
        if reward_role is not None and (reward_role.is_default() or reward_role.managed):
            raise InvalidInput("That role can't be given to members: pick another reward role.")
        terms = ChallengeTerms(
            channel_id=where.id,
            theme=theme,
            ends_at=parse_deadline(deadline, self.bot.clock(), settings.timezone),
            entries_per_member=entries_per_member,
            winners=winners,
            show_votes=show_votes,
            reward_generations=reward_videos,
            reward_window=reward_window,
            reward_role_id=reward_role.id if reward_role else None,
        )
        challenge, entry = await self.services.challenges.start(requester_of(interaction), terms)
        try:
            await challenge_posts.announce(self.bot, challenge, where, thread=thread)
        except discord.HTTPException:
            await self.services.challenges.cancel(requester_of(interaction))
            raise
        note = None
        me = where.guild.me
        if reward_role is not None and not (me.guild_permissions.manage_roles and reward_role < me.top_role):
            note = (
                f"⚠️ I can't give {reward_role.mention} yet: give me Manage Roles and a role above "
                "it before the deadline, or the mod-log will list the winners to give it by hand."
            )
        await self._changed(interaction, entry, note)

    @challenge.command(name="end", description="Close the open challenge now: votes counted, winners posted.")
    async def challenge_end(self, interaction: discord.Interaction) -> None:
        challenge = await self.services.challenges.end_early(requester_of(interaction))
        await interaction.response.send_message(
            f"Closing challenge #{challenge.id} now: the winners will be posted in "
            f"<#{challenge.channel_id}> in a moment.",
            ephemeral=True,
        )

    @challenge.command(name="cancel", description="Cancel the open challenge: no winners, no rewards.")
    async def challenge_cancel(self, interaction: discord.Interaction) -> None:
        _, entry = await self.services.challenges.cancel(requester_of(interaction))
        await self._changed(interaction, entry)

    # -- /videoadmin audit ---------------------------------------------------------------

    @app_commands.command(
        name="audit", description="List every limit change and moderation action."
    )
    @app_commands.describe(
        member="Only changes about this member.",
        page="The page to show, 20 entries per page, newest first.",
    )
    async def audit(
        self,
        interaction: discord.Interaction,
        member: discord.Member | None = None,
        page: app_commands.Range[int, 1, 1000] = 1,
    ) -> None:
        entries = await self.services.audit.listed(
            requester_of(interaction),
            limit=AUDIT_PAGE_SIZE,
            offset=(page - 1) * AUDIT_PAGE_SIZE,
            target=f"user:{member.id}" if member else None,
        )
        await self._show(interaction, render.audit_embed(entries, page, self.bot.settings.currency))
