"""A film made together, in the domain: who may add, film and retry; the director's steps
one at a time, with the jobs moved by hand as the scheduler would; and the crash windows
(a job withdrawn unseen, one accepted before a restart), on each database engine."""

from __future__ import annotations

import pytest

from bot.errors import Conflict, PermissionDenied, Refused
from bot.jobs.lifecycle import JobOutcome, JobState
from bot.jobs.model import JobOrigin
from bot.model_offer import DOCUMENTED
from bot.moderation.audit import AuditAction
from bot.moderation.requester import Requester
from bot.storyboards.director import ChatUnavailable, Director
from bot.storyboards.model import BoardState, Member, Shot, ShotState, Storyboard
from bot.storyboards.service import storyboard_problems
from tests.support.jobs import finish, posted

GUILD, CHANNEL, THREAD = 1, 2, 3
ALICE, BOB, MOD = 10, 11, 12


def member(user_id: int, **extra) -> Requester:
    return Requester(user_id, GUILD, CHANNEL, **extra)


class FilmSet:
    """The chat side, in memory: what the director posted."""

    def __init__(self) -> None:
        self.statuses: list[int] = []
        self.pauses: list[tuple[int, int | None]] = []
        self.shown = 0
        self.failing: Exception | None = None  # what posting a status message raises

    async def post_status(self, job) -> int:
        if self.failing is not None:
            raise self.failing
        self.statuses.append(job.id)
        return 9000 + job.id

    async def show(self, board: Storyboard) -> None:
        self.shown += 1

    async def paused(self, board: Storyboard, shot: Shot | None) -> None:
        self.pauses.append((board.id, shot.place if shot else None))


@pytest.fixture
def film_set() -> FilmSet:
    return FilmSet()


@pytest.fixture
def director(services, film_set, clock) -> Director:
    return Director(
        boards=services.storyboards, jobs=services.jobs, job_service=services.job_service,
        film_set=film_set, clock=clock,
    )  # fmt: skip


async def opened(services, shots=3, seconds=5) -> Storyboard:
    board = await services.storyboard_service.open(member(ALICE), "A day out", shots, seconds)
    return await services.storyboard_service.message_posted(board, THREAD)


async def made(services, job_id: int) -> None:
    """The shot's job ends with a video, posted."""
    await finish(services.jobs, job_id, JobOutcome.SUCCEEDED)
    await posted(services.jobs, job_id)


async def step(director, services, board_id: int) -> Storyboard:
    board = await services.storyboards.get(board_id)
    await director.advance(board)
    return await services.storyboards.get(board_id)


def test_a_storyboard_fits_the_provider_and_the_stitch():
    assert storyboard_problems(3, 5, DOCUMENTED) == []
    assert storyboard_problems(1, 5, DOCUMENTED) == ["A film has 2 to 8 shots."]
    assert storyboard_problems(8, 16, DOCUMENTED)[0] == "Each shot lasts 4 to 15 seconds."
    assert "a film lasts at most 120 s" in storyboard_problems(9, 15, DOCUMENTED)[-1]


async def test_only_the_next_shot_of_an_open_storyboard_is_added(services):
    board = await opened(services, shots=2)
    repo = services.storyboards
    assert await repo.add_shot(board.id, 2, Member(BOB), "too far ahead", None) is None
    first, still_open = await repo.add_shot(board.id, 1, Member(ALICE), "one", None)
    assert (first.place, still_open.state) == (1, BoardState.OPEN)
    assert await repo.add_shot(board.id, 1, Member(BOB), "the same place", None) is None
    last, full = await repo.add_shot(board.id, 2, Member(BOB), "two", None)
    assert (last.place, full.state) == (2, BoardState.FILMING)
    with pytest.raises(Conflict, match="being made"):
        await services.storyboard_service.add_shot(member(MOD), board.id, "three", None)


async def test_a_shot_is_checked_against_its_authors_limits_when_added(services):
    board = await opened(services)
    with pytest.raises(Refused, match="empty"):
        await services.storyboard_service.add_shot(member(BOB), board.id, "   ", None)
    outside = Requester(BOB, GUILD + 1, CHANNEL)
    with pytest.raises(Exception, match="no longer exists"):
        await services.storyboard_service.add_shot(outside, board.id, "elsewhere", None)
    assert await services.storyboards.shots(board.id) == []


