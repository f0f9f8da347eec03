"""Buttons that keep working after a restart: each custom id carries the job id (or page),
and each button's callback names the flow it runs. Errors go to the command tree's handler,
like a command's."""

from __future__ import annotations

import re
from typing import Any

import discord

from cogs.shared import report_to_tree

from . import components, flows

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


class CancelButton(_Routed, Button, template=components.CANCEL):
    def __init__(self, job_id: int) -> None:
        self.job_id = job_id
        super().__init__(components.cancel_button(job_id))

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str]
    ) -> CancelButton:
        return cls(int(match["job"]))

    async def run(self, interaction: discord.Interaction) -> None:
        await flows.cancel(interaction, self.job_id)


class RerollButton(_Routed, Button, template=components.REROLL):
    def __init__(self, job_id: int) -> None:
        self.job_id = job_id
        super().__init__(components.reroll_button(job_id))

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str]
    ) -> RerollButton:
        return cls(int(match["job"]))

    async def run(self, interaction: discord.Interaction) -> None:
        await flows.reroll(interaction, self.job_id)


class RemixButton(_Routed, Button, template=components.REMIX):
    def __init__(self, job_id: int) -> None:
        self.job_id = job_id
        super().__init__(components.remix_button(job_id))

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str]
    ) -> RemixButton:
        return cls(int(match["job"]))

    async def run(self, interaction: discord.Interaction) -> None:
        await flows.remix(interaction, self.job_id)


class HistoryPageButton(_Routed, Button, template=components.HISTORY):
    def __init__(self, user_id: int, page: int, direction: str) -> None:
        self.user_id = user_id
        self.page = page
        super().__init__(components.history_button(user_id, page, direction))

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str]
    ) -> HistoryPageButton:
        return cls(int(match["user"]), int(match["page"]), match["dir"])

    async def run(self, interaction: discord.Interaction) -> None:
        await flows.turn_history_page(interaction, self.user_id, self.page)


DYNAMIC_ITEMS = (CancelButton, RerollButton, RemixButton, HistoryPageButton)
