"""The use cases of a film made together: open a storyboard, add a shot, film it, retry or
rewrite a failed shot. Who may do what is decided here; the filming itself is the
`bot.storyboards.director.Director`'s.

A shot is its author's job: it is checked against their limits when they add it (so they
hear at once if it can't be afforded) and admitted for real, as theirs, when its turn
comes. A shot's image is the first frame of shot 1; a later shot starts from the last frame
of the one before, so its image is where it ends (its last frame): the provider takes
frames or references, never both, and a last frame only with a first.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bot.clock import Clock
from bot.db.audit import AuditEntry
from bot.db.database import Database
from bot.db.storyboards import StoryboardRepository
from bot.errors import Conflict, NotFound, PermissionDenied, Refused
from bot.jobs.service import MAX_STITCH_CLIPS, MAX_STITCH_SECONDS, JobService
from bot.markup import plural
from bot.model_offer import ModelOffer
from bot.moderation.audit import AuditAction, AuditLog, user_target
from bot.moderation.requester import Moderators, Requester
from bot.params import GenerationRequest, MediaInput
from bot.quotas.admission import AdmissionRefused
from bot.storyboards.model import BoardState, Member, Shot, ShotState, Storyboard

MIN_SHOTS = 2  # a film joins two clips at least
TITLE_MAX_CHARS = 90  # the thread's name is the title (Discord: 100 characters)


@dataclass(frozen=True)
class ShotAdded:
    shot: Shot
    board: Storyboard  # FILMING if this shot filled it

    @property
    def filled(self) -> bool:
        return self.board.state is BoardState.FILMING


@dataclass(frozen=True)
class Filming:
    board: Storyboard
    audit: AuditEntry | None  # set when a moderator started someone else's storyboard


def storyboard_problems(shot_count: int, shot_seconds: int, offer: ModelOffer) -> list[str]:
    """Why a storyboard of ``shot_count`` shots of ``shot_seconds`` can't be made."""
    problems = []
    if not MIN_SHOTS <= shot_count <= MAX_STITCH_CLIPS:
        problems.append(f"A film has {MIN_SHOTS} to {MAX_STITCH_CLIPS} shots.")
    low, high = offer.durations
    if not low <= shot_seconds <= high:
        problems.append(f"Each shot lasts {low} to {high} seconds.")
    if shot_count * shot_seconds > MAX_STITCH_SECONDS:
        problems.append(
            f"{shot_count} shots of {shot_seconds} s last {shot_count * shot_seconds} s; a film "
            f"lasts at most {MAX_STITCH_SECONDS} s. Make fewer or shorter shots."
        )
    return problems


def shot_request(board: Storyboard, place: int, prompt: str, image: MediaInput | None) -> GenerationRequest:
    """What shot ``place`` asks the provider: its prompt at the storyboard's length, its image
    as the first frame (shot 1) or the last (later shots, which start from the shot before)."""
    return GenerationRequest(
        prompt=prompt,
        duration=board.shot_seconds,
        first_frame=image if place == 1 else None,
        last_frame=image if place > 1 else None,
    )


def shot_requester(board: Storyboard, author: Member) -> Requester:
    """A shot's author as its job's requester: in the storyboard's thread."""
    assert board.thread_id is not None
    return author.requester(board.guild_id, board.thread_id, board.channel_id)