async def test_the_director_films_shot_after_shot_then_the_film_once(services, director, film_set):
    board = await opened(services, shots=2)
    await services.storyboard_service.add_shot(member(ALICE, role_ids=(5,)), board.id, "one", None)
    await services.storyboard_service.add_shot(member(BOB), board.id, "two", None)

    await step(director, services, board.id)
    first = await services.jobs.get(1)
    assert (first.user_id, first.channel_id, first.status_message_id) == (ALICE, THREAD, 9001)
    await step(director, services, board.id)  # still running: nothing new
    assert film_set.statuses == [1]
    await made(services, 1)
    await step(director, services, board.id)
    second = await services.jobs.get(2)
    assert (second.user_id, second.origin, second.first_frame_from) == (BOB, JobOrigin.CONTINUE, 1)
    await made(services, 2)
    await step(director, services, board.id)
    film = await services.jobs.get(3)
    assert (film.user_id, film.channel_id, film.origin) == (ALICE, CHANNEL, JobOrigin.STITCH)
    await step(director, services, board.id)  # the film runs: no second one
    assert film_set.statuses == [1, 2, 3] and await services.jobs.get(4) is None
    await finish(services.jobs, 3, JobOutcome.SUCCEEDED)
    await posted(services.jobs, 3)
    done = await step(director, services, board.id)
    assert done.state is BoardState.FILMED and done.film_job_id == 3


async def test_a_failed_shot_pauses_and_only_its_author_retries_it(services, director, film_set):
    board = await opened(services, shots=2)
    await services.storyboard_service.add_shot(member(ALICE), board.id, "one", None)
    await services.storyboard_service.add_shot(member(BOB), board.id, "two", None)
    await step(director, services, board.id)
    await finish(services.jobs, 1, JobOutcome.FAILED, error="flagged")
    await posted(services.jobs, 1)
    paused = await step(director, services, board.id)
    assert paused.state is BoardState.PAUSED and film_set.pauses == [(board.id, 1)]
    (shot, waiting) = await services.storyboards.shots(board.id)
    assert (shot.state, shot.failure, waiting.state) == (ShotState.FAILED, "flagged", ShotState.WAITING)
    assert await services.jobs.get(2) is None  # bob's shot never ran: nothing charged

    with pytest.raises(PermissionDenied, match="only they can retry"):
        await services.storyboard_service.retry(member(BOB), board.id, 1)
    with pytest.raises(Conflict, match="paused"):
        await services.storyboard_service.film(member(ALICE), board.id)
    again = await services.storyboard_service.retry(member(ALICE), board.id, 1, prompt="one, again")
    assert (again.state, again.prompt, again.job_id) == (ShotState.WAITING, "one, again", None)
    await step(director, services, board.id)
    retried = await services.jobs.get(2)
    assert retried.request.prompt == "one, again" and retried.user_id == ALICE


async def test_a_shot_whose_job_was_withdrawn_unseen_is_filmed_again(services, director, film_set):
    board = await opened(services, shots=2)
    await services.storyboard_service.add_shot(member(ALICE), board.id, "one", None)
    await services.storyboard_service.add_shot(member(BOB), board.id, "two", None)
    await step(director, services, board.id)
    assert await services.jobs.delete_unsent(1)  # what the scheduler does to an unseen job
    await step(director, services, board.id)
    (shot, _) = await services.storyboards.shots(board.id)
    assert (shot.state, shot.job_id) == (ShotState.FILMING, 2)
    assert film_set.statuses == [1, 2]


async def test_a_job_accepted_before_a_restart_is_left_to_the_scheduler(
    services, director, film_set, clock
):
    board = await opened(services, shots=2)
    await services.storyboard_service.add_shot(member(ALICE), board.id, "one", None)
    await services.storyboard_service.add_shot(member(BOB), board.id, "two", None)

    film_set.failing = RuntimeError("the process died before posting the status message")
    with pytest.raises(RuntimeError):
        await step(director, services, board.id)
    clock.advance(60)
    film_set.failing = None
    restarted = Director(
        boards=services.storyboards, jobs=services.jobs, job_service=services.job_service,
        film_set=film_set, clock=clock,
    )  # fmt: skip
    await restarted.advance(await services.storyboards.get(board.id))
    # No status message from the new process: the scheduler finds the one that may have
    # been posted, or withdraws the job as never shown (and the shot is filmed again).
    assert film_set.statuses == []
    job = await services.jobs.get(1)
    assert job.state is JobState.ACCEPTED and job.status_message_id is None


