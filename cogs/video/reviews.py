"""The approval lane on Discord (`bot.moderation.reviews`): the Approve and Deny flows of a
review message, and the desk that posts reviews in the review channel and closes those
that expired or whose job ended.

The desk keeps no memory: what to post and when a review expires are in the database, so
after a restart it posts what was never posted (an attempt that may have landed is looked
for first, so a review is posted once) and the buttons of earlier reviews work as before.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from typing import TYPE_CHECKING

import discord

from bot.db.reviews import Review, ReviewDecision
from bot.jobs.delivery import DeliveryRetry
from bot.moderation.reviews import MAX_DENY_REASON, AlreadyDecided, Decided
from bot.tasks import run_passes
from cogs.shared import NO_MENTIONS, requester_of, video_bot

from .components import review_view
from .messages import decision_text, review_embed, review_marker, review_notice
from .modals import DenyForm
from .poster import find_marked

if TYPE_CHECKING:
    from bot.app import VideoBot

log = logging.getLogger(__name__)

RETRY_SECONDS = 30.0  # after a failed round of the desk
# What posting a review (and finding an earlier attempt) needs in the review channel.
NEEDED_TO_REVIEW = ("view_channel", "send_messages", "embed_links", "read_message_history")


def missing_review_permissions(perms: discord.Permissions) -> list[str]:
    return [name for name in NEEDED_TO_REVIEW if not getattr(perms, name)]


async def _review_message(bot: VideoBot, decided: Decided) -> tuple[discord.Embed, discord.ui.View]:
    settings = await bot.services.servers.get(decided.review.guild_id)
    embed = review_embed(
        decided.job, decided.review, settings=settings, currency=bot.settings.currency
    )
    return embed, review_view(decided.job.id, disabled=True)


# -- the buttons' flows -------------------------------------------------------------------


async def approve(interaction: discord.Interaction, job_id: int) -> None:
    bot = video_bot(interaction)
    try:
        decided = await bot.services.reviews.approve(requester_of(interaction), job_id)
    except AlreadyDecided as late:
        await _too_late(interaction, late)
        return
    _audited(bot, decided)
    embed, view = await _review_message(bot, decided)
    await interaction.response.edit_message(embed=embed, view=view, allowed_mentions=NO_MENTIONS)
    await _tell_member_approved(bot, decided)


async def deny(interaction: discord.Interaction, job_id: int) -> None:
    """Ask the moderator why (a member is refused before any form opens)."""
    bot = video_bot(interaction)
    try:
        await bot.services.reviews.undecided(requester_of(interaction), job_id)
    except AlreadyDecided as late:
        await _too_late(interaction, late)
        return
    await interaction.response.send_modal(
        DenyForm(
            job_id,
            max_reason=MAX_DENY_REASON,
            on_submit=functools.partial(deny_submitted, job_id=job_id),
        )
    )


async def deny_submitted(interaction: discord.Interaction, reason: str, *, job_id: int) -> None:
    bot = video_bot(interaction)
    try:
        decided = await bot.services.reviews.deny(requester_of(interaction), job_id, reason)
    except AlreadyDecided as late:
        await _too_late(interaction, late)
        return
    _audited(bot, decided)  # the member hears it as the job's outcome, from delivery
    embed, view = await _review_message(bot, decided)
    await interaction.response.edit_message(embed=embed, view=view, allowed_mentions=NO_MENTIONS)


async def _too_late(interaction: discord.Interaction, late: AlreadyDecided) -> None:
    """Tell the moderator who pressed second, and show the decision on the message."""
    review = late.review
    await interaction.response.send_message(
        f"Too late: {decision_text(review) if review else late}",
        ephemeral=True,
        allowed_mentions=NO_MENTIONS,
    )
    if review is None or interaction.message is None:
        return
    bot = video_bot(interaction)
    job = await bot.services.jobs.get(review.job_id)
    if job is None:
        return
    embed, view = await _review_message(bot, Decided(job, review, None))
    try:
        await interaction.message.edit(embed=embed, view=view, allowed_mentions=NO_MENTIONS)
    except discord.HTTPException as error:
        log.info("job %d: review message not refreshed (%s)", job.id, error)


async def _tell_member_approved(bot: VideoBot, decided: Decided) -> None:
    """A reply on the member's status message that pings them, and only them (best effort:
    the status message itself shows the job going on)."""
    job = decided.job
    if job.status_message_id is None:
        return
    assert job.guild_id is not None, "only a server's jobs are reviewed"
    queue = await bot.services.turns.server_queue(job.guild_id)
    channel = bot.get_partial_messageable(job.channel_id, guild_id=job.guild_id)
    try:
        await channel.send(
            review_notice(job, decided.review, queue_held=queue.held),
            reference=discord.MessageReference(
                message_id=job.status_message_id, channel_id=job.channel_id, fail_if_not_exists=False
            ),
            allowed_mentions=discord.AllowedMentions(users=[discord.Object(job.user_id)]),
        )
    except discord.HTTPException as error:
        log.info("job %d: approval notice not posted (%s)", job.id, error)


def _audited(bot: VideoBot, decided: Decided) -> None:
    """The decision's line in the mod-log, queued before the moderator sees it taken."""
    if decided.audit is not None:
        bot.mod_log.record(decided.audit)


