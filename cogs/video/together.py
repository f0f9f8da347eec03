"""`/video together` on Discord: the storyboard message and its thread, the forms that add
and rewrite shots, and the Discord side of filming (`DiscordFilmSet`).

The storyboard message is drawn from the database each time (`StoryboardDrawer`), so it
is right whoever changed what, and after a restart. Its buttons carry the storyboard's id.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

import discord

from bot.errors import Refused
from bot.jobs.model import Job
from bot.params import MediaInput
from bot.storyboards.director import ChatUnavailable
from bot.storyboards.model import BoardState, Shot, ShotState, Storyboard
from bot.storyboards.service import ShotAdded
from bot.tasks import BackgroundTasks
from cogs.shared import NO_MENTIONS, clip, literal, requester_of, video_bot

from .components import status_view, storyboard_view
from .flows import check_can_start
from .messages import FILM_ICON, message_link, result_link, status_embed
from .modals import ShotForm
from .poster import THREAD_ARCHIVE_MINUTES, missing_thread_permissions
from .status_edits import StatusEditor, StatusLook
from .uploads import inspect_uploads

if TYPE_CHECKING:
    from bot.app import VideoBot

log = logging.getLogger(__name__)

PROMPT_EXCERPT = 90
# A drawing Discord refused (a 5xx, or a 429 discord.py gave up on) is tried again, with
# the job steps' backoff; past that the stored look tells the next start to draw it.
DRAW_ATTEMPTS = 3
_SHOT_ICONS = {
    ShotState.WAITING: "⏳",
    ShotState.FILMING: "🎥",
    ShotState.MADE: "✅",
    ShotState.FAILED: "⚠️",
}
_BOARD_WORDS = {
    BoardState.OPEN: "Open: add a shot with **Add shot**. It is filmed once every shot is in, "
    "or when its starter (or a moderator) presses **Film it**.",
    BoardState.FILMING: "Filming: each shot starts from the last frame of the one before.",
    BoardState.PAUSED: "Paused: its starter can press **Film it** to go on.",
    BoardState.FILMED: "Filmed.",
}


def image_means(place: int) -> str:
    """What a shot's optional image is, where the shot comes (shown in its form)."""
    if place == 1:
        return "Shot 1: the film starts on this image (its first frame)."
    return f"Shot {place} starts where shot {place - 1} ends: this image is where it ends."


# -- the storyboard message ----------------------------------------------------------------


def _job_link(job: Job | None, label: str) -> str:
    if job is None:
        return label
    result = result_link(job)
    if result is not None:
        return f"[{label}]({result})"
    if job.status_message_id is not None:
        return f"[{label}]({message_link(job.guild_id, job.channel_id, job.status_message_id)})"
    return label


def shot_line(shot: Shot, job: Job | None) -> str:
    """``**2.** @bob: “a fox runs” · ✅ made``, the prompt shown as typed."""
    state = {
        ShotState.WAITING: "waiting",
        ShotState.FILMING: _job_link(job, "filming"),
        ShotState.MADE: _job_link(job, "made"),
        ShotState.FAILED: "failed",
    }[shot.state]
    line = (
        f"**{shot.place}.** <@{shot.user_id}>: “{literal(clip(shot.prompt, PROMPT_EXCERPT))}”"
        f" · {_SHOT_ICONS[shot.state]} {state}"
    )
    if shot.image is not None:
        line += " · 🖼️ first frame" if shot.place == 1 else " · 🖼️ last frame"
    if shot.state is ShotState.FAILED and shot.failure:
        line += f"\n  ↳ {literal(clip(shot.failure, 300))}"
    return line


