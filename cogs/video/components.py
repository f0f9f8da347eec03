"""The buttons on job messages as Discord sees them: custom ids and looks, no behaviour.

Each custom id carries what its callback needs (a job id, a page), so the buttons keep
working after a restart. `cogs.video.buttons` gives them behaviour; anything that only
sends them (the status and result messages) builds them here, so nothing that sends a
button needs to import what the button does.
"""

from __future__ import annotations

import enum

import discord

from bot.jobs.model import Job
from bot.storyboards.model import BoardState, Shot, Storyboard

PREVIEW = r"video:preview:(?P<preview>\d+):(?P<choice>confirm|cancel)"
REVIEW = r"review:(?P<decision>approve|deny):(?P<job>\d+)"
VOTE = r"video:vote:(?P<entry>\d+)"
PAGES = r"video:(?P<listing>history|queue):(?P<user>\d+):(?P<page>\d+):(?P<dir>prev|next)"


class Listing(enum.StrEnum):
    """A private list a member pages through; its buttons are ``video:<listing>:...``."""

    HISTORY = "history"  # /video history: newest first
    QUEUE = "queue"  # /video queue: the next job first


# The labels of the previous and next page's buttons.
_PAGE_LABELS = {Listing.HISTORY: ("Newer", "Older"), Listing.QUEUE: ("Ahead", "Behind")}


class JobAction(enum.StrEnum):
    """What a button on a job's message does; its custom id is ``video:<action>:<job id>``."""

    CANCEL = "cancel"
    REROLL = "reroll"
    REMIX = "remix"
    CONTINUE = "continue"
    STITCH = "stitch"
    DELETE = "delete"
    ENTER = "enter"  # in the server's open challenge

    @property
    def template(self) -> str:
        return rf"video:{self.value}:(?P<job>\d+)"


class BoardAction(enum.StrEnum):
    """A button of a storyboard (`/video together`): ``video:board:<action>:<id>``."""

    ADD_SHOT = "add"
    FILM = "film"

    @property
    def template(self) -> str:
        return rf"video:board:{self.value}:(?P<board>\d+)"


class ShotAction(enum.StrEnum):
    """A button on a failed shot: ``video:shot:<action>:<storyboard id>:<place>``."""

    RETRY = "retry"
    REWRITE = "rewrite"

    @property
    def template(self) -> str:
        return rf"video:shot:{self.value}:(?P<board>\d+):(?P<place>\d+)"


_LOOKS: dict[JobAction | BoardAction | ShotAction, tuple[str, str, discord.ButtonStyle]] = {
    JobAction.CANCEL: ("Cancel", "🛑", discord.ButtonStyle.secondary),
    JobAction.REROLL: ("Re-roll", "🎲", discord.ButtonStyle.primary),
    JobAction.REMIX: ("Remix", "✏️", discord.ButtonStyle.secondary),
    JobAction.CONTINUE: ("Continue", "⏩", discord.ButtonStyle.primary),
    JobAction.STITCH: ("Stitch", "🎞️", discord.ButtonStyle.secondary),
    JobAction.DELETE: ("Delete", "🗑️", discord.ButtonStyle.danger),
    JobAction.ENTER: ("Enter challenge", "🏆", discord.ButtonStyle.success),
    BoardAction.ADD_SHOT: ("Add shot", "➕", discord.ButtonStyle.primary),
    BoardAction.FILM: ("Film it", "🎬", discord.ButtonStyle.success),
    ShotAction.RETRY: ("Retry", "🔁", discord.ButtonStyle.primary),
    ShotAction.REWRITE: ("Rewrite", "✏️", discord.ButtonStyle.secondary),
}


def _button(
    action: JobAction | BoardAction | ShotAction, custom_id: str, *, label_suffix: str = ""
) -> discord.ui.Button[discord.ui.View]:
    label, emoji, style = _LOOKS[action]
    return discord.ui.Button(label=label + label_suffix, emoji=emoji, style=style, custom_id=custom_id)


def job_button(action: JobAction, job_id: int) -> discord.ui.Button[discord.ui.View]:
    return _button(action, f"video:{action.value}:{job_id}")


def page_button(
    listing: Listing, user_id: int, page: int, direction: str, *, disabled: bool = False
) -> discord.ui.Button[discord.ui.View]:
    previous, following = _PAGE_LABELS[listing]
    return discord.ui.Button(
        label=previous if direction == "prev" else following,
        emoji="◀️" if direction == "prev" else "▶️",
        style=discord.ButtonStyle.secondary,
        custom_id=f"video:{listing.value}:{user_id}:{page}:{direction}",
        disabled=disabled,
    )


def _view(job_id: int, actions: list[JobAction]) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    for action in actions:
        view.add_item(job_button(action, job_id))
    return view