class Storyboards:
    def __init__(
        self,
        *,
        db: Database,
        boards: StoryboardRepository,
        job_service: JobService,
        moderators: Moderators,
        audit: AuditLog,
        clock: Clock,
        offer: Callable[[], ModelOffer],
        on_filming: Callable[[], None] = lambda: None,
    ) -> None:
        self.db = db
        self.audit = audit
        self.clock = clock
        self.boards = boards
        self.job_service = job_service
        self.moderators = moderators
        self.offer = offer
        self.on_filming = on_filming

    async def open(
        self, starter: Requester, title: str, shot_count: int, shot_seconds: int
    ) -> Storyboard:
        """A new, open storyboard (its message is posted next: `message_posted`)."""
        if starter.guild_id is None:
            raise Refused("A film is made together inside a server.")
        if starter.parent_channel_id is not None:
            raise Refused(
                "A storyboard opens its own thread, so start it in a text channel, not a thread."
            )
        title = " ".join(title.split())
        problems = storyboard_problems(shot_count, shot_seconds, self.offer())
        if not title:
            problems.insert(0, "Give the film a title.")
        if len(title) > TITLE_MAX_CHARS:
            problems.insert(0, f"The title is {len(title)} characters; at most {TITLE_MAX_CHARS}.")
        if problems:
            raise Refused(*problems)
        return await self.boards.create(
            guild_id=starter.guild_id,
            channel_id=starter.channel_id,
            starter=Member.of(starter),
            title=title,
            shot_count=shot_count,
            shot_seconds=shot_seconds,
        )

    async def message_posted(self, board: Storyboard, message_id: int) -> Storyboard:
        moved = await self.boards.move(
            board.id, from_states=[BoardState.OPEN], message_id=message_id
        )
        return moved or board

    async def get(self, actor: Requester, board_id: int) -> Storyboard:
        board = await self.boards.get(board_id)
        if board is None or board.guild_id != actor.guild_id:
            raise NotFound("That storyboard no longer exists.")
        return board

    async def next_place(self, actor: Requester, board_id: int) -> tuple[Storyboard, int]:
        """The storyboard and the place of the shot added next; `Conflict` if none can be."""
        board = await self.get(actor, board_id)
        if board.state is not BoardState.OPEN:
            raise Conflict(_why_not_now(board))
        place = len(await self.boards.shots(board.id)) + 1
        if place > board.shot_count:
            raise Conflict("Every shot of this storyboard is taken.")
        return board, place

    async def add_shot(
        self, actor: Requester, board_id: int, prompt: str, image: MediaInput | None
    ) -> ShotAdded:
        """The next shot, ``actor``'s; refused now if it could not be filmed as theirs."""
        board, place = await self.next_place(actor, board_id)
        author = Member.of(actor)
        waiting = await self.boards.waiting_of(board.guild_id, author.user_id)
        ahead = [shot_request(b, s.place, s.prompt, s.image) for b, s in waiting]
        try:
            await self.job_service.forecast(
                shot_requester(board, author),
                shot_request(board, place, prompt, image),
                continues=place > 1,
                ahead=ahead,
            )
        except AdmissionRefused as refused:
            if not ahead:
                raise
            raise Refused(
                f"Counting your {plural(len(ahead), 'other shot')} still to be filmed "
                f"({plural(sum(r.duration for r in ahead), 'second')}): {refused.message}",
                limit=refused.limit,
            ) from refused
        added = await self.boards.add_shot(board.id, place, author, prompt, image)
        if added is None:
            raise Conflict(
                "Someone added a shot just before you, so yours would not be shot "
                f"{place} any more. Press **Add shot** again."
            )
        shot, board = added
        if board.state is BoardState.FILMING:
            self.on_filming()
        return ShotAdded(shot, board)

    async def film(self, actor: Requester, board_id: int) -> Filming:
        """Start filming now (the starter or a moderator, audited), with the shots there
        are; or go on after filming stopped for the storyboard itself (joining the shots
        failed, or its thread can't be posted in)."""
        board = await self.get(actor, board_id)
        starter = board.starter.user_id
        if actor.user_id != starter and not await self.moderators.is_moderator(actor):
            raise PermissionDenied(
                f"Only <@{starter}>, who started this storyboard, or a moderator can start "
                "filming. It starts by itself once every shot is added."
            )
        if board.state is BoardState.OPEN:
            if len(await self.boards.shots(board.id)) < MIN_SHOTS:
                raise Refused(f"A film needs {MIN_SHOTS} shots at least: add another first.")
            changes: dict[str, Any] = {}
        elif board.state is BoardState.PAUSED and board.failure is not None:
            changes = {"failure": None, "film_job_id": None}
        else:
            raise Conflict(_why_not_now(board))
        audit = None
        async with self.db.transaction() as conn:
            moved = await self.boards.move(
                board.id, from_states=[board.state], to_state=BoardState.FILMING, conn=conn,
                **changes,
            )  # fmt: skip
            if moved is None:
                raise Conflict("Someone else just started it.")
            if actor.user_id != starter:
                audit = await self.audit.record(
                    conn, guild_id=board.guild_id, actor_id=actor.user_id,
                    action=AuditAction.STORYBOARD_FILM, subject=str(board.id),
                    target=user_target(starter), at=self.clock(),
                )  # fmt: skip
        self.on_filming()
        return Filming(moved, audit)

    async def failed_shot(
        self, actor: Requester, board_id: int, place: int
    ) -> tuple[Storyboard, Shot]:
        """Shot ``place``, if it failed and ``actor`` wrote it (only they may retry it)."""
        board = await self.get(actor, board_id)
        shot = next((s for s in await self.boards.shots(board.id) if s.place == place), None)
        if shot is None:
            raise NotFound("That shot no longer exists.")
        if shot.user_id != actor.user_id:
            raise PermissionDenied(
                f"Shot {place} is <@{shot.user_id}>'s: only they can retry or rewrite it, "
                "as it is filmed as their video."
            )
        if shot.state is not ShotState.FAILED:
            raise Conflict(f"Shot {place} hasn't failed: there is nothing to retry.")
        return board, shot

    async def retry(
        self,
        actor: Requester,
        board_id: int,
        place: int,
        *,
        prompt: str | None = None,
        image: MediaInput | None = None,
    ) -> Shot:
        """Film a failed shot again (with a new ``prompt`` or ``image``: rewrite it); its
        author only, as it is their job. The shots already made are kept; filming goes on
        from there."""
        board, shot = await self.failed_shot(actor, board_id, place)
        await self.job_service.forecast(
            shot_requester(board, shot.author),
            shot_request(board, place, prompt or shot.prompt, image or shot.image),
            continues=place > 1,
        )
        changes: dict[str, object] = {"prompt": prompt} if prompt is not None else {}
        if image is not None:
            changes["image"] = image
        again = await self.boards.move_shot(
            board.id, place, from_states=[ShotState.FAILED], to_state=ShotState.WAITING,
            job_id=None, failure=None, **changes,
        )  # fmt: skip
        if again is None:
            raise Conflict(f"Shot {place} is already being filmed again.")
        await self.boards.move(board.id, from_states=[BoardState.PAUSED], to_state=BoardState.FILMING)
        self.on_filming()
        return again


def _why_not_now(board: Storyboard) -> str:
    return {
        BoardState.OPEN: "This storyboard is still open for shots.",
        BoardState.FILMING: "This film is being made: no more shots can be added or changed.",
        BoardState.PAUSED: "This film is paused until the failed shot is retried or rewritten.",
        BoardState.FILMED: "This film is finished.",
    }[board.state]