def storyboard_embed(
    board: Storyboard, shots: list[Shot], jobs: dict[int, Job], film: Job | None
) -> discord.Embed:
    failed = next((shot for shot in shots if shot.state is ShotState.FAILED), None)
    words = _BOARD_WORDS[board.state]
    if board.state is BoardState.PAUSED and failed is not None:
        words = (
            f"Paused at shot {failed.place}: <@{failed.user_id}> can **Retry** or **Rewrite** it; "
            "the shots made are kept."
        )
    lines = [f"Started by <@{board.starter.user_id}> · {words}", ""]
    lines += [shot_line(shot, jobs.get(shot.job_id or 0)) for shot in shots]
    if board.state is BoardState.OPEN:
        lines += [f"**{place}.** _free_" for place in range(len(shots) + 1, board.shot_count + 1)]
    embed = discord.Embed(
        title=clip(f"{FILM_ICON} {board.title}", 256), description=clip("\n".join(lines), 4096)
    )
    embed.add_field(
        name="Shots", value=f"{board.shot_count} of {board.shot_seconds}s ({board.seconds}s)"
    )
    if film is not None:
        embed.add_field(name="Film", value=_job_link(film, f"#{film.id}"))
    if board.failure:
        embed.add_field(name="Why it stopped", value=clip(literal(board.failure), 1024), inline=False)
    embed.set_footer(text=f"Storyboard #{board.id}")
    return embed


class StoryboardDrawer:
    """Keeps storyboard messages true, never waited for: one drawing at a time per board
    (an older look never lands after a newer one), each read from the database once it has
    its channel's edit slot (the limit is shared with the status messages there), so the
    changes that pile up meanwhile make one drawing, not one each. What a message shows is
    stored (`Storyboard.shown`): a look already shown costs no edit, and a drawing a stop
    cut or Discord refused is made at the next start (`repair`)."""

    def __init__(
        self, bot: VideoBot, editor: StatusEditor, retry_delay: Callable[[int], float]
    ) -> None:
        self.bot = bot
        self.editor = editor
        self.retry_delay = retry_delay
        self._stale: set[int] = set()  # boards changed since their drawing read them
        self._drawing = BackgroundTasks("storyboards")

    def request(self, board_id: int) -> None:
        """Draw the board again as soon as its channel allows."""
        self._stale.add(board_id)
        if not self._drawing.closed and self._drawing.running(board_id) is None:
            self._drawing.spawn(self._redraw(board_id), name=f"board-{board_id}", key=board_id)

    async def repair(self, since: float) -> None:
        """At start: every board still going, or ended since ``since``, shows what it is."""
        for board_id in await self.bot.services.storyboards.shown_lately(since):
            self.request(board_id)

    async def close(self) -> None:
        await self._drawing.close()

    async def _redraw(self, board_id: int) -> None:
        failures = 0
        while board_id in self._stale:
            if await self._draw(board_id):
                failures = 0
                continue
            failures += 1
            if board_id in self._stale:  # changed again meanwhile: its tries start again
                failures = 1
            elif failures == DRAW_ATTEMPTS:
                log.warning(
                    "storyboard %d: its message is left as it was after %d tries; it is drawn "
                    "again at its next change or the next start", board_id, failures,
                )  # fmt: skip
                break
            self._stale.add(board_id)
            await asyncio.sleep(self.retry_delay(failures))
        # No await since the board was seen fresh: a request from now on draws it again.
        self._drawing.release(board_id)

    async def _draw(self, board_id: int) -> bool:
        """One drawing; False if Discord failed it and trying again may help. Each read
        comes after the board is marked seen, so a change made during it draws once more."""
        self._stale.discard(board_id)
        drawn = await self._look(board_id)
        if drawn is None or _digest(drawn[1]) == drawn[0].shown:
            return True
        async with self.editor.slot(drawn[0].channel_id):
            self._stale.discard(board_id)  # what changed up to here is read now
            fresh = await self._look(board_id)
            if fresh is None:  # gone meanwhile
                return True
            board, look = fresh
            shown = _digest(look)
            if shown == board.shown:
                return True
            assert board.message_id is not None
            message = self.bot.get_partial_messageable(
                board.channel_id, guild_id=board.guild_id
            ).get_partial_message(board.message_id)
            try:
                await message.edit(**look.edit(), allowed_mentions=NO_MENTIONS)
            except discord.NotFound:
                # Deleted: taken as shown, so a start doesn't look for it again.
                log.info("storyboard %d: its message was deleted", board.id)
            except discord.Forbidden as error:
                log.info("storyboard %d: its message can't be edited (%s)", board.id, error)
                return True
            except discord.HTTPException as error:
                log.warning("storyboard %d: could not update its message (%s)", board.id, error)
                return False
        await self.bot.services.storyboards.set_shown(board.id, shown)
        return True

    async def _look(self, board_id: int) -> tuple[Storyboard, StatusLook] | None:
        """The board as stored now and how its message shows it (None: no message)."""
        services = self.bot.services
        board = await services.storyboards.get(board_id)
        if board is None or board.message_id is None:
            return None
        shots = await services.storyboards.shots(board.id)
        jobs = {
            job.id: job
            for shot in shots
            if shot.job_id is not None and (job := await services.jobs.get(shot.job_id)) is not None
        }
        film = await services.jobs.get(board.film_job_id) if board.film_job_id else None
        failed = next((s for s in shots if s.state is ShotState.FAILED), None)
        embed = storyboard_embed(board, shots, jobs, film)
        return board, StatusLook(embed=embed, view=storyboard_view(board, failed))


