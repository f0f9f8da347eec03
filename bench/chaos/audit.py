"""The bookkeeping of a chaos run: each column counted from what members were shown (the
emulator's channels and DMs), what the provider was asked (the simulator's requests) and
what the database says, never from the bot's own logs.

- **jobs**: commands the member was answered for: a public status message names the job.
  A member whose interaction failed (never answered) is owed nothing.
- **lost**: an owed job with no outcome posted (channel or DM), or missing from the database.
- **posted twice**: a job with more than one result message.
- **extra submits**: requests created upstream beyond one per owed job (a job nobody was
  shown should never reach the provider at all).
- **stale status**: a settled job whose status message does not show its final state, or
  still offers Cancel.
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

from bot.jobs.lifecycle import OUTCOME_LABELS, SETTLED_STATES, JobOutcome
from bot.jobs.model import Job
from cogs.video.components import CANCEL
from cogs.video.messages import job_title, result_marker, status_marker

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


@dataclass(frozen=True)
class Shown:
    """One of the bot's messages that names a job, as members see it."""

    job_id: int
    title: str
    description: str
    buttons: tuple[str, ...]  # custom ids
    in_dm: bool = False

    @property
    def offers_cancel(self) -> bool:
        return any(re.fullmatch(CANCEL, button) for button in self.buttons)

    @property
    def outcome(self) -> JobOutcome | None:
        """The outcome a result message announces (its title is "<icon> <label>")."""
        return LABEL_OUTCOMES.get(self.title.partition(" ")[2])


QUOTA_USED = re.compile(r"(\d+) of [\d.e+]+ (videos|seconds)")


def charge_shown(quota: str) -> Charge:
    """What ``/video quota``'s text says was used (-1 where it says nothing)."""
    used = {kind: int(number) for number, kind in QUOTA_USED.findall(quota)}
    return Charge(used.get("videos", -1), used.get("seconds", -1))


def shown(message: Any, footer: re.Pattern[str]) -> Shown | None:
    """``message`` (a fakecord message) if its first embed's footer names a job so."""
    if not message.embeds:
        return None
    embed = message.embeds[0]
    match = footer.match((embed.get("footer") or {}).get("text", ""))
    if match is None:
        return None
    buttons = tuple(b.get("custom_id", "") for b in message.buttons())
    in_dm = message.channel.guild is None
    return Shown(
        int(match[1]), embed.get("title", ""), embed.get("description", ""), buttons, in_dm
    )


@dataclass(frozen=True)
class Observed:
    """Everything the audit reads."""

    asked: Mapping[str, Asked]  # by prompt
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


def audit(seen: Observed) -> Audit:
    out = Audit()
    owed: dict[int, Asked] = {}
    for job_id, views in sorted(seen.status.items()):
        prompts = {v.description for v in views}
        asked = [seen.asked[p] for p in prompts if p in seen.asked]
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
                if status.title != job_title(job) or status.offers_cancel:
                    out.stale_status += 1
                    out.problems.append(
                        f"job #{job_id}: status shows {status.title!r}"
                        f"{' with Cancel' if status.offers_cancel else ''}, "
                        f"not {job_title(job)!r}"
                    )

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