def status_view(job_id: int) -> discord.ui.View:
    return _view(job_id, [JobAction.CANCEL])


def result_view(job: Job, *, challenge_open: bool = False) -> discord.ui.View:
    """What can be done with a result: anyone may re-roll, remix, continue or stitch it
    (the new job is theirs); only its requester and moderators may delete it, and only
    its requester may enter it in the server's open challenge. A request the provider
    refused offers no re-roll: only a changed prompt can get through."""
    actions = [JobAction.REROLL, JobAction.REMIX] if job.calls_provider else []
    if job.refused_by_provider:
        actions.remove(JobAction.REROLL)
    if job.succeeded:
        actions.append(JobAction.CONTINUE)
        if job.calls_provider:
            actions.append(JobAction.STITCH)
        if challenge_open:
            actions.append(JobAction.ENTER)
    actions.append(JobAction.DELETE)
    return _view(job.id, actions)


def preview_button(preview_id: int, choice: str) -> discord.ui.Button[discord.ui.View]:
    """Confirm or Cancel on a job's preview (`bot.jobs.previews`)."""
    confirm = choice == "confirm"
    return discord.ui.Button(
        label="Confirm" if confirm else "Cancel",
        emoji="✅" if confirm else "✖️",
        style=discord.ButtonStyle.success if confirm else discord.ButtonStyle.secondary,
        custom_id=f"video:preview:{preview_id}:{choice}",
    )


def preview_view(preview_id: int) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    view.add_item(preview_button(preview_id, "confirm"))
    view.add_item(preview_button(preview_id, "cancel"))
    return view


def vote_button(entry_id: int, votes: int | None, *, closed: bool) -> discord.ui.Button[discord.ui.View]:
    """The Vote button of a challenge entry; ``votes`` shows the count (when the
    moderators chose to show it, and after the close)."""
    return discord.ui.Button(
        label="Vote" if votes is None else f"Vote · {votes}",
        emoji="🗳️",
        style=discord.ButtonStyle.secondary if closed else discord.ButtonStyle.primary,
        custom_id=f"video:vote:{entry_id}",
        disabled=closed,
    )


def vote_view(entry_id: int, votes: int | None, *, closed: bool) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    view.add_item(vote_button(entry_id, votes, closed=closed))
    return view


def page_view(listing: Listing, user_id: int, page: int, pages: int) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    view.add_item(page_button(listing, user_id, max(page - 1, 0), "prev", disabled=page == 0))
    view.add_item(page_button(listing, user_id, page + 1, "next", disabled=page >= pages - 1))
    return view


_REVIEW_LOOKS = {
    "approve": ("Approve", "✅", discord.ButtonStyle.success),
    "deny": ("Deny", "⛔", discord.ButtonStyle.danger),
}


def review_button(
    decision: str, job_id: int, *, disabled: bool = False
) -> discord.ui.Button[discord.ui.View]:
    """Approve or Deny on a job's review message (``review:<decision>:<job id>``)."""
    label, emoji, style = _REVIEW_LOOKS[decision]
    return discord.ui.Button(
        label=label,
        emoji=emoji,
        style=style,
        custom_id=f"review:{decision}:{job_id}",
        disabled=disabled,
    )


def review_view(job_id: int, *, disabled: bool = False) -> discord.ui.View:
    """Both buttons; disabled once the review is decided."""
    view = discord.ui.View(timeout=None)
    for decision in _REVIEW_LOOKS:
        view.add_item(review_button(decision, job_id, disabled=disabled))
    return view


def board_button(action: BoardAction, board_id: int) -> discord.ui.Button[discord.ui.View]:
    return _button(action, f"video:board:{action.value}:{board_id}")


def shot_button(action: ShotAction, board_id: int, place: int) -> discord.ui.Button[discord.ui.View]:
    return _button(
        action, f"video:shot:{action.value}:{board_id}:{place}", label_suffix=f" shot {place}"
    )


def storyboard_view(board: Storyboard, failed: Shot | None) -> discord.ui.View | None:
    """Open: add a shot, or film it. Paused at a shot: retry or rewrite it (its author);
    paused at the film: film it again. Filming or filmed: nothing to press."""
    view = discord.ui.View(timeout=None)
    if board.state is BoardState.OPEN:
        view.add_item(board_button(BoardAction.ADD_SHOT, board.id))
        view.add_item(board_button(BoardAction.FILM, board.id))
    elif board.state is BoardState.PAUSED and failed is not None:
        view.add_item(shot_button(ShotAction.RETRY, board.id, failed.place))
        view.add_item(shot_button(ShotAction.REWRITE, board.id, failed.place))
    elif board.state is BoardState.PAUSED:
        view.add_item(board_button(BoardAction.FILM, board.id))
    else:
        return None
    return view
