"""Challenges as members see them, and the Discord side of `bot.challenges`.

The announcement (in the channel where entries go, with an optional thread: generating
there enters the video), each entry (its video again, with a Vote button), the results;
the flows behind the Enter challenge and Vote buttons and `/video challenge`; and
`DiscordChallengeBoard`, which the runner posts and edits through. Every post carries a
marker in its footer, so an attempt that may have landed before a crash is found, not
repeated. Vote counts shown before the end are edited in within Discord's per-channel
edit limit (the status editor's slots), coalesced per entry.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import discord

from bot.challenges import Placed, PostRefused
from bot.db.audit import AuditEntry
from bot.db.challenges import CANCELLED, Challenge, ChallengeRepository, Entry, Tally
from bot.jobs.lineage import NO_LINEAGE, Lineage
from bot.jobs.model import Job
from bot.markup import discord_time, plural, when
from bot.tasks import BackgroundTasks
from cogs.shared import NO_MENTIONS, clip, literal, requester_of, video_bot

from .components import vote_view
from .messages import credit_text, message_link, result_link
from .poster import THREAD_ARCHIVE_MINUTES, find_marked, missing_post_permissions

if TYPE_CHECKING:
    from bot.app import VideoBot

    from .status_edits import StatusEditor

log = logging.getLogger(__name__)

COLOUR = discord.Colour.gold()
MEDALS = {1: "🥇", 2: "🥈", 3: "🥉"}
RESULT_VIDEOS = 3  # winners' videos attached to the results post, at most
TIES = "Ties share a place, and everyone tied at the last winning place wins."


def announcement_marker(challenge: Challenge) -> str:
    return f"Challenge #{challenge.id}"


def entry_marker(challenge: Challenge, entry: Entry) -> str:
    return f"Challenge #{challenge.id} · entry #{entry.id}"


def results_marker(challenge: Challenge) -> str:
    return f"Challenge #{challenge.id} · results"


def ordinal(place: int) -> str:
    suffix = "th" if 10 <= place % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(place % 10, "th")
    return f"{place}{suffix}"


def reward_text(challenge: Challenge) -> str:
    parts = []
    if challenge.reward_generations:
        parts.append(
            f"+{plural(challenge.reward_generations, 'video')} of quota this "
            f"{challenge.reward_window}"
        )
    if challenge.reward_role_id is not None:
        parts.append(f"the <@&{challenge.reward_role_id}> role")
    return " and ".join(parts) if parts else "the glory"


def votes_text(challenge: Challenge) -> str:
    return "shown as they come in" if challenge.show_votes else "hidden until the end"


def announcement_embed(challenge: Challenge) -> discord.Embed:
    embed = discord.Embed(
        title="🏆 A video challenge",
        description=f"**Theme:** {clip(literal(challenge.theme), 1000)}",
        colour=COLOUR,
    )
    embed.add_field(name="Deadline", value=when(challenge.ends_at), inline=False)
    embed.add_field(name="Entries per member", value=str(challenge.entries_per_member))
    embed.add_field(name="Winners", value=str(challenge.winners))
    embed.add_field(name="Reward", value=reward_text(challenge))
    how = (
        "Press **Enter challenge** on one of your own videos made from now on"
        + (", or generate in the thread below: your video enters when it is delivered" if challenge.thread_id else "")
        + f". Each entry appears in <#{challenge.channel_id}> with a **Vote** button: one vote "
        "per member, not for your own entry; voting for another entry moves your vote, until "
        f"the deadline. Vote counts are {votes_text(challenge)}. {TIES}"
    )
    embed.add_field(name="How to take part", value=how, inline=False)
    if challenge.state == CANCELLED:
        embed.add_field(name="Cancelled", value="A moderator cancelled this challenge.", inline=False)
    elif not challenge.is_open:
        ended = discord_time(challenge.closed_at or challenge.ends_at, "f")
        results = (
            f": [the results]({message_link(challenge.guild_id, challenge.channel_id, challenge.results_message_id)})"
            if challenge.results_message_id
            else ""
        )
        embed.add_field(name="Voting closed", value=f"{ended}{results}", inline=False)
    embed.set_footer(text=announcement_marker(challenge))
    return embed


def entry_embed(
    challenge: Challenge, entry: Entry, job: Job | None, lineage: Lineage = NO_LINEAGE
) -> discord.Embed:
    """An entry's post: whose, what it asked (a film: its clips and whose each is)."""
    made = f"#{entry.job_id} by <@{entry.user_id}>"
    lines = [f"**{made}**"]
    if job is not None and lineage.clips:
        shots = " → ".join(credit_text(c) for c in lineage.clips)
        lines.append(clip(f"A film of {len(lineage.clips)} clips: {shots}", 1000))
    elif job is not None:
        lines.append(f"“{clip(literal(job.request.prompt), 1000)}”")
        original = result_link(job)
        if original is not None:
            lines.append(f"[The original post]({original})")
    embed = discord.Embed(
        title=clip(f"Entry #{entry.id}: {challenge.theme}", 256), description="\n".join(lines), colour=COLOUR
    )
    embed.set_footer(text=entry_marker(challenge, entry))
    return embed