async def test_film_it_is_for_the_starter_or_a_moderator(services):
    board = await opened(services)
    await services.storyboard_service.add_shot(member(ALICE), board.id, "one", None)
    with pytest.raises(Refused, match="2 shots at least"):
        await services.storyboard_service.film(member(ALICE), board.id)
    await services.storyboard_service.add_shot(member(BOB), board.id, "two", None)
    with pytest.raises(PermissionDenied, match=f"Only <@{ALICE}>"):
        await services.storyboard_service.film(member(BOB), board.id)
    moderator = member(MOD, can_manage_guild=True)
    filming = await services.storyboard_service.film(moderator, board.id)
    assert filming.board.state is BoardState.FILMING
    assert filming.audit is not None
    assert (filming.audit.action, filming.audit.subject, filming.audit.target) == (
        AuditAction.STORYBOARD_FILM, str(board.id), f"user:{ALICE}")
    assert [e.action for e in await services.audit.listed(moderator)] == [AuditAction.STORYBOARD_FILM]
    with pytest.raises(Conflict, match="being made"):
        await services.storyboard_service.film(member(ALICE), board.id)


async def test_a_members_shots_still_to_be_filmed_count_when_they_add_another(services):
    moderator = member(MOD, can_manage_guild=True)
    await services.limit_admin.set_limit(moderator, "member", BOB, "generations_per_day", "2")
    board = await opened(services, shots=4)
    other = await opened(services, shots=2)
    await services.storyboard_service.add_shot(member(BOB), board.id, "one", None)
    await services.storyboard_service.add_shot(member(BOB), other.id, "two", None)
    with pytest.raises(Refused, match=r"^Counting your 2 other shots still to be filmed \(10 seconds\): "):
        await services.storyboard_service.add_shot(member(BOB), board.id, "three", None)
    assert [s.user_id for s in await services.storyboards.shots(board.id)] == [BOB]
    await services.storyboard_service.add_shot(member(ALICE), board.id, "alice's", None)


async def test_a_thread_that_is_gone_stops_filming_until_the_starter_goes_on(
    services, director, film_set
):
    board = await opened(services, shots=2)
    await services.storyboard_service.add_shot(member(ALICE), board.id, "one", None)
    await services.storyboard_service.add_shot(member(BOB), board.id, "two", None)

    film_set.failing = ChatUnavailable("I can't post in the thread any more")
    stopped = await step(director, services, board.id)
    assert (stopped.state, stopped.failure) == (BoardState.PAUSED, "I can't post in the thread any more")
    assert film_set.pauses == [(board.id, None)]
    assert await services.jobs.get(1) is None  # withdrawn unsent: nothing charged
    film_set.failing = None
    await services.storyboard_service.film(member(ALICE), board.id)
    await step(director, services, board.id)
    (shot, _) = await services.storyboards.shots(board.id)
    assert (shot.state, shot.job_id) == (ShotState.FILMING, 2) and film_set.statuses == [2]


async def test_a_shot_whose_video_was_deleted_before_the_film_is_filmed_again(
    services, director, film_set
):
    board = await opened(services, shots=2)
    await services.storyboard_service.add_shot(member(ALICE), board.id, "one", None)
    await services.storyboard_service.add_shot(member(BOB), board.id, "two", None)
    await step(director, services, board.id)
    await made(services, 1)
    await step(director, services, board.id)
    await services.job_service.delete(member(ALICE), 1)  # alice deletes her shot's result
    await finish(services.jobs, 2, JobOutcome.SUCCEEDED)
    await posted(services.jobs, 2)
    paused = await step(director, services, board.id)
    assert paused.state is BoardState.PAUSED and film_set.pauses == [(board.id, 1)]
    (shot, _) = await services.storyboards.shots(board.id)
    assert shot.failure == "its video (#1) was deleted before the film was joined."
    await services.storyboard_service.retry(member(ALICE), board.id, 1)
    await step(director, services, board.id)
    assert (await services.jobs.get(3)).user_id == ALICE  # shot 1 again; shot 2 is kept
