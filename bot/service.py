"""The use cases behind the commands and buttons, free of Discord.

The cog turns an interaction into a call here and the answer into a message; everything
that decides (validation, cost, limits, who may act on which job) happens here.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from bot.jobs import ACTIVE_STATES, Job, JobState, NewJob
from bot.params import GenerationRequest, validate
from bot.settings import Settings
from bot.store import Admission, JobStore

log = logging.getLogger(__name__)


class Refused(Exception):
    """A request the bot will not take, with sentences the member can act on."""

    def __init__(self, *reasons: str) -> None:
        self.reasons = list(reasons)
        super().__init__(" ".join(reasons))

    @property
    def message(self) -> str:
        if len(self.reasons) == 1:
            return self.reasons[0]
        return "\n".join(f"• {reason}" for reason in self.reasons)


@dataclass(frozen=True)
class Requester:
    """Who asks, where: the plain facts a decision about them needs."""

    user_id: int
    guild_id: int | None
    channel_id: int
    parent_channel_id: int | None = None  # for threads: the channel they hang from
    role_ids: tuple[int, ...] = ()
    can_manage_guild: bool = False


AdmissionFactory = Callable[[Requester], Admission | None]


class VideoService:
    def __init__(
        self,
        store: JobStore,
        settings: Settings,
        *,
        on_accepted: Callable[[], None] = lambda: None,
        admission_for: AdmissionFactory = lambda requester: None,
        is_moderator: Callable[[Requester], bool] = lambda r: r.can_manage_guild,
    ) -> None:
        self.store = store
        self.settings = settings
        self.on_accepted = on_accepted
        self.admission_for = admission_for
        self.is_moderator = is_moderator

    def estimate_cost(self, request: GenerationRequest) -> float:
        return self.settings.price_table.estimate(
            request.resolution, request.duration, bool(request.reference_videos)
        )

    async def accept(
        self,
        requester: Requester,
        request: GenerationRequest,
        *,
        origin: str = "generate",
        parent_job_id: int | None = None,
    ) -> Job:
        """Validate and store a new job (limits are reserved in the same transaction).

        Raises `Refused` with every problem; nothing is stored then.
        """
        problems = validate(request, prompt_max_chars=self.settings.prompt_max_chars)
        if problems:
            raise Refused(*problems)
        new = NewJob(
            guild_id=requester.guild_id,
            channel_id=requester.channel_id,
            user_id=requester.user_id,
            request=request,
            model=self.settings.seedance_model,
            estimated_cost=self.estimate_cost(request),
            parent_job_id=parent_job_id,
            origin=origin,
        )
        job = await self.store.accept(
            new,
            deadline_seconds=self.settings.job_deadline_seconds,
            admission=self.admission_for(requester),
        )
        log.info("job %d accepted for user %d (%s)", job.id, requester.user_id, origin)
        return job

    async def status_message_posted(self, job: Job, message_id: int) -> None:
        """The public status message exists: record it and let the poller start."""
        await self.store.set_status_message(job.id, message_id)
        self.on_accepted()

    async def abandon(self, job: Job) -> None:
        """The member never saw the job (Discord refused our answer): forget it, unsent."""
        await self.store.delete_unsent(job.id)

    async def job_for(self, requester: Requester, reference: str) -> Job:
        """Look up a job by ``#id``, id, or provider request id, as a member may see it."""
        reference = reference.strip()
        job: Job | None = None
        if reference.lstrip("#").isdigit():
            job = await self.store.get(int(reference.lstrip("#")))
        if job is None and reference:
            job = await self.store.get_by_request_id(reference)
        if job is None or job.guild_id != requester.guild_id:
            raise Refused(
                f"I can't find a job called `{reference[:60]}` here. "
                "Pick one from the list, or run `/video history` to see yours."
            )
        return job

    async def cancel(self, requester: Requester, job: Job) -> Job:
        """Stop following a job (the provider has no cancel call); the poller posts it."""
        if job.user_id != requester.user_id and not self.is_moderator(requester):
            raise Refused(
                "Only the member who asked for this video, or a moderator, can cancel it."
            )
        if job.state not in ACTIVE_STATES:
            raise Refused(f"This job is already {job.display_state.lower()}; nothing to cancel.")
        cancelled = await self.store.transition(
            job.id,
            from_states=ACTIVE_STATES,
            to_state=JobState.CANCELLED,
            error=f"Cancelled by <@{requester.user_id}>.",
            finished_at=self.store.clock(),
            next_check_at=self.store.clock(),
        )
        if cancelled is None:
            raise Refused("This job finished just now; nothing to cancel.")
        self.on_accepted()
        return cancelled
