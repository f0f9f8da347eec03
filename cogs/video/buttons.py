"""Buttons that keep working after a restart: each custom id carries the job id (or the
page, or the storyboard and shot), and each button's `run` names the flow it runs. Errors
go to the command tree's handler, like a command's."""

from __future__ import annotations

import re
from typing import Any, Self

import discord

from cogs.shared import report_to_tree

from . import challenges, components, flows, reviews, together
from .components import BoardAction, JobAction, ShotAction

Button = discord.ui.DynamicItem[discord.ui.Button[Any]]


class _Routed:
    """Mixed into each persistent button: its failures are told to the member by the
    tree's handler (discord.py would only log them). Subclasses define `run`."""

    async def callback(self, interaction: discord.Interaction) -> None:
        try:
            await self.run(interaction)
        except Exception as error:
            await report_to_tree(interaction, error)

    async def run(self, interaction: discord.Interaction) -> None:
        raise NotImplementedError


class _OnJob(_Routed):
    """Mixed into each button that acts on one job: its custom id carries the job's id."""

    action: JobAction

    def __init__(self, job_id: int) -> None:
        self.job_id = job_id
        super().__init__(components.job_button(self.action, job_id))  # type: ignore[call-arg]

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction,
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> Self:
        return cls(int(match["job"]))


class CancelButton(_OnJob, Button, template=JobAction.CANCEL.template):
    action = JobAction.CANCEL

    async def run(self, interaction: discord.Interaction) -> None:
        await flows.cancel(interaction, self.job_id)


class RerollButton(_OnJob, Button, template=JobAction.REROLL.template):
    action = JobAction.REROLL

    async def run(self, interaction: discord.Interaction) -> None:
        await flows.reroll(interaction, self.job_id)


class RemixButton(_OnJob, Button, template=JobAction.REMIX.template):
    action = JobAction.REMIX

    async def run(self, interaction: discord.Interaction) -> None:
        await flows.remix(interaction, self.job_id)


class ContinueButton(_OnJob, Button, template=JobAction.CONTINUE.template):
    action = JobAction.CONTINUE

    async def run(self, interaction: discord.Interaction) -> None:
        await flows.continue_video(interaction, self.job_id)


class StitchButton(_OnJob, Button, template=JobAction.STITCH.template):
    action = JobAction.STITCH

    async def run(self, interaction: discord.Interaction) -> None:
        await flows.stitch_chain(interaction, self.job_id)


class DeleteButton(_OnJob, Button, template=JobAction.DELETE.template):
    action = JobAction.DELETE

    async def run(self, interaction: discord.Interaction) -> None:
        await flows.delete(interaction, self.job_id)


class EnterChallengeButton(_OnJob, Button, template=JobAction.ENTER.template):
    action = JobAction.ENTER

    async def run(self, interaction: discord.Interaction) -> None:
        await challenges.enter(interaction, self.job_id)


class VoteButton(_Routed, Button, template=components.VOTE):
    def __init__(self, entry_id: int) -> None:
        self.entry_id = entry_id
        super().__init__(components.vote_button(entry_id, None, closed=False))

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str]
    ) -> VoteButton:
        return cls(int(match["entry"]))

    async def run(self, interaction: discord.Interaction) -> None:
        await challenges.vote(interaction, self.entry_id)


class PageButton(_Routed, Button, template=components.PAGES):
    def __init__(self, listing: components.Listing, user_id: int, page: int, direction: str) -> None:
        self.listing = listing
        self.user_id = user_id
        self.page = page
        super().__init__(components.page_button(listing, user_id, page, direction))

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str]
    ) -> PageButton:
        return cls(
            components.Listing(match["listing"]), int(match["user"]), int(match["page"]), match["dir"]
        )

    async def run(self, interaction: discord.Interaction) -> None:
        await flows.turn_page(interaction, self.listing, self.user_id, self.page)


class PreviewButton(_Routed, Button, template=components.PREVIEW):
    """Confirm or Cancel on a job's preview: the custom id carries the preview's id."""

    def __init__(self, preview_id: int, choice: str) -> None:
        self.preview_id = preview_id
        self.choice = choice
        super().__init__(components.preview_button(preview_id, choice))

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str]
    ) -> PreviewButton:
        return cls(int(match["preview"]), match["choice"])

    async def run(self, interaction: discord.Interaction) -> None:
        if self.choice == "confirm":
            await flows.confirm_preview(interaction, self.preview_id)
        else:
            await flows.cancel_preview(interaction, self.preview_id)


class ReviewButton(_Routed, Button, template=components.REVIEW):
    """Approve or Deny on a review message: moderators only (checked by the flow)."""

    def __init__(self, decision: str, job_id: int) -> None:
        self.decision = decision
        self.job_id = job_id
        super().__init__(components.review_button(decision, job_id))

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str]
    ) -> ReviewButton:
        return cls(match["decision"], int(match["job"]))

    async def run(self, interaction: discord.Interaction) -> None:
        if self.decision == "approve":
            await reviews.approve(interaction, self.job_id)
        else:
            await reviews.deny(interaction, self.job_id)


class _OnBoard(_Routed):
    """Mixed into each storyboard button: its custom id carries the storyboard's id."""

    action: BoardAction

    def __init__(self, board_id: int) -> None:
        self.board_id = board_id
        super().__init__(components.board_button(self.action, board_id))  # type: ignore[call-arg]

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> Self:
        return cls(int(match["board"]))


class AddShotButton(_OnBoard, Button, template=BoardAction.ADD_SHOT.template):
    action = BoardAction.ADD_SHOT

    async def run(self, interaction: discord.Interaction) -> None:
        await together.add_shot(interaction, self.board_id)


class FilmButton(_OnBoard, Button, template=BoardAction.FILM.template):
    action = BoardAction.FILM

    async def run(self, interaction: discord.Interaction) -> None:
        await together.film(interaction, self.board_id)


class _OnShot(_Routed):
    """Mixed into each button on a failed shot: its custom id carries the storyboard's id
    and the shot's place."""

    action: ShotAction

    def __init__(self, board_id: int, place: int) -> None:
        self.board_id = board_id
        self.place = place
        super().__init__(components.shot_button(self.action, board_id, place))  # type: ignore[call-arg]

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> Self:
        return cls(int(match["board"]), int(match["place"]))


class RetryShotButton(_OnShot, Button, template=ShotAction.RETRY.template):
    action = ShotAction.RETRY

    async def run(self, interaction: discord.Interaction) -> None:
        await together.retry_shot(interaction, self.board_id, self.place)


class RewriteShotButton(_OnShot, Button, template=ShotAction.REWRITE.template):
    action = ShotAction.REWRITE

    async def run(self, interaction: discord.Interaction) -> None:
        await together.rewrite_shot(interaction, self.board_id, self.place)


DYNAMIC_ITEMS = (
    CancelButton,
    RerollButton,
    RemixButton,
    ContinueButton,
    StitchButton,
    DeleteButton,
    EnterChallengeButton,
    VoteButton,
    PageButton,
    PreviewButton,
    ReviewButton,
    AddShotButton,
    FilmButton,
    RetryShotButton,
    RewriteShotButton,
)
