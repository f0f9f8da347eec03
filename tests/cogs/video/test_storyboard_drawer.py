"""The storyboard drawer's tries: a change that comes while the last try is failing is not
dropped with the give-up; the board is drawn with it once Discord takes edits again."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from types import SimpleNamespace
from typing import Any

import discord

from bot.storyboards.model import BoardState, Member, Storyboard
from cogs.video.together import DRAW_ATTEMPTS, StoryboardDrawer

BOARD = Storyboard(
    id=7, guild_id=1, channel_id=2, message_id=3, starter=Member(user_id=4), title="A walk",
    shot_count=3, shot_seconds=5, state=BoardState.OPEN, film_job_id=None, failure=None,
    created_at=0.0,
)  # fmt: skip


class Board:
    """The stored board, and the message Discord refuses to edit for a while."""

    def __init__(self, refusals: int) -> None:
        self.stored = BOARD
        self.refusals = refusals
        self.edits: list[str] = []  # the title each try showed
        self.during_edit: dict[int, Any] = {}  # try number -> what happens while it runs
        self.shown = asyncio.Event()

    # services.storyboards
    async def get(self, board_id: int) -> Storyboard:
        return self.stored

    async def shots(self, board_id: int) -> list[Any]:
        return []

    async def set_shown(self, board_id: int, digest: str) -> None:
        self.stored = dataclasses.replace(self.stored, shown=digest)
        self.shown.set()

    # the message
    def get_partial_message(self, message_id: int) -> Board:
        return self

    async def edit(self, *, embed: discord.Embed, **_: Any) -> None:
        self.edits.append(embed.title or "")
        happening = self.during_edit.get(len(self.edits))
        if happening is not None:
            happening()
        if len(self.edits) <= self.refusals:
            raise discord.HTTPException(SimpleNamespace(status=503, reason="Unavailable"), "")


class Editor:
    @contextlib.asynccontextmanager
    async def slot(self, channel_id: int) -> Any:
        yield


async def test_a_change_during_the_last_failing_try_is_drawn_once_discord_takes_edits() -> None:
    board = Board(refusals=DRAW_ATTEMPTS + 1)
    jobs = SimpleNamespace(get=None)
    bot = SimpleNamespace(
        services=SimpleNamespace(storyboards=board, jobs=jobs),
        get_partial_messageable=lambda channel_id, guild_id: board,
    )
    drawer = StoryboardDrawer(bot, Editor(), retry_delay=lambda attempt: 0.0)  # type: ignore[arg-type]

    def shot_added() -> None:  # a member changes the board while Discord refuses the edit
        board.stored = dataclasses.replace(board.stored, title="A walk in the rain")
        drawer.request(BOARD.id)

    board.during_edit[DRAW_ATTEMPTS] = shot_added
    drawer.request(BOARD.id)
    try:
        await asyncio.wait_for(board.shown.wait(), 5)
    finally:
        await drawer.close()
    assert len(board.edits) == DRAW_ATTEMPTS + 2  # the change started the tries again
    assert board.edits[-1].endswith("A walk in the rain")
