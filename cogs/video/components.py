"""The buttons on job messages as Discord sees them: custom ids and looks, no behaviour.

Each custom id carries what its callback needs (a job id, a page), so the buttons keep
working after a restart. `cogs.video.buttons` gives them behaviour; anything that only
sends them (the status and result messages) builds them here, so nothing that sends a
button needs to import what the button does.
"""

from __future__ import annotations

import discord

CANCEL = r"video:cancel:(?P<job>\d+)"
REROLL = r"video:reroll:(?P<job>\d+)"
REMIX = r"video:remix:(?P<job>\d+)"
HISTORY = r"video:history:(?P<user>\d+):(?P<page>\d+):(?P<dir>prev|next)"


def cancel_button(job_id: int) -> discord.ui.Button[discord.ui.View]:
    return discord.ui.Button(
        label="Cancel", emoji="🛑", style=discord.ButtonStyle.secondary,
        custom_id=f"video:cancel:{job_id}",
    )


def reroll_button(job_id: int) -> discord.ui.Button[discord.ui.View]:
    return discord.ui.Button(
        label="Re-roll", emoji="🎲", style=discord.ButtonStyle.primary,
        custom_id=f"video:reroll:{job_id}",
    )


def remix_button(job_id: int) -> discord.ui.Button[discord.ui.View]:
    return discord.ui.Button(
        label="Remix", emoji="✏️", style=discord.ButtonStyle.secondary,
        custom_id=f"video:remix:{job_id}",
    )


def history_button(
    user_id: int, page: int, direction: str, *, disabled: bool = False
) -> discord.ui.Button[discord.ui.View]:
    return discord.ui.Button(
        label="Newer" if direction == "prev" else "Older",
        emoji="◀️" if direction == "prev" else "▶️",
        style=discord.ButtonStyle.secondary,
        custom_id=f"video:history:{user_id}:{page}:{direction}",
        disabled=disabled,
    )


def status_view(job_id: int) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    view.add_item(cancel_button(job_id))
    return view


def result_view(job_id: int) -> discord.ui.View:
    """Anyone may re-roll or remix a posted result; the new job is theirs."""
    view = discord.ui.View(timeout=None)
    view.add_item(reroll_button(job_id))
    view.add_item(remix_button(job_id))
    return view


def history_view(user_id: int, page: int, pages: int) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    view.add_item(history_button(user_id, max(page - 1, 0), "prev", disabled=page == 0))
    view.add_item(history_button(user_id, page + 1, "next", disabled=page >= pages - 1))
    return view
