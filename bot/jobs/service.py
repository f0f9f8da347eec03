"""The use cases behind the commands and buttons, free of Discord: accept a job, continue
one, stitch several, look one up, re-run one, cancel one, delete one.

The cog turns an interaction into a call here and the answer into a message; everything
that decides (validation, cost, limits, who may act on which job) happens here. Members act
on their own jobs; moderators on any job in their server.
"""

from __future__ import annotations

import json
import logging
import random
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from bot.clock import Clock
from bot.db.audit import AuditEntry
from bot.db.database import Database
from bot.db.jobs import Claim, JobRepository
from bot.errors import Conflict, NotFound, PermissionDenied, Refused
from bot.jobs.lifecycle import ACTIVE_STATES, JobOutcome, JobState
from bot.jobs.lineage import Lineages
from bot.jobs.model import (
    STATUS_MESSAGE_GRACE,
    Credit,
    Job,
    JobDraft,
    JobOrigin,
    NewJob,
    ReviewReason,
)
from bot.model_offer import DOCUMENTED, SEED_RANGE, ModelOffer
from bot.moderation.audit import AuditAction, AuditLog, user_target
from bot.moderation.requester import Moderators, Requester
from bot.params import GenerationRequest, MediaInput, validate
from bot.quotas.admission import Admission

log = logging.getLogger(__name__)

# Discord signs attachment links for about a day; older uploads can't be sent again.
ATTACHMENT_LINK_LIFETIME = 20 * 3600.0
# A stitch joins at most this many clips, this long together: a film members make by hand,
# and a bound on what one join downloads and encodes.
MAX_STITCH_CLIPS = 8
MAX_STITCH_SECONDS = 120
_JOB_NUMBER = re.compile(r"#?(\d{1,19})")
_MESSAGE_LINK = re.compile(r"https?://(?:\w+\.)?discord(?:app)?\.com/channels/(\d+)/(\d+)/(\d+)")


@dataclass(frozen=True)
class JobActionResult:
    job: Job  # the job after cancelling, or as it was before deletion
    audit: AuditEntry | None  # set when a moderator acted on someone else's job