def standing_line(
    challenge: Challenge, tally: Tally, *, counts: bool, credits: Sequence[int] = ()
) -> str:
    """An entry in a ranking; ``credits``: everyone whose clips a film entered joins."""
    entry = tally.entry
    link = (
        f" · [watch]({message_link(challenge.guild_id, challenge.channel_id, entry.message_id)})"
        if entry.message_id
        else ""
    )
    votes = f" · {plural(tally.votes, 'vote')}" if counts else ""
    film = f" · a film with clips by {', '.join(f'<@{u}>' for u in credits)}" if credits else ""
    return f"Entry #{entry.id}: #{entry.job_id} by <@{entry.user_id}>{film}{votes}{link}"


def results_embed(
    challenge: Challenge, winners: list[Placed], credits: Mapping[int, Sequence[int]]
) -> discord.Embed:
    """The results; ``credits``: by entry, who made the clips of a film entered."""
    if winners:
        lines = [
            f"{MEDALS.get(p.place, '🏅')} **{ordinal(p.place)}** "
            + standing_line(challenge, p.tally, counts=True, credits=credits.get(p.tally.entry.id, ()))
            for p in winners
        ]
        if challenge.has_reward:
            lines.append(f"\nEach winner gets {reward_text(challenge)}.")
        lines.append(TIES)
    else:
        lines = ["No entry got a vote, so there are no winners this time."]
    embed = discord.Embed(
        title=clip(f"🏆 Results: {challenge.theme}", 256),
        description=clip("\n".join(lines), 4096),
        colour=COLOUR,
    )
    embed.set_footer(text=results_marker(challenge))
    return embed


def current_embed(
    challenge: Challenge, tallies: list[Tally], *, member_id: int, voted_for: int | None
) -> discord.Embed:
    """`/video challenge`: the terms, the entries so far and the member's own part."""
    embed = announcement_embed(challenge)
    embed.set_footer(text=None)
    if tallies:
        shown = sorted(tallies, key=lambda t: t.entry.id)
        lines = [standing_line(challenge, t, counts=challenge.show_votes) for t in shown]
        embed.add_field(name=f"Entries ({len(tallies)})", value=clip("\n".join(lines), 1024), inline=False)
    mine = sum(1 for t in tallies if t.entry.user_id == member_id)
    embed.add_field(
        name="You",
        value=f"{mine} of {challenge.entries_per_member} entries; "
        + (f"your vote is for entry #{voted_for}" if voted_for else "you haven't voted yet"),
        inline=False,
    )
    return embed


# -- the flows behind the buttons and /video challenge -------------------------------------


async def enter(interaction: discord.Interaction, job_id: int) -> None:
    bot = video_bot(interaction)
    challenge, entry = await bot.services.challenges.enter(requester_of(interaction), job_id)
    await interaction.response.send_message(
        f"Entered #{entry.job_id} in the challenge “{clip(literal(challenge.theme), 200)}”: it "
        f"appears in <#{challenge.channel_id}> with a Vote button. Voting ends "
        f"{discord_time(challenge.ends_at)}.",
        ephemeral=True,
        allowed_mentions=NO_MENTIONS,
    )


async def vote(interaction: discord.Interaction, entry_id: int) -> None:
    bot = video_bot(interaction)
    cast = await bot.services.challenges.vote(requester_of(interaction), entry_id)
    entry, deadline = cast.entry, discord_time(cast.challenge.ends_at)
    if cast.unchanged:
        text = f"Your vote is already for entry #{entry.id}. You can move it until {deadline}."
    elif cast.moved_from is not None:
        text = (
            f"Your vote moved from entry #{cast.moved_from} to entry #{entry.id} by "
            f"<@{entry.user_id}> (one vote per member). You can move it again until {deadline}."
        )
    else:
        text = (
            f"You voted for entry #{entry.id} by <@{entry.user_id}>. Voting for another entry "
            f"moves your vote, until {deadline}."
        )
    await interaction.response.send_message(text, ephemeral=True, allowed_mentions=NO_MENTIONS)
    if cast.challenge.show_votes and not cast.unchanged:
        changed = [entry.id] + ([cast.moved_from] if cast.moved_from is not None else [])
        bot.dispatch("video_votes_changed", cast.challenge, changed)