def _digest(look: StatusLook) -> str:
    return hashlib.sha256(look.key().encode()).hexdigest()[:32]


class DiscordFilmSet:
    """The director's chat side: status messages, the storyboard message, pause notices."""

    def __init__(self, bot: VideoBot, drawer: StoryboardDrawer) -> None:
        self.bot = bot
        self.drawer = drawer

    async def post_status(self, job: Job) -> int:
        bot = self.bot
        channel = bot.get_partial_messageable(job.channel_id, guild_id=job.guild_id)
        try:
            message = await channel.send(
                embed=status_embed(
                    job, currency=bot.settings.currency, now=bot.clock(),
                    lineage=await bot.services.lineages.of(job),
                ),
                view=status_view(job.id),
                allowed_mentions=NO_MENTIONS,
            )  # fmt: skip
        except (discord.NotFound, discord.Forbidden) as error:
            raise ChatUnavailable(
                f"I can't post in <#{job.channel_id}> any more ({error.text or error.status})."
            ) from error
        return message.id

    async def show(self, board: Storyboard) -> None:
        self.drawer.request(board.id)

    async def paused(self, board: Storyboard, shot: Shot | None) -> None:
        assert board.thread_id is not None
        if shot is not None:
            who = shot.user_id
            text = (
                f"⚠️ <@{who}>, shot {shot.place} couldn't be filmed: "
                f"{literal(clip(shot.failure or 'no reason given', 1200))}\n"
                "Press **Retry** to film it again as it is, or **Rewrite** to change its prompt. "
                "The shots already made are kept, and filming goes on from there."
            )
        else:
            who = board.starter.user_id
            text = (
                f"⚠️ <@{who}>, filming stopped: "
                f"{literal(clip(board.failure or 'no reason given', 1200))}\n"
                "Press **Film it** to go on from where it stopped."
            )
        thread = self.bot.get_partial_messageable(board.thread_id, guild_id=board.guild_id)
        view = storyboard_view(board, shot)
        assert view is not None  # a paused storyboard has buttons
        try:
            await thread.send(
                text,
                view=view,
                allowed_mentions=discord.AllowedMentions(
                    everyone=False, roles=False, users=[discord.Object(who)]
                ),
            )
        except discord.HTTPException as error:
            log.warning("storyboard %d: could not post the pause notice (%s)", board.id, error)


# -- the flows -----------------------------------------------------------------------------


async def open_storyboard(
    interaction: discord.Interaction, title: str, shots: int, seconds: int
) -> None:
    """Post the storyboard and open its thread."""
    check_can_start(interaction, None)
    if isinstance(interaction.channel, discord.TextChannel) and interaction.guild is not None:
        missing = missing_thread_permissions(interaction.app_permissions)
        if missing:
            raise Refused(
                f"A storyboard opens a thread, and I'm missing {', '.join(missing)} here. "
                "Ask a server admin to grant them to me, or use another channel."
            )
    bot = video_bot(interaction)
    storyboards = bot.services.storyboard_service
    board = await storyboards.open(requester_of(interaction), title, shots, seconds)
    view = storyboard_view(board, None)
    assert view is not None  # an open storyboard has buttons
    await interaction.response.send_message(
        embed=storyboard_embed(board, [], {}, None), view=view, allowed_mentions=NO_MENTIONS
    )
    message = await interaction.original_response()
    board = await storyboards.message_posted(board, message.id)
    thread = await message.create_thread(
        name=clip(board.title, 100), auto_archive_duration=THREAD_ARCHIVE_MINUTES
    )
    await thread.send(
        f"🎬 **{literal(board.title)}**: {board.shot_count} shots of {board.shot_seconds}s. "
        "Press **Add shot** on the storyboard to add yours: each shot is filmed as its "
        "author's video and counts against their limits. Shot 1's image (optional) is the "
        "film's first frame; every later shot starts from the last frame of the one before, "
        "so its image is where it ends. Each shot, and then the film, is posted here as "
        "it is made; the film also goes in the channel.",
        allowed_mentions=NO_MENTIONS,
    )