class JobService:
    def __init__(
        self,
        *,
        db: Database,
        jobs: JobRepository,
        admission: Admission,
        moderators: Moderators,
        audit: AuditLog,
        model: str,
        prompt_max_chars: int,
        deadline_seconds: float,
        clock: Clock,
        lineages: Lineages,
        on_due: Callable[[], None] = lambda: None,
        offer: Callable[[], ModelOffer] = lambda: DOCUMENTED,
        pick_seed: Callable[[], int] = lambda: random.randint(*SEED_RANGE),
    ) -> None:
        self.db = db
        self.jobs = jobs
        self.admission = admission
        self.moderators = moderators
        self.audit = audit
        self.model = model
        self.prompt_max_chars = prompt_max_chars
        self.deadline_seconds = deadline_seconds
        self.clock = clock
        self.lineages = lineages
        self.on_due = on_due
        self.offer = offer
        self.pick_seed = pick_seed

    # -- starting a job ----------------------------------------------------------------

    async def accept(
        self,
        requester: Requester,
        request: GenerationRequest,
        *,
        origin: JobOrigin = JobOrigin.GENERATE,
        parent_job_id: int | None = None,
        first_frame_from: int | None = None,
        source_user_id: int | None = None,
        source_message_id: int | None = None,
        interaction_token: str | None = None,
        claim: Claim | None = None,
    ) -> Job:
        """Validate, then store the job with its cost estimate; the server's limits are
        checked and reserved in the same transaction (with ``claim``, if given: a preview
        the member confirmed). A request without a seed gets one picked here, so the
        result shows it and can be made again.

        ``first_frame_from`` makes it a continuation of that job (see `continue_video`);
        ``source_user_id``/``source_message_id`` credit whose message the inputs came from.
        Raises `Refused` with every problem (or the limit that was hit); nothing is stored then.
        """
        self.check_request(request, continues=first_frame_from is not None)
        if request.seed is None:
            request = request.with_changes(seed=self.pick_seed())
        return await self._admit(
            requester,
            request,
            claim=claim,
            origin=origin,
            parent_job_id=parent_job_id,
            first_frame_from=first_frame_from,
            source_user_id=source_user_id,
            source_message_id=source_message_id,
            interaction_token=interaction_token,
        )

    async def accept_draft(
        self,
        requester: Requester,
        draft: JobDraft,
        *,
        interaction_token: str | None = None,
        claim: Claim | None = None,
    ) -> Job:
        """`accept` what a member asked for (a command, a button, a confirmed preview)."""
        return await self.accept(
            requester,
            draft.request,
            origin=draft.origin,
            parent_job_id=draft.parent_job_id,
            first_frame_from=draft.first_frame_from,
            source_user_id=draft.source_user_id,
            source_message_id=draft.source_message_id,
            interaction_token=interaction_token,
            claim=claim,
        )

    async def precheck(self, requester: Requester, draft: JobDraft) -> tuple[ReviewReason, ...]:
        """Refuse now what `accept_draft` would refuse whatever the member used: the
        request's problems and the moderators' rules on who, where and what. Returns why
        it would wait for a moderator's review."""
        self.check_request(draft.request, continues=draft.first_frame_from is not None)
        new = self._new_job(
            requester,
            draft.request,
            origin=draft.origin,
            parent_job_id=draft.parent_job_id,
            first_frame_from=draft.first_frame_from,  # a continuation passes the image gate
        )
        return await self.admission.precheck(requester, new)

    async def forecast(
        self,
        requester: Requester,
        request: GenerationRequest,
        *,
        continues: bool,
        ahead: Sequence[GenerationRequest] = (),
    ) -> None:
        """Refuse (`Refused`) now a job ``requester`` will ask for later (a storyboard's
        shot): the request, and the limits that will still hold then, counting the jobs
        they asked for ``ahead`` of it. Nothing is stored or reserved; the job is admitted
        for real when its turn comes."""
        self.check_request(request, continues=continues)
        await self.admission.forecast(requester, self._new_job(requester, request), ahead=ahead)

    def check_request(self, request: GenerationRequest, *, continues: bool = False) -> None:
        """Refuse (`Refused`, with every problem) a request the provider would refuse;
        ``continues``: its first frame will be the last frame of the video it continues."""
        problems = validate(
            request,
            prompt_max_chars=self.prompt_max_chars,
            offer=self.offer(),
            first_frame_follows=continues,
        )
        if problems:
            raise Refused(*problems)

    def check_inputs(self, request: GenerationRequest) -> None:
        """Refuse (`Refused`) the request's files and settings now, before the member is
        asked for the prompt: the checks and the words of `accept`."""
        self.check_request(request.with_changes(prompt="…"))

    def _new_job(self, requester: Requester, request: GenerationRequest, **lineage: Any) -> NewJob:
        return NewJob(
            guild_id=requester.guild_id,
            channel_id=requester.channel_id,
            user_id=requester.user_id,
            request=request,
            model=self.model,
            first_step_after=STATUS_MESSAGE_GRACE,
            answer_by=requester.answer_by,
            **lineage,
        )

    async def _admit(
        self,
        requester: Requester,
        request: GenerationRequest,
        *,
        claim: Claim | None = None,
        **lineage: Any,
    ) -> Job:
        """Store the job through the admission (its rules, its quota reservation)."""
        new = self._new_job(requester, request, **lineage)
        job = await self.admission.admit(
            requester, new, deadline_seconds=self.deadline_seconds, claim=claim
        )
        log.info("job %d accepted for user %d (%s)", job.id, requester.user_id, new.origin)
        return job

    async def continue_video(
        self,
        requester: Requester,
        source: Job,
        *,
        prompt: str | None = None,
        duration: int | None = None,
        seed: int | None = None,
        last_frame: MediaInput | None = None,
        interaction_token: str | None = None,
    ) -> Job:
        """A new job of ``requester`` that starts from the last frame of ``source``'s video,
        with its settings (the prompt, length and seed may change; a ``last_frame`` is where
        it ends). Anyone may continue anyone's video here. ``source`` may still be running:
        the frame is taken when the new job is about to be sent."""
        draft = self.continuation_draft(
            requester, source, prompt=prompt, duration=duration, seed=seed, last_frame=last_frame
        )
        return await self.accept_draft(requester, draft, interaction_token=interaction_token)

    def continuation_draft(
        self,
        requester: Requester,
        source: Job,
        *,
        prompt: str | None = None,
        duration: int | None = None,
        seed: int | None = None,
        last_frame: MediaInput | None = None,
    ) -> JobDraft:
        """What `continue_video` accepts, refused (`Conflict`) if ``source`` can't be
        continued here."""
        if source.guild_id != requester.guild_id:
            raise self.not_found(f"#{source.id}")
        if source.has_ended and not source.succeeded:
            raise Conflict(
                f"#{source.id} has no video to continue: it {source.display_state.lower()}."
            )
        request = GenerationRequest(
            prompt=source.request.prompt if prompt is None else prompt,
            duration=source.request.duration if duration is None else duration,
            resolution=source.request.resolution,
            ratio=source.request.ratio,
            seed=seed,
            watermark=source.request.watermark,
            generate_audio=source.request.generate_audio,
            web_search=source.request.web_search,
            last_frame=last_frame,
        )
        return JobDraft(
            request, origin=JobOrigin.CONTINUE, parent_job_id=source.id, first_frame_from=source.id
        )

    async def stitch(
        self, requester: Requester, clips: Sequence[Job], *, interaction_token: str | None = None
    ) -> Job:
        """A film of ``clips`` (this server's videos, in the order given) that the bot joins
        for ``requester``: no provider call, no quota; moderators' blocks and channels still
        apply. Clips still running are waited for; one that ended without a video, or a
        film too long, is refused (`Refused`, every problem said)."""
        problems = stitch_problems(clips, requester.guild_id)
        if problems:
            raise Refused(*problems)
        first = clips[0]
        request = GenerationRequest(
            prompt="Stitch of " + ", ".join(f"#{clip.id}" for clip in clips),
            duration=sum(clip.request.duration for clip in clips),
            resolution=first.request.resolution,
            ratio=first.request.ratio,
        )
        return await self._admit(
            requester,
            request,
            origin=JobOrigin.STITCH,
            parent_job_id=clips[-1].id,
            clips=tuple(Credit(clip.id, clip.user_id) for clip in clips),
            interaction_token=interaction_token,
        )

    async def chain_to_stitch(self, job: Job) -> list[Job]:
        """What Stitch on ``job``'s result joins: the chain of continuations ending at it."""
        chain = await self.lineages.continued_from(job, limit=MAX_STITCH_CLIPS)
        if len(chain) < 2:
            raise Refused(
                f"#{job.id} doesn't continue another video, so there is nothing to stitch it "
                "to yet. Press **Continue** to add the next shot, then **Stitch** on the last "
                "one; or pick the clips yourself with `/video stitch`."
            )
        return chain

    async def status_message_posted(self, job: Job, message_id: int) -> None:
        """The public status message exists: record it and let the scheduler start."""
        await self.jobs.set_status_message(job.id, message_id)
        self.on_due()

    async def abandon(self, job: Job) -> None:
        """The member never saw the job (Discord refused our answer): forget it, unsent,
        which also gives its quota back."""
        if not await self.jobs.delete_unsent(job.id):
            log.warning("job %d: its status message failed but it was already sent", job.id)

    def reroll_request(self, job: Job) -> GenerationRequest:
        """The request of ``job`` with a new seed (picked at `accept`); refused when the
        provider refused the request itself, which a new seed can't change."""
        if job.refused_by_provider:
            raise Conflict(
                f"The provider refused #{job.id} itself ({job.error or 'no reason given'}), "
                "so a new seed would be refused too. Press **Remix** to change the prompt."
            )
        return self.rerun_request(job, seed=None)

    def rerun_request(self, job: Job, **changes: Any) -> GenerationRequest:
        """The request of ``job`` again (for a re-roll or remix), if its inputs still exist.
        A continuation's first frame is taken afresh from its source (pass the job's
        ``first_frame_from`` on)."""
        if not job.calls_provider:
            raise Conflict(f"#{job.id} is a stitch of other videos: it can't be made again.")
        request = job.request
        if job.first_frame_from is not None:
            request = request.with_changes(first_frame=None)
        age = self.clock() - job.created_at
        if request.uploaded_media and age > ATTACHMENT_LINK_LIFETIME:
            raise Refused(
                "The files this video was made from were uploaded more than a day ago, and "
                "Discord's links to them have expired. Run "
                f"`/video generate {job.request.mode}` again with the files."
            )
        return request.with_changes(**changes)

    # -- finding a job -----------------------------------------------------------------

    async def get(self, job_id: int) -> Job:
        job = await self.jobs.get(job_id)
        if job is None:
            raise NotFound("That job no longer exists.")
        return job

    async def find(self, guild_id: int | None, reference: str) -> Job:
        """A job of this server by ``#12``, ``12``, the provider's request id, or a link to
        its status or result message. `NotFound` says how to find one."""
        reference = reference.strip()
        job: Job | None = None
        link = _MESSAGE_LINK.search(reference)
        number = _JOB_NUMBER.fullmatch(reference)
        if link is not None:
            job = await self.jobs.get_by_message(int(link[3]))
        elif number is not None and int(number[1]) < 2**63:
            job = await self.jobs.get(int(number[1]))
        if job is None and reference and link is None:
            job = await self.jobs.get_by_request_id(reference)
        if job is None or job.guild_id != guild_id:
            raise self.not_found(reference)
        return job

    @staticmethod
    def not_found(reference: str) -> NotFound:
        """The one answer for a job that isn't there, or that the member may not see."""
        return NotFound(
            f"I can't find a job called `{reference.strip()[:60]}` here. "
            "Pick one from the list, or run `/video history` to see yours."
        )

    # -- acting on a job ---------------------------------------------------------------

    async def cancel(self, actor: Requester, job_id: int) -> JobActionResult:
        """Stop following a job (the provider has no cancel call); the scheduler posts
        the "cancelled" outcome. A cancelled job is refunded to the member like a failed
        one, but once it reached the provider it still counts in the server's budget."""
        job = await self._authorised(job_id, actor)
        now = self.clock()
        moved = await self.jobs.transition(
            job_id,
            from_states=ACTIVE_STATES,
            to_state=JobState.FINISHED,
            outcome=JobOutcome.CANCELLED,
            finished_at=now,
            next_check_at=now,
            cancelled_by=actor.user_id,
            held=0,  # a job waiting for review ends too (the review desk closes its review)
        )
        if moved is None:
            current = await self.jobs.get(job_id)
            state = current.display_state if current else "deleted"
            raise Conflict(f"Job #{job_id} can't be cancelled: it is {state.lower()}.")
        self.on_due()
        audit = None
        if moved.user_id != actor.user_id and moved.guild_id is not None:
            async with self.db.transaction() as conn:
                audit = await self.audit.record(
                    conn,
                    guild_id=moved.guild_id,
                    actor_id=actor.user_id,
                    action=AuditAction.JOB_CANCEL,
                    subject=str(job_id),
                    target=user_target(moved.user_id),
                    old=job.state.value,
                    new=JobOutcome.CANCELLED.value,
                    at=now,
                )
        return JobActionResult(moved, audit)

    async def delete(self, actor: Requester, job_id: int) -> JobActionResult:
        """Delete a finished job whose outcome has been posted (cancel a running one first).
        Until then the scheduler may still post the result, which would then never come or
        land after the row is gone. What the job used still counts. The caller removes its
        messages (``status_message_id``, ``result_message_id`` of the returned job)."""
        job = await self._authorised(job_id, actor)
        now = self.clock()
        async with self.db.transaction() as conn:
            deleted = await self.jobs.archive_and_delete(
                job_id, deleted_by=actor.user_id, now=now, conn=conn
            )
            if not deleted:
                state = await self.jobs.state_of(job_id, conn=conn)
                if state is None:
                    raise NotFound(f"There is no job #{job_id}.")
                if state.is_active:
                    raise Conflict(
                        f"Job #{job_id} is still running: cancel it first, then delete it."
                    )
                raise Conflict(f"Job #{job_id} is still being posted; try again in a minute.")
            audit = None
            if job.user_id != actor.user_id and job.guild_id is not None:
                audit = await self.audit.record(
                    conn,
                    guild_id=job.guild_id,
                    actor_id=actor.user_id,
                    action=AuditAction.JOB_DELETE,
                    subject=str(job_id),
                    target=user_target(job.user_id),
                    old=json.dumps(
                        {"outcome": str(job.outcome), "prompt": job.request.prompt[:200]}
                    ),
                    at=now,
                )
        return JobActionResult(job, audit)

    async def _authorised(self, job_id: int, actor: Requester) -> Job:
        job = await self.jobs.get(job_id)
        if job is None:
            raise NotFound(f"There is no job #{job_id}.")
        if job.user_id == actor.user_id and job.guild_id == actor.guild_id:
            return job
        if job.guild_id != actor.guild_id:
            raise NotFound(f"There is no job #{job_id} in this server.")
        if await self.moderators.is_moderator(actor):
            return job
        raise PermissionDenied(
            "Only the member who asked for this job, or a moderator, can cancel or delete it."
        )


def stitch_problems(clips: Sequence[Job], guild_id: int | None) -> list[str]:
    """Why ``clips`` can't be joined into one film (empty: they can)."""
    problems = []
    if not 2 <= len(clips) <= MAX_STITCH_CLIPS:
        problems.append(
            f"A stitch joins 2 to {MAX_STITCH_CLIPS} clips; you gave {len(clips)}."
        )
    if len({clip.id for clip in clips}) != len(clips):
        problems.append("Each clip can be in the stitch once: remove the repeated ones.")
    for clip in clips:
        if clip.guild_id != guild_id:
            problems.append(f"#{clip.id} is not a video of this server.")
        elif clip.has_ended and not clip.succeeded:
            problems.append(f"#{clip.id} has no video: it {clip.display_state.lower()}.")
    seconds = sum(clip.request.duration for clip in clips)
    if seconds > MAX_STITCH_SECONDS:
        problems.append(
            f"The clips last {seconds} s together; a stitch can last at most "
            f"{MAX_STITCH_SECONDS} s. Leave some out."
        )
    return problems