# -- the desk -----------------------------------------------------------------------------


class ReviewDesk:
    """Posts held jobs' reviews and closes the reviews that expired or lost their job.
    Woken whenever a job becomes due (a held job was accepted, a job was cancelled)."""

    def __init__(self, bot: VideoBot) -> None:
        self.bot = bot
        self._wake = asyncio.Event()

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        """Post and close reviews, on each wake and when the next one is due."""
        await run_passes("review desk", self._pass, self._wake, retry=RETRY_SECONDS)

    async def _pass(self) -> float | None:
        """Post the reviews to post, close the ones due; seconds until the next is due."""
        reviews = self.bot.services.reviews
        for review in await reviews.take_to_post():
            await self._post(review)
        for decided in await reviews.close_due():
            await self._closed(decided)
        due = await reviews.next_due_at()
        return None if due is None else due - self.bot.clock()

    async def _post(self, review: Review) -> None:
        bot = self.bot
        job = await bot.services.jobs.get(review.job_id)
        settings = await bot.services.servers.get(review.guild_id)
        channel_id = settings.review_channel_id
        if job is None or not job.held:
            return  # withdrawn or cancelled before it was posted: `close_due` closes it
        if channel_id is None:
            await self._unpostable(review, "no review channel is set", None)
            return
        cached = bot.get_channel(channel_id)
        if isinstance(cached, discord.TextChannel):  # else not in this process's cache: try
            missing = missing_review_permissions(cached.permissions_for(cached.guild.me))
            if missing:
                await self._unpostable(
                    review, "I can't post in its review channel", (channel_id, ", ".join(missing))
                )
                return
        channel = bot.get_partial_messageable(channel_id, guild_id=review.guild_id)
        marker = review_marker(job.id)
        try:
            found = None
            if review.post_attempts > 1:  # an earlier attempt may have landed
                found = await find_marked(bot, channel, marker, review.created_at)
            if found is None:
                embed = review_embed(job, review, settings=settings, currency=bot.settings.currency)
                message = await channel.send(
                    embed=embed, view=review_view(job.id), allowed_mentions=NO_MENTIONS
                )
                found = message.id
        except (discord.Forbidden, discord.NotFound) as error:
            refused = (channel_id, error.text or str(error.status))
            await self._unpostable(review, "I can't post in its review channel", refused)
            return
        except (discord.HTTPException, DeliveryRetry) as error:
            log.warning("job %d: review not posted yet (%s); retrying", job.id, error)
            return  # the post's lease runs out and it is taken again
        await bot.services.reviews.posted(review, channel_id, found)

    async def _unpostable(
        self, review: Review, why: str, refused: tuple[int, str] | None
    ) -> None:
        """The job ends without charge (its member reads why); the moderators are told."""
        decided = await self.bot.services.reviews.unpostable(review, why)
        if decided is None:
            return
        job = decided.job
        where = "no review channel is set"
        if refused is not None:
            channel_id, problem = refused
            where = f"I can't post in <#{channel_id}> ({problem}): give me " + ", ".join(
                NEEDED_TO_REVIEW
            ) + " there"
        self.bot.mod_log.post(
            review.guild_id,
            f"🛂 Job #{job.id} of <@{job.user_id}> needed a review, but {where}. It ended "
            "without charge; set the channel with `/videoadmin review channel`.",
        )

    async def _closed(self, decided: Decided) -> None:
        """An expired or withdrawn review: its message shows it, its buttons go grey."""
        review, job = decided.review, decided.job
        if review.decision is ReviewDecision.EXPIRED:
            self.bot.mod_log.post(
                review.guild_id,
                f"⌛ Nobody reviewed job #{job.id} of <@{job.user_id}> within a day: it "
                "ended without charge.",
            )
        if review.message_id is None or review.channel_id is None:
            return
        embed, view = await _review_message(self.bot, decided)
        channel = self.bot.get_partial_messageable(review.channel_id, guild_id=review.guild_id)
        try:
            await channel.get_partial_message(review.message_id).edit(
                embed=embed, view=view, allowed_mentions=NO_MENTIONS
            )
        except discord.HTTPException as error:
            log.info("job %d: closed review message not updated (%s)", job.id, error)