async def add_shot(interaction: discord.Interaction, board_id: int) -> None:
    """Open the form for the storyboard's next shot."""
    bot = video_bot(interaction)
    board, place = await bot.services.storyboard_service.next_place(
        requester_of(interaction), board_id
    )
    await interaction.response.send_modal(
        ShotForm(
            f"Shot {place} of {board.shot_count}",
            max_prompt=bot.settings.prompt_max_chars,
            image_means=image_means(place),
            on_submit=functools.partial(shot_submitted, board_id=board.id),
        )
    )


async def shot_submitted(
    interaction: discord.Interaction,
    prompt: str,
    image: discord.Attachment | None,
    *,
    board_id: int,
) -> None:
    bot = video_bot(interaction)
    added = await bot.services.storyboard_service.add_shot(
        requester_of(interaction), board_id, prompt, await _checked_image(bot, image)
    )
    await interaction.response.send_message(_added_text(added), ephemeral=True)
    bot.dispatch("video_storyboard_changed", board_id)


def _added_text(added: ShotAdded) -> str:
    text = f"Added as shot {added.shot.place} of {added.board.shot_count}."
    if added.filled:
        return text + " That was the last one: filming starts now, shot by shot, in the thread."
    return text + " It is filmed as your video when its turn comes; you'll be pinged with it."


async def film(interaction: discord.Interaction, board_id: int) -> None:
    bot = video_bot(interaction)
    filming = await bot.services.storyboard_service.film(requester_of(interaction), board_id)
    if filming.audit is not None:
        bot.mod_log.record(filming.audit)
    await interaction.response.send_message(
        "🎬 Filming starts: each shot is posted in the thread as it is made, then the film.",
        ephemeral=True,
    )
    bot.dispatch("video_storyboard_changed", board_id)


async def retry_shot(interaction: discord.Interaction, board_id: int, place: int) -> None:
    bot = video_bot(interaction)
    await bot.services.storyboard_service.retry(requester_of(interaction), board_id, place)
    await interaction.response.send_message(
        f"🔁 Shot {place} is filmed again; filming goes on from there.", ephemeral=True
    )
    bot.dispatch("video_storyboard_changed", board_id)


async def rewrite_shot(interaction: discord.Interaction, board_id: int, place: int) -> None:
    """Open the form with the failed shot's prompt; submitting it films the shot again (with
    a new image if one is given: an old upload's link may have expired)."""
    bot = video_bot(interaction)
    _, shot = await bot.services.storyboard_service.failed_shot(
        requester_of(interaction), board_id, place
    )
    means = image_means(place)
    if shot.image is not None:
        means = "Optional: a new image replaces the shot's."
    await interaction.response.send_modal(
        ShotForm(
            f"Rewrite shot {place}",
            max_prompt=bot.settings.prompt_max_chars,
            image_means=means,
            on_submit=functools.partial(rewrite_submitted, board_id=board_id, place=place),
            prompt=shot.prompt,
        )
    )


async def rewrite_submitted(
    interaction: discord.Interaction,
    prompt: str,
    image: discord.Attachment | None,
    *,
    board_id: int,
    place: int,
) -> None:
    bot = video_bot(interaction)
    await bot.services.storyboard_service.retry(
        requester_of(interaction), board_id, place, prompt=prompt,
        image=await _checked_image(bot, image),
    )  # fmt: skip
    await interaction.response.send_message(
        f"✏️ Shot {place} is filmed again as rewritten; filming goes on from there.",
        ephemeral=True,
    )
    bot.dispatch("video_storyboard_changed", board_id)


async def _checked_image(bot: VideoBot, image: discord.Attachment | None) -> MediaInput | None:
    """The form's image, read and checked by its first bytes (`inspect_uploads`)."""
    if image is None:
        return None
    return (await inspect_uploads(bot.session, [image]))[image.id]
