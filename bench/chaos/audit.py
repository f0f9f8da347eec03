"""The bookkeeping of a chaos run: each column counted from what members were shown (the
emulator's channels and DMs), what the provider was asked (the simulator's requests) and
what the database says, never from the bot's own logs.

- **jobs**: commands the member was answered for: the public answer to their command (its
  status message) names the job. A member whose interaction failed (never answered) is
  owed nothing.
- **lost**: an owed job with no outcome posted (channel or DM), or missing from the database.
- **posted twice**: a job with more than one result message.
- **extra submits**: requests created upstream beyond one per owed job (a job nobody was
  shown should never reach the provider at all).
- **stale status**: a settled job whose status message does not show how it ended: once the
  result is posted, the status message is one line of text and nothing else (no embed, no
  buttons, no attachment) saying the job's outcome, by whom, and where the result is (a
  link to the result posted in the channel, none when it went by DM); an undeliverable job
  keeps its embed, showing that, without Cancel.
- **quota wrong**: a member whose usage, as ``/video quota`` reports it, is not what the
  posted outcomes say: each job posted as done counts once with its seconds, every other
  outcome is refunded (`bot.db.jobs.ledger`), and an unanswered command counts nothing.

Anything else that should never happen (a result for a job nobody was shown, a result
that contradicts the database) is listed among the problems, which must be empty too.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from bot.jobs.lifecycle import OUTCOME_LABELS, SETTLED_STATES, JobOutcome, JobState
from bot.jobs.model import Job
from cogs.video.components import JobAction
from cogs.video.messages import (
    FILM_ICON,
    ICONS,
    STATUS_VERBS,
    job_title,
    message_link,
    result_marker,
    status_marker,
)

# The table's columns (name, heading); all but the first two count failures (target: 0).
COLUMNS = (
    ("jobs", "jobs"),
    ("kills", "kills"),
    ("lost", "lost"),
    ("posted_twice", "posted twice"),
    ("extra_submits", "extra provider submits"),
    ("stale_status", "status messages left stale"),
    ("quota_wrong", "quota left wrongly charged"),
)
FAILURES = tuple(name for name, _ in COLUMNS[2:])
LABEL_OUTCOMES = {label: outcome for outcome, label in OUTCOME_LABELS.items()}


def footer_pattern(marker: Callable[[int], str]) -> re.Pattern[str]:
    """A footer that ``marker`` starts, whatever the job id (``Job #1`` never matches
    ``Job #12``: the id ends the footer or is followed by its `` · `` separator)."""
    head, _, tail = marker(0).rpartition("0")
    return re.compile(re.escape(head) + r"(\d+)" + re.escape(tail) + r"(?: ·|$)")


STATUS_FOOTER = footer_pattern(status_marker)
RESULT_FOOTER = footer_pattern(result_marker)
# A settled job's status message: "✅ **#1** by <@11> is ready: <link to the result>".
STATUS_LINE = re.compile(r"(?P<icon>\S+) \*\*#(?P<job>\d+)\*\* by <@(?P<user>\d+)> (?P<says>.+)", re.S)
# A result's embed title: "✅ #1 · Done".
RESULT_TITLE = re.compile(r"(?P<icon>\S+) #(?P<job>\d+) · (?P<label>.+)")
CANCEL = JobAction.CANCEL.template
LINK = re.compile(r"https://discord\.com/channels/(?:\d+|@me)/\d+/\d+")


class Charge(NamedTuple):
    """What counts against a member's quota."""

    videos: int
    seconds: int


@dataclass(frozen=True)
class Asked:
    """One command a member sent, as the harness sent it."""

    prompt: str
    member_id: int
    duration: int
    interaction: int  # its id: the bot's answer to it is the job's status message


@dataclass(frozen=True)
class Shown:
    """One of the bot's messages that names a job, as members see it."""

    job_id: int
    title: str = ""  # its first embed's ("" without one)
    description: str = ""
    buttons: tuple[str, ...] = ()  # custom ids
    in_dm: bool = False
    content: str = ""
    embeds: int = 0
    attachments: int = 0
    link: str = ""  # to the message itself
    answers: int | None = None  # the id of the interaction it answered, if any

    @property
    def offers_cancel(self) -> bool:
        return any(re.fullmatch(CANCEL, button) for button in self.buttons)

    @property
    def outcome(self) -> JobOutcome | None:
        """The outcome a result message announces (its title is "<icon> #<job> · <label>",
        the icon and the label both the outcome's; a film's success has its own)."""
        title = RESULT_TITLE.fullmatch(self.title)
        if title is None or int(title["job"]) != self.job_id:
            return None
        if title["icon"] == FILM_ICON:
            return JobOutcome.SUCCEEDED
        outcome = LABEL_OUTCOMES.get(title["label"])
        return outcome if outcome is not None and ICONS[outcome] == title["icon"] else None


QUOTA_USED = re.compile(r"(\d+) of [\d.e+]+ (video|second)s?\b")


def charge_shown(quota: str) -> Charge:
    """What ``/video quota``'s text says was used (-1 where it says nothing)."""
    used = {kind: int(number) for number, kind in QUOTA_USED.findall(quota)}
    return Charge(used.get("video", -1), used.get("second", -1))


def named_job(message: Any, footer: re.Pattern[str]) -> int | None:
    """The job ``message`` is about: its first embed's footer names it so, or (a status
    message, ``footer`` being `STATUS_FOOTER`) its one line does, having no embed."""
    if message.embeds:
        match = footer.match((message.embeds[0].get("footer") or {}).get("text", ""))
        return None if match is None else int(match[1])
    line = STATUS_LINE.fullmatch(message.content or "") if footer is STATUS_FOOTER else None
    return None if line is None else int(line["job"])


def shown(message: Any, footer: re.Pattern[str]) -> Shown | None:
    """``message`` (a fakecord message) as members see it, if it names a job (`named_job`)."""
    job_id = named_job(message, footer)
    if job_id is None:
        return None
    embed = message.embeds[0] if message.embeds else {}
    guild = message.channel.guild
    return Shown(
        job_id,
        title=embed.get("title", ""),
        description=embed.get("description", ""),
        buttons=tuple(b.get("custom_id", "") for b in message.buttons()),
        in_dm=guild is None,
        content=message.content or "",
        embeds=len(message.embeds),
        attachments=len(message.attachments),
        link=message_link(guild.id if guild else None, message.channel.id, message.id),
        answers=message.interaction.id if message.interaction is not None else None,
    )


@dataclass(frozen=True)
class Observed:
    """Everything the audit reads."""

    asked: Mapping[str, Asked]  # by prompt (each prompt is sent once)
    status: Mapping[int, list[Shown]]  # job id -> its status messages
    results: Mapping[int, list[Shown]]  # job id -> its result messages
    submits: Counter[str]  # prompt -> requests created upstream
    jobs: Mapping[int, Job]  # the database
    usage: Mapping[int, Charge]  # member id -> as /video quota reports it


@dataclass
class Audit:
    jobs: int = 0
    lost: int = 0
    posted_twice: int = 0
    extra_submits: int = 0
    stale_status: int = 0
    quota_wrong: int = 0
    problems: list[str] = field(default_factory=list)
    outcomes: Counter[str] = field(default_factory=Counter)  # posted outcomes, for the report
    by_dm: int = 0  # results posted in the requester's DMs (the channel refused them)


def group(messages: Iterable[Any], footer: re.Pattern[str]) -> dict[int, list[Shown]]:
    """The messages naming a job by ``footer``, by job id."""
    found: dict[int, list[Shown]] = {}
    for message in messages:
        view = shown(message, footer)
        if view is not None:
            found.setdefault(view.job_id, []).append(view)
    return found


def looks(status: Shown) -> str:
    """A status message's look, in a few words, for the problems."""
    parts = [repr(status.content)] if status.content else []
    if status.embeds:
        parts.append(f"an embed {status.title!r}")
    if status.buttons:
        parts.append("Cancel" if status.offers_cancel else f"buttons {list(status.buttons)}")
    if status.attachments:
        parts.append(f"{status.attachments} attachment(s)")
    return " with ".join(parts) or "nothing"


def stale(status: Shown, job: Job, asked: Asked, results: list[Shown]) -> str | None:
    """What is wrong with the look of settled ``job``'s status message (None: it shows
    how the job ended), read from the message against the database and the results."""
    if job.state is not JobState.DELIVERED:  # nothing to point at: the embed stays
        if status.title == job_title(job) and not status.offers_cancel:
            return None
        return f"shows {looks(status)}, not {job_title(job)!r} without Cancel"
    if status.embeds or status.buttons or status.attachments:
        return f"shows {looks(status)}, not one line"
    line = STATUS_LINE.fullmatch(status.content)
    if line is None:
        return f"shows {looks(status)}, not its final line"
    assert job.outcome is not None, "a delivered job has an outcome"
    icon = FILM_ICON if not job.calls_provider and job.succeeded else ICONS[job.outcome]
    verb = STATUS_VERBS[job.outcome]
    if (line["icon"], int(line["job"]), int(line["user"])) != (icon, job.id, asked.member_id):
        return f"says {status.content!r}, not {icon} #{job.id} by <@{asked.member_id}>"
    if not line["says"].startswith(verb):
        return f"says {status.content!r}, not that it {verb}"
    # Where the result is (a job with none posted is counted lost, not here).
    links = set(LINK.findall(line["says"]))
    posted = {r.link for r in results if not r.in_dm}
    if posted and not links & posted:
        return f"says {status.content!r}, linking to no result posted ({sorted(posted)})"
    if results and not posted and links:
        return f"says {status.content!r}, but the result went by DM"
    return None


def audit(seen: Observed) -> Audit:
    out = Audit()
    owed: dict[int, Asked] = {}
    by_interaction = {asked.interaction: asked for asked in seen.asked.values()}
    for job_id, views in sorted(seen.status.items()):
        answered = {v.answers for v in views}
        asked = [by_interaction[i] for i in answered if i in by_interaction]
        if len(asked) != 1:
            out.problems.append(f"job #{job_id}: its status message names no command sent")
            continue
        owed[job_id] = asked[0]
    out.jobs = len(owed)

    for job_id in sorted(set(seen.results) - set(owed)):
        out.problems.append(f"job #{job_id}: a result was posted, but nobody was shown the job")

    expected: Counter[int] = Counter()
    seconds: Counter[int] = Counter()
    for job_id, asked in sorted(owed.items()):
        results = seen.results.get(job_id, [])
        job = seen.jobs.get(job_id)
        if not results or job is None:
            out.lost += 1
            why = "missing from the database" if job is None else f"{job.state}, not posted"
            out.problems.append(f"job #{job_id}: lost ({why})")
        if len(results) > 1:
            out.posted_twice += 1
            out.problems.append(f"job #{job_id}: {len(results)} result messages")
        posted = {r.outcome for r in results}
        out.by_dm += sum(r.in_dm for r in results)
        out.outcomes.update(o.value if o else "unreadable" for o in posted)
        if JobOutcome.SUCCEEDED in posted:
            expected[asked.member_id] += 1
            seconds[asked.member_id] += asked.duration
        if job is not None and results and job.outcome not in posted:
            out.problems.append(
                f"job #{job_id}: posted as {sorted(map(str, posted))}, stored as {job.outcome}"
            )
        if job is not None and job.state in SETTLED_STATES:
            for status in seen.status[job_id]:
                wrong = stale(status, job, asked, results)
                if wrong is not None:
                    out.stale_status += 1
                    out.problems.append(f"job #{job_id}: its status message {wrong}")

    owed_prompts = {asked.prompt for asked in owed.values()}
    for prompt, count in sorted(seen.submits.items()):
        extra = count - (1 if prompt in owed_prompts else 0)
        if extra > 0:
            out.extra_submits += extra
            out.problems.append(f"{prompt!r}: {count} requests created upstream")

    members = {asked.member_id for asked in seen.asked.values()}
    for member_id in sorted(members):
        want = Charge(expected[member_id], seconds[member_id])
        got = seen.usage.get(member_id)
        if got != want:
            out.quota_wrong += 1
            out.problems.append(f"member {member_id}: charged {got}, should be {want}")
    return out
