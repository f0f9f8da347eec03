"""The buttons on job messages as Discord sees them: custom ids and looks, no behaviour.

Each custom id carries what its callback needs (a job id, a page), so the buttons keep
working after a restart. `cogs.video.buttons` gives them behaviour; anything that only
sends them (the status and result messages) builds them here, so nothing that sends a
button needs to import what the button does.
"""

from __future__ import annotations

import discord

from bot.jobs.model import Job

CANCEL = r"video:cancel:(?P<job>\d+)"
REROLL = r"video:reroll:(?P<job>\d+)"
REMIX = r"video:remix:(?P<job>\d+)"
CONTINUE = r"video:continue:(?P<job>\d+)"
STITCH = r"video:stitch:(?P<job>\d+)"
DELETE = r"video:delete:(?P<job>\d+)"
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


def continue_button(job_id: int) -> discord.ui.Button[discord.ui.View]:
    return discord.ui.Button(
        label="Continue", emoji="⏩", style=discord.ButtonStyle.primary,
        custom_id=f"video:continue:{job_id}",
    )


def stitch_button(job_id: int) -> discord.ui.Button[discord.ui.View]:
    return discord.ui.Button(
        label="Stitch", emoji="🎞️", style=discord.ButtonStyle.secondary,
        custom_id=f"video:stitch:{job_id}",
    )


def delete_button(job_id: int) -> discord.ui.Button[discord.ui.View]:
    return discord.ui.Button(
        label="Delete", emoji="🗑️", style=discord.ButtonStyle.danger,
        custom_id=f"video:delete:{job_id}",
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


def result_view(job: Job) -> discord.ui.View:
    """What can be done with a result: anyone may re-roll, remix, continue or stitch it
    (the new job is theirs); only its requester and moderators may delete it."""
    view = discord.ui.View(timeout=None)
    if job.calls_provider:
        view.add_item(reroll_button(job.id))
        view.add_item(remix_button(job.id))
    if job.succeeded:
        view.add_item(continue_button(job.id))
        if job.calls_provider:
            view.add_item(stitch_button(job.id))
    view.add_item(delete_button(job.id))
    return view


def history_view(user_id: int, page: int, pages: int) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    view.add_item(history_button(user_id, max(page - 1, 0), "prev", disabled=page == 0))
    view.add_item(history_button(user_id, page + 1, "next", disabled=page >= pages - 1))
    return view
