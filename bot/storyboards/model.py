"""A storyboard and its shots, as the database keeps them."""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass

from bot.moderation.requester import Requester
from bot.params import MediaInput


class BoardState(enum.StrEnum):
    OPEN = "open"  # members add shots
    FILMING = "filming"  # the shots are being made, one after the other, then the film
    PAUSED = "paused"  # a shot (or the film) failed: its author retries or rewrites it
    FILMED = "filmed"  # the film is posted


class ShotState(enum.StrEnum):
    WAITING = "waiting"  # not filmed yet (nothing charged)
    FILMING = "filming"  # its job runs
    MADE = "made"  # its video is posted
    FAILED = "failed"  # its job failed, or was refused; ``failure`` says why


@dataclass(frozen=True)
class Member:
    """Who a shot (or the film) belongs to, as they were when they asked: the job is
    admitted later, as theirs, with the roles they had then."""

    user_id: int
    role_ids: tuple[int, ...] = ()
    can_manage_guild: bool = False

    @classmethod
    def of(cls, requester: Requester) -> Member:
        return cls(requester.user_id, tuple(sorted(requester.role_ids)), requester.can_manage_guild)

    def requester(self, guild_id: int, channel_id: int, parent_channel_id: int | None) -> Requester:
        return Requester(
            user_id=self.user_id,
            guild_id=guild_id,
            channel_id=channel_id,
            parent_channel_id=parent_channel_id,
            role_ids=frozenset(self.role_ids),
            can_manage_guild=self.can_manage_guild,
        )

    def to_json(self) -> str:
        return json.dumps(
            {"user_id": self.user_id, "role_ids": list(self.role_ids),
             "can_manage_guild": self.can_manage_guild}
        )  # fmt: skip

    @classmethod
    def from_json(cls, text: str) -> Member:
        data = json.loads(text)
        return cls(int(data["user_id"]), tuple(data["role_ids"]), bool(data["can_manage_guild"]))


@dataclass(frozen=True)
class Storyboard:
    id: int
    guild_id: int
    channel_id: int  # where the storyboard message and the film are posted
    message_id: int | None  # the storyboard message; its thread has the same id
    starter: Member
    title: str
    shot_count: int
    shot_seconds: int
    state: BoardState
    film_job_id: int | None
    failure: str | None  # why the film itself failed (the shots' are on the shots)
    created_at: float
    shown: str | None = None  # a digest of what its message last showed (None: not known)

    @property
    def thread_id(self) -> int | None:
        return self.message_id

    @property
    def seconds(self) -> int:
        return self.shot_count * self.shot_seconds


@dataclass(frozen=True)
class Shot:
    storyboard_id: int
    place: int  # 1, 2, ... in the film's order
    author: Member
    prompt: str
    image: MediaInput | None  # the first frame of shot 1; the last frame of a later shot
    state: ShotState
    job_id: int | None
    failure: str | None
    added_at: float

    @property
    def user_id(self) -> int:
        return self.author.user_id
