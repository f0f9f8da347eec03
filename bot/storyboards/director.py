"""Filming a storyboard: its shots one after the other, then the film.

Everything the director knows is in the database (the storyboard's state, each shot's state
and job), so after a restart it carries on from there. One step looks at a filming
storyboard and does the next thing: admit the first shot not made yet as its author's job
(a continuation of the shot before, from its last frame), wait while that job runs, mark
it made once its video is posted, or pause the storyboard when it failed or was refused.
Once every shot is made, the film: a stitch of the shots, the starter's, posted in the
channel by the usual delivery (exactly once), with credits to every shot's author.

With several processes, each films the storyboards of its own shards' servers. Each job is
linked to its shot by a compare-and-set, so two steps never both film a shot: the loser
withdraws its job unsent. A job whose status message never got posted (a crash in
between) is withdrawn by the scheduler as unseen, nothing charged; the director then
admits the shot again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Protocol

from bot.clock import Clock
from bot.db.jobs import JobRepository
from bot.db.storyboards import StoryboardRepository
from bot.errors import UserError
from bot.jobs.lifecycle import JobState
from bot.jobs.model import Job, ShardScope
from bot.jobs.service import JobService
from bot.storyboards.model import BoardState, Shot, ShotState, Storyboard
from bot.storyboards.service import shot_request, shot_requester
from bot.tasks import run_passes

log = logging.getLogger(__name__)

# A filming storyboard is looked at this often even if no job of it said it changed.
RESCAN_SECONDS = 10.0


class ChatUnavailable(Exception):
    """Where a storyboard posts can't be posted in any more (deleted, or the bot lost its
    rights there): the members' words."""


class FilmSet(Protocol):
    """The chat side (Discord in production)."""

    async def post_status(self, job: Job) -> int:
        """Post ``job``'s status message in its channel; return the message's id. Raise
        `ChatUnavailable` when that will never work."""

    async def show(self, board: Storyboard) -> None:
        """Have the storyboard's message brought up to date (it may be drawn a little later,
        when its channel allows an edit)."""

    async def paused(self, board: Storyboard, shot: Shot | None) -> None:
        """Tell the storyboard's thread that filming stopped at ``shot`` (its author can
        retry or rewrite it), or for ``board.failure`` (``None``: the starter presses Film
        it to go on)."""


