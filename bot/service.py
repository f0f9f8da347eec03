"""The use cases behind the commands and buttons, free of Discord.

The cog turns an interaction into a call here and the answer into a message; everything
that decides (validation, cost, limits, who may act on which job) happens here.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

from bot.job_actions import JobActionResult, JobActions
from bot.jobs import Job, NewJob
from bot.moderation import ModerationError, Requester
from bot.params import GenerationRequest, validate
from bot.quotas import AdmissionRefused, Quotas
from bot.settings import Settings
from bot.store import JobStore

log = logging.getLogger(__name__)

# A new job waits this long for its status message before the poller sends it anyway.
STATUS_MESSAGE_GRACE = 30.0
# Discord signs attachment links for about a day; older uploads can't be sent again.
ATTACHMENT_LINK_LIFETIME = 20 * 3600.0
JOB_REFERENCE = re.compile(r"#?(\d{1,19})")


class Refused(Exception):
    """A request the bot will not take, with sentences the member can act on.
    ``limit`` names the moderators' limit that refused it, if one did."""

    def __init__(self, *reasons: str, limit: str | None = None) -> None:
        self.reasons = list(reasons)
        self.limit = limit
        super().__init__(" ".join(reasons))

    @property
    def message(self) -> str:
        if len(self.reasons) == 1:
            return self.reasons[0]
        return "\n".join(f"• {reason}" for reason in self.reasons)


class VideoService:
    def __init__(
        self,
        store: JobStore,
        settings: Settings,
        quotas: Quotas,
        job_actions: JobActions,
        *,
        on_due: Callable[[], None] = lambda: None,
    ) -> None:
        self.store = store
        self.settings = settings
        self.quotas = quotas
        self.job_actions = job_actions
        self.on_due = on_due

    async def accept(
        self,
        requester: Requester,
        request: GenerationRequest,
        *,
        origin: str = "generate",
        parent_job_id: int | None = None,
    ) -> Job:
        """Validate, then store the job with its cost estimate; the server's limits are
        checked and reserved in the same transaction.

        Raises `Refused` with every problem (or the limit that was hit); nothing is stored then.
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
            parent_job_id=parent_job_id,
            origin=origin,
            first_step_after=STATUS_MESSAGE_GRACE,
        )
        try:
            job = await self.quotas.admit(
                requester, new, deadline_seconds=self.settings.job_deadline_seconds
            )
        except AdmissionRefused as refused:
            raise Refused(refused.refusal.message, limit=refused.refusal.limit) from None
        log.info("job %d accepted for user %d (%s)", job.id, requester.user_id, origin)
        return job

    async def status_message_posted(self, job: Job, message_id: int) -> None:
        """The public status message exists: record it and let the poller start."""
        await self.store.set_status_message(job.id, message_id)
        self.on_due()

    async def abandon(self, job: Job) -> None:
        """The member never saw the job (Discord refused our answer): forget it, unsent,
        which also gives its quota back."""
        if not await self.store.delete_unsent(job.id):
            log.warning("job %d: its status message failed but it was already sent", job.id)

    def rerun_request(self, job: Job, **changes: Any) -> GenerationRequest:
        """The request of ``job`` again (for a re-roll or remix), if its inputs still exist."""
        age = self.store.clock() - job.created_at
        if job.request.uploaded_media and age > ATTACHMENT_LINK_LIFETIME:
            raise Refused(
                "The files this video was made from were uploaded more than a day ago, and "
                "Discord's links to them have expired. Run `/video generate` again with them."
            )
        return job.request.with_changes(**changes)

    async def job_for(self, requester: Requester, reference: str) -> Job:
        """Look up a job by ``#id``, id, or provider request id, as a member may see it."""
        reference = reference.strip()
        job: Job | None = None
        number = JOB_REFERENCE.fullmatch(reference)
        if number and int(number[1]) < 2**63:
            job = await self.store.get(int(number[1]))
        if job is None and reference:
            job = await self.store.get_by_request_id(reference)
        if job is None or job.guild_id != requester.guild_id:
            raise Refused(
                f"I can't find a job called `{reference[:60]}` here. "
                "Pick one from the list, or run `/video history` to see yours."
            )
        return job

    async def cancel(self, requester: Requester, job_id: int) -> JobActionResult:
        """Stop following a job (the provider has no cancel call); the poller posts it.
        Members cancel their own jobs, moderators any in their server."""
        result = await self._job_action(self.job_actions.cancel_job, requester, job_id)
        self.on_due()
        return result

    async def delete(self, requester: Requester, job_id: int) -> JobActionResult:
        """Delete a finished job (what it used still counts); the caller removes its messages."""
        return await self._job_action(self.job_actions.delete_job, requester, job_id)

    @staticmethod
    async def _job_action(action, requester: Requester, job_id: int) -> JobActionResult:
        try:
            return await action(job_id, requester)
        except ModerationError as error:
            raise Refused(str(error)) from None