async def show_current(interaction: discord.Interaction) -> None:
    services = video_bot(interaction).services
    challenge, tallies = await services.challenges.current(interaction.guild_id)
    voted_for = await services.challenge_records.vote_of(challenge.id, interaction.user.id)
    embed = current_embed(challenge, tallies, member_id=interaction.user.id, voted_for=voted_for)
    await interaction.response.send_message(embed=embed, ephemeral=True)


def missing_challenge_permissions(channel: discord.TextChannel, *, thread: bool) -> list[str]:
    """What the bot lacks to announce a challenge in ``channel`` and post its entries."""
    perms = channel.permissions_for(channel.guild.me)
    missing = missing_post_permissions(perms, is_thread=False)
    if thread:
        missing += [p for p in ("create_public_threads",) if not getattr(perms, p)]
    return missing


async def announce(bot: VideoBot, challenge: Challenge, channel: discord.TextChannel, *, thread: bool) -> None:
    """Post the announcement (and start its thread), then record where they are."""
    message = await channel.send(embed=announcement_embed(challenge), allowed_mentions=NO_MENTIONS)
    thread_id = None
    if thread:
        started = await message.create_thread(
            name=clip(f"Challenge: {challenge.theme}".replace("\n", " "), 100),
            auto_archive_duration=THREAD_ARCHIVE_MINUTES,
        )
        thread_id = started.id
        await started.send(
            "Generate here with `/video generate`: each video you make in this thread enters "
            f"the challenge when it is delivered (up to {plural(challenge.entries_per_member, 'entry', 'entries')} "
            "per member).",
            allowed_mentions=NO_MENTIONS,
        )
    await bot.services.challenge_records.announced(challenge.id, message.id, thread_id)
    bot.dispatch("video_challenge_due")


# -- the runner's Discord side -------------------------------------------------------------