class Director:
    def __init__(
        self,
        *,
        boards: StoryboardRepository,
        jobs: JobRepository,
        job_service: JobService,
        film_set: FilmSet,
        clock: Clock,
        shards: ShardScope | None = None,
    ) -> None:
        self.shards = shards or ShardScope()
        self.boards = boards
        self.jobs = jobs
        self.job_service = job_service
        self.film_set = film_set
        self.clock = clock
        self.started_at = clock()  # jobs accepted before: this process never showed them
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """Something a filming storyboard waits for may have happened: look now."""
        self._wake.set()

    async def run(self) -> None:
        """Film every filming storyboard, on each wake and every `RESCAN_SECONDS`."""
        await run_passes("storyboards", self._pass, self._wake, retry=RESCAN_SECONDS)

    async def _pass(self) -> float:
        for board in await self.boards.in_state(BoardState.FILMING):
            if not self.shards.serves(board.guild_id):
                continue  # the process of its server's shard films it
            try:
                await self.advance(board)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("storyboard %d: a filming step failed; again shortly", board.id)
        return RESCAN_SECONDS

    async def advance(self, board: Storyboard) -> None:
        """Take ``board`` as far as it can go now."""
        made: list[Job] = []
        for shot in await self.boards.shots(board.id):
            if shot.state is ShotState.FAILED:
                await self._pause(board, shot)
                return
            job = await self.jobs.get(shot.job_id) if shot.job_id is not None else None
            if shot.state is ShotState.FILMING and job is None:
                # Withdrawn unseen (a crash before its status message): admit it again.
                log.info("storyboard %d: shot %d lost its job; again", board.id, shot.place)
                await self.boards.move_shot(
                    board.id, shot.place, from_states=[ShotState.FILMING],
                    to_state=ShotState.WAITING, job_id=None,
                )  # fmt: skip
                return await self.advance(board)
            if shot.state is ShotState.MADE and job is None:
                failed = await self.boards.move_shot(
                    board.id, shot.place, from_states=[ShotState.MADE], to_state=ShotState.FAILED,
                    failure=f"its video (#{shot.job_id}) was deleted before the film was joined.",
                )  # fmt: skip
                if failed is not None:
                    await self._pause(board, failed)
                return
            if shot.state is ShotState.WAITING:
                await self._start(board, shot, made[-1] if made else None)
                return
            assert job is not None
            if shot.state is ShotState.FILMING:
                if not job.is_delivered:
                    await self._shown(board, job)
                    return
                if not job.succeeded:
                    failed = await self.boards.move_shot(
                        board.id, shot.place, from_states=[ShotState.FILMING],
                        to_state=ShotState.FAILED, failure=job.error or job.display_state.lower(),
                    )  # fmt: skip
                    if failed is not None:
                        await self._pause(board, failed)
                    return
                await self.boards.move_shot(
                    board.id, shot.place, from_states=[ShotState.FILMING], to_state=ShotState.MADE
                )
                await self.film_set.show(board)
            made.append(job)
        await self._film(board, made)

    async def _start(self, board: Storyboard, shot: Shot, previous: Job | None) -> None:
        """Admit ``shot`` as its author's job (from ``previous``'s last frame)."""
        requester = shot_requester(board, shot.author)
        request = shot_request(board, shot.place, shot.prompt, shot.image)
        try:
            if previous is None:
                job = await self.job_service.accept(requester, request)
            else:
                job = await self.job_service.continue_video(
                    requester, previous, prompt=request.prompt, duration=request.duration,
                    last_frame=request.last_frame,
                )  # fmt: skip
        except UserError as refused:
            failed = await self.boards.move_shot(
                board.id, shot.place, from_states=[ShotState.WAITING], to_state=ShotState.FAILED,
                failure=refused.message,
            )  # fmt: skip
            if failed is not None:
                await self._pause(board, failed)
            return
        linked = await self.boards.move_shot(
            board.id, shot.place, from_states=[ShotState.WAITING], to_state=ShotState.FILMING,
            job_id=job.id,
        )  # fmt: skip
        if linked is None:  # another step filmed it first
            await self.job_service.abandon(job)
            return
        log.info("storyboard %d: shot %d is job %d", board.id, shot.place, job.id)
        await self._shown(board, job)
        await self.film_set.show(board)

    async def _film(self, board: Storyboard, shots: Sequence[Job]) -> None:
        """Every shot is made: the film (a stitch, the starter's), then the storyboard is done."""
        film = await self.jobs.get(board.film_job_id) if board.film_job_id is not None else None
        if film is None and board.film_job_id is not None:
            # Withdrawn unseen (a crash before its status message): stitch again.
            cleared = await self.boards.move(
                board.id, from_states=[BoardState.FILMING], film_job_id=None
            )
            if cleared is None:
                return
            board = cleared
        if film is None:
            starter = board.starter.requester(board.guild_id, board.channel_id, None)
            try:
                film = await self.job_service.stitch(starter, shots)
            except UserError as refused:
                await self._film_failed(board, refused.message)
                return
            if await self.boards.move(
                board.id, from_states=[BoardState.FILMING], film_job_id=film.id
            ) is None:
                await self.job_service.abandon(film)
                return
            log.info("storyboard %d: the film is job %d", board.id, film.id)
        if not film.is_delivered:
            await self._shown(board, film)
            return
        if not film.succeeded:
            await self._film_failed(board, film.error or film.display_state.lower())
            return
        done = await self.boards.move(
            board.id, from_states=[BoardState.FILMING], to_state=BoardState.FILMED
        )
        if done is not None:
            await self.film_set.show(done)

    async def _shown(self, board: Storyboard, job: Job) -> None:
        """Give a job this process accepted its status message (the job waits for it). One
        accepted before a restart is left to the scheduler: it finds its message, or
        withdraws it as never shown, and the director then starts it again. Where nothing
        can be posted any more, the job is withdrawn and filming stops, said why."""
        if job.status_message_id is not None or job.state is not JobState.ACCEPTED:
            return
        if job.created_at < self.started_at:
            return
        try:
            message_id = await self.film_set.post_status(job)
        except ChatUnavailable as gone:
            await self.job_service.abandon(job)
            await self._film_failed(board, str(gone))
            return
        await self.job_service.status_message_posted(job, message_id)

    async def _pause(self, board: Storyboard, shot: Shot) -> None:
        paused = await self.boards.move(
            board.id, from_states=[BoardState.FILMING], to_state=BoardState.PAUSED
        )
        if paused is not None:
            log.info("storyboard %d: paused at shot %d (%s)", board.id, shot.place, shot.failure)
            await self.film_set.show(paused)
            await self.film_set.paused(paused, shot)

    async def _film_failed(self, board: Storyboard, reason: str) -> None:
        paused = await self.boards.move(
            board.id, from_states=[BoardState.FILMING], to_state=BoardState.PAUSED, failure=reason
        )
        if paused is not None:
            await self.film_set.show(paused)
            await self.film_set.paused(paused, None)
