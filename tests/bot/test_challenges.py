"""Challenges in the domain: how places are decided at the close (ties share a place, a
tie at the last winning place makes more winners, an entry with no votes never wins), and
the close happening once, across a crash after the results post landed."""

from __future__ import annotations

import pytest

from bot.challenges import ChallengeRunner, Placed, PostRefused, places
from bot.db.audit import AuditEntry
from bot.db.challenges import Challenge, ChallengeTerms, Entry, Tally
from bot.errors import Conflict
from bot.jobs.lifecycle import JobOutcome
from bot.moderation.requester import Requester
from bot.params import GenerationRequest
from bot.services import Services
from tests.support.jobs import finish, posted


def tally(entry_id: int, votes: int) -> Tally:
    return Tally(Entry(entry_id, 1, entry_id, 100 + entry_id, 0.0, 0, None, None), votes)


def ranked(votes: list[int], winners: int) -> list[tuple[int, int]]:
    return [(p.place, p.tally.entry.id) for p in places([tally(i + 1, v) for i, v in enumerate(votes)], winners)]


def test_ties_share_a_place_and_all_win_at_the_cut():
    assert ranked([3, 3, 1], winners=1) == [(1, 1), (1, 2)]
    assert ranked([3, 3, 1], winners=2) == [(1, 1), (1, 2)]  # the 1 vote is 3rd
    assert ranked([3, 3, 1], winners=3) == [(1, 1), (1, 2), (3, 3)]
    assert ranked([1, 5, 2], winners=2) == [(1, 2), (2, 3)]


def test_no_votes_no_winner():
    assert ranked([0, 0], winners=3) == []
    assert ranked([], winners=1) == []


GUILD = 1
MOD = Requester(user_id=2, guild_id=GUILD, channel_id=5, can_manage_guild=True)
ALICE, BOB, CAROL = (Requester(user_id=u, guild_id=GUILD, channel_id=5) for u in (3, 4, 6))


class CrashingBoard:
    """Discord as the runner sees it: the results post lands, then the process dies
    before recording it (the first time only)."""

    def __init__(self) -> None:
        self.entries: dict[int, int] = {}
        self.results: list[int] = []
        self.crash_after_results = True
        self.closed = 0

    async def find_entry(self, challenge: Challenge, entry: Entry) -> int | None:
        return self.entries.get(entry.id)

    async def post_entry(self, challenge: Challenge, entry: Entry) -> int:
        self.entries[entry.id] = 1000 + entry.id
        return self.entries[entry.id]

    async def find_results(self, challenge: Challenge) -> int | None:
        return self.results[0] if self.results else None

    async def post_results(self, challenge: Challenge, winners: list[Placed]) -> int:
        self.results.append(2000 + len(self.results))
        if self.crash_after_results:
            self.crash_after_results = False
            raise RuntimeError("killed after posting")
        return self.results[-1]

    async def close_voting(self, challenge: Challenge) -> None:
        self.closed += 1

    async def give_role(self, challenge: Challenge, user_ids: list[int]) -> None:
        raise AssertionError("no role reward here")

    async def report(self, challenge: Challenge, audit: list[AuditEntry]) -> None:
        pass


async def delivered_video(services: Services, member: Requester) -> int:
    job = await services.job_service.accept(member, GenerationRequest(prompt="a city at night"))
    await finish(services.jobs, job.id, JobOutcome.SUCCEEDED)
    await posted(services.jobs, job.id, message_id=500 + job.id)
    return job.id


async def test_a_crash_after_the_results_landed_posts_them_once_and_closes_once(services, clock):
    challenges = services.challenges
    terms = ChallengeTerms(channel_id=5, theme="night", ends_at=clock() + 3600, reward_generations=1)
    challenge, _ = await challenges.start(MOD, terms)
    await services.challenge_records.announced(challenge.id, 900, None)
    _, alice_entry = await challenges.enter(ALICE, await delivered_video(services, ALICE))
    _, bob_entry = await challenges.enter(BOB, await delivered_video(services, BOB))
    for voter, entry in [(BOB, alice_entry), (CAROL, alice_entry), (ALICE, bob_entry)]:
        await challenges.vote(voter, entry.id)
    board = CrashingBoard()
    runner = ChallengeRunner(challenges, board, clock, serves=lambda guild_id: True)
    await runner.tick()
    assert sorted(board.entries) == [alice_entry.id, bob_entry.id] and board.results == []

    clock.advance(3601)
    await runner.tick()  # closed and rewarded; the results landed, their record did not
    crashed = await services.challenge_records.get(challenge.id)
    assert crashed is not None and crashed.state == "closed" and crashed.results_message_id is None
    assert board.results == [2000]
    restarted = ChallengeRunner(challenges, board, clock, serves=lambda guild_id: True)
    await restarted.tick()
    await restarted.tick()
    assert board.results == [2000] and board.closed == 1  # found, not posted again
    stored = await services.challenge_records.get(challenge.id)
    assert stored is not None and stored.results_message_id == 2000 and stored.finished_at
    entries = await services.audit_entries.listed(GUILD, limit=50, offset=0)
    actions = [e.action for e in entries]
    assert actions.count("challenge.end") == 1 and actions.count("quota.grant") == 1
    (grant,) = [e for e in entries if e.action == "quota.grant"]
    assert grant.target == f"user:{ALICE.user_id}" and grant.actor_id == MOD.user_id
    with pytest.raises(Conflict, match="Voting in this challenge has closed"):
        await challenges.vote(BOB, alice_entry.id)


class RefusingBoard(CrashingBoard):
    """The entries channel is gone: every post is refused for good."""

    def __init__(self) -> None:
        super().__init__()
        self.tries = 0

    async def post_entry(self, challenge: Challenge, entry: Entry) -> int:
        self.tries += 1
        raise PostRefused("Unknown Channel")

    async def post_results(self, challenge: Challenge, winners: list[Placed]) -> int:
        raise PostRefused("Unknown Channel")


async def test_a_post_refused_for_good_is_not_tried_again_and_the_close_still_happens(
    services, clock
):
    challenges = services.challenges
    terms = ChallengeTerms(channel_id=5, theme="night", ends_at=clock() + 3600)
    challenge, _ = await challenges.start(MOD, terms)
    await services.challenge_records.announced(challenge.id, 900, None)
    await challenges.enter(ALICE, await delivered_video(services, ALICE))
    board = RefusingBoard()
    runner = ChallengeRunner(challenges, board, clock, serves=lambda guild_id: True)
    await runner.tick()
    await runner.tick()
    assert board.tries == 1
    clock.advance(3601)
    await runner.tick()
    stored = await services.challenge_records.get(challenge.id)
    assert stored is not None and stored.state == "closed" and stored.finished_at is not None
    assert stored.results_message_id is None and board.closed == 1