class DiscordChallengeBoard:
    """Implements `bot.challenges.ChallengeBoard`. ``posted_video`` reads a job's posted
    file back (`DiscordResultChannel.posted_video`)."""

    def __init__(
        self,
        bot: VideoBot,
        records: ChallengeRepository,
        editor: StatusEditor,
        posted_video: Callable[[Job], Awaitable[bytes | None]],
    ) -> None:
        self.bot = bot
        self.records = records
        self.editor = editor
        self.posted_video = posted_video
        self._stale: set[tuple[int, int]] = set()  # (challenge id, entry id) to re-count
        self._tasks = BackgroundTasks("challenge-board")

    def _channel(self, challenge: Challenge) -> discord.PartialMessageable:
        return self.bot.get_partial_messageable(challenge.channel_id, guild_id=challenge.guild_id)

    async def _video(self, job: Job | None) -> discord.File | None:
        """The job's posted video again (None if it is gone, or was posted as a link)."""
        if job is None:
            return None
        video = await self.posted_video(job)
        return None if video is None else discord.File(io.BytesIO(video), f"entry-{job.id}.mp4")

    async def _send(
        self, challenge: Challenge, what: str, files: list[discord.File], **kwargs: Any
    ) -> int:
        """Send with the videos; too large together (413), without them (the links stay).
        Refused for good (`PostRefused`): the mod-log is told what could not be posted."""
        channel = self._channel(challenge)
        try:
            try:
                return (await channel.send(files=files, **kwargs)).id
            except discord.HTTPException as error:
                if error.status != 413 or not files:
                    raise
            return (await channel.send(**kwargs)).id
        except (discord.Forbidden, discord.NotFound) as error:
            self.bot.mod_log.post(
                challenge.guild_id,
                f"🏆 I couldn't post {what} of challenge #{challenge.id} in "
                f"<#{challenge.channel_id}> (Discord said {error.text}).",
            )
            raise PostRefused(error.text) from error

    async def find_entry(self, challenge: Challenge, entry: Entry) -> int | None:
        return await find_marked(self.bot, self._channel(challenge), entry_marker(challenge, entry), entry.entered_at)

    async def post_entry(self, challenge: Challenge, entry: Entry) -> int:
        job = await self.bot.services.jobs.get(entry.job_id)
        lineage = await self.bot.services.lineages.of(job) if job is not None else NO_LINEAGE
        file = await self._video(job)
        votes = await self.records.votes_for(entry.id) if challenge.show_votes else None
        return await self._send(
            challenge,
            f"entry #{entry.id}",
            [file] if file else [],
            content=f"🎬 Entry #{entry.id} by <@{entry.user_id}>",
            embed=entry_embed(challenge, entry, job, lineage),
            view=vote_view(entry.id, votes, closed=not challenge.is_open),
            allowed_mentions=NO_MENTIONS,
        )

    async def find_results(self, challenge: Challenge) -> int | None:
        return await find_marked(
            self.bot, self._channel(challenge), results_marker(challenge), challenge.closed_at or challenge.ends_at
        )

    async def post_results(self, challenge: Challenge, winners: list[Placed]) -> int:
        files = []
        for placed in winners[:RESULT_VIDEOS]:
            file = await self._video(await self.bot.services.jobs.get(placed.tally.entry.job_id))
            if file is not None:
                files.append(file)
        jobs = self.bot.services.jobs
        credits = {  # a film's: everyone whose clip it joins, once each
            p.tally.entry.id: Lineage(clips=tuple(await jobs.clips(p.tally.entry.job_id))).members
            for p in winners
        }
        pinged = sorted({p.tally.entry.user_id for p in winners})
        content = (
            f"🏆 Congratulations {', '.join(f'<@{u}>' for u in pinged)}!"
            if pinged
            else "🏆 The challenge is over."
        )
        return await self._send(
            challenge,
            "the results",
            files,
            content=content,
            embed=results_embed(challenge, winners, credits),
            allowed_mentions=discord.AllowedMentions(
                everyone=False, roles=False, users=[discord.Object(u) for u in pinged]
            ),
        )

    async def close_voting(self, challenge: Challenge) -> None:
        ended = await self.records.get(challenge.id) or challenge
        for tally in await self.records.tallies(challenge.id):
            if tally.entry.message_id is not None:
                await self._edit(ended, tally.entry.message_id, view=vote_view(tally.entry.id, tally.votes, closed=True))
        if ended.announcement_message_id is not None:
            await self._edit(ended, ended.announcement_message_id, embed=announcement_embed(ended))

    async def _edit(self, challenge: Challenge, message_id: int, **changes: Any) -> None:
        message = self._channel(challenge).get_partial_message(message_id)
        try:
            async with self.editor.slot(challenge.channel_id):
                await message.edit(**changes, allowed_mentions=NO_MENTIONS)
        except (discord.NotFound, discord.Forbidden) as error:
            log.info("challenge %d: message %d not edited (%s)", challenge.id, message_id, error)

    async def give_role(self, challenge: Challenge, user_ids: list[int]) -> None:
        guild = self.bot.get_guild(challenge.guild_id)
        role = guild.get_role(challenge.reward_role_id or 0) if guild else None
        failed = list(user_ids)
        why = "the role no longer exists"
        if guild is not None and role is not None:
            me = guild.me
            if not me.guild_permissions.manage_roles:
                why = "I need the Manage Roles permission"
            elif role >= me.top_role:
                why = "my highest role must be above it"
            else:
                failed, why = [], ""
                for user_id in user_ids:
                    try:
                        await self.bot.http.add_role(
                            guild.id, user_id, role.id, reason=f"Won video challenge #{challenge.id}"
                        )
                    except discord.HTTPException as error:
                        failed.append(user_id)
                        why = f"Discord said {error.status} {error.text}"
        if failed:
            self.bot.mod_log.post(
                challenge.guild_id,
                f"🏆 I couldn't give <@&{challenge.reward_role_id}> to the winners of challenge "
                f"#{challenge.id} ({why}); give it by hand to "
                + ", ".join(f"<@{u}>" for u in failed)
                + ".",
            )

    async def report(self, challenge: Challenge, audit: list[AuditEntry]) -> None:
        for entry in audit:
            self.bot.mod_log.record(entry)

    # -- counts shown while voting -------------------------------------------------------

    def votes_changed(self, challenge: Challenge, entry_ids: list[int]) -> None:
        """Re-count these entries' buttons soon (coalesced, within the edit limit)."""
        self._stale.update((challenge.id, entry_id) for entry_id in entry_ids)
        if not self._tasks.running("counts"):
            self._tasks.spawn(self._recount(), name="vote-counts", key="counts")

    async def _recount(self) -> None:
        while self._stale:
            challenge_id, entry_id = self._stale.pop()
            challenge = await self.records.get(challenge_id)
            entry = await self.records.entry(entry_id)
            if challenge is None or entry is None or entry.message_id is None or not challenge.is_open:
                continue
            votes = await self.records.votes_for(entry_id)
            await self._edit(challenge, entry.message_id, view=vote_view(entry_id, votes, closed=False))

    async def close(self) -> None:
        await self._tasks.close()
