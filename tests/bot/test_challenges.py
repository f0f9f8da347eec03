"""How places are decided at a challenge's close: ties share a place, and a tie at the
last winning place makes more winners, never fewer; an entry with no votes never wins."""

from __future__ import annotations

from bot.challenges import places
from bot.db.challenges import Entry, Tally


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
