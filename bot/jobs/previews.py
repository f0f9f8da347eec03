"""Price before spending: a job shown to its member with its estimated cost and what it
leaves of their quota and of the server's budget, before anything is stored or charged.

A member asks for it (the ``confirm`` option of ``/video generate``), or the server does
for every job estimated above an amount (`GuildSettings.confirm_above`), whichever way the
job starts. The preview is a row of its own, not a job: it reserves nothing and the
provider never hears of it. Confirm stores the job through `JobService` and the admission
like any other (the limits are checked at that moment) and marks the preview used in the
same transaction, so two clicks make one job; Cancel drops it; a preview left alone
expires after `PREVIEW_LIFETIME`.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.clock import Clock
from bot.db.database import Connection
from bot.db.jobs import Usage
from bot.db.previews import JobPreview, PreviewRepository, PreviewState
from bot.errors import Conflict, NotFound, PermissionDenied, UserError
from bot.jobs.model import Job, JobDraft, ReviewReason
from bot.jobs.service import JobService
from bot.moderation.config import ServerConfigCache
from bot.moderation.requester import Requester, guild_of
from bot.quotas.admission import Admission
from bot.quotas.standing import Standing, Standings

# How long a preview can be confirmed: prices and quotas move, and the bot edits the
# preview through its interaction's token, which Discord honours for 15 minutes.
PREVIEW_LIFETIME = 14 * 60.0
# How long an ended preview is kept, so a late click is told what became of it.
PREVIEW_KEPT = 24 * 3600.0


@dataclass(frozen=True)
class Preview:
    """What the member is shown: the stored preview and where they stand now."""

    preview: JobPreview
    standing: Standing
    review_reasons: tuple[ReviewReason, ...] = ()  # why, once confirmed, it waits for review

    @property
    def asked(self) -> Usage:
        """What the job would count for, in each window and metric."""
        request = self.preview.draft.request
        return Usage(1, request.duration, self.preview.estimated_cost)


def _unusable(preview: JobPreview, now: float) -> UserError | None:
    """Why ``preview`` can no longer be confirmed or cancelled (None: it can)."""
    if preview.state is PreviewState.CONFIRMED:
        return Conflict(f"You already confirmed this: it is job #{preview.job_id}.")
    if preview.state is PreviewState.CANCELLED:
        return Conflict(
            "You cancelled this preview, so nothing was started. Run the command again to "
            "ask for it."
        )
    if now >= preview.expires_at:
        return Conflict(
            f"This preview expired: a price holds for {PREVIEW_LIFETIME / 60:g} minutes. "
            "Nothing was started or charged; run the command again for a fresh one."
        )
    return None


@dataclass(frozen=True)
class _PreviewUse:
    """The preview, taken in the transaction that stores its job (`bot.db.jobs.Claim`)."""

    previews: PreviewRepository
    preview_id: int

    async def check(self, conn: Connection, now: float) -> None:
        preview = await self.previews.get(self.preview_id, conn=conn)
        problem = _gone() if preview is None else _unusable(preview, now)
        if problem is not None:
            raise problem

    async def settle(self, conn: Connection, job: Job) -> None:
        await self.previews.confirmed(self.preview_id, job.id, conn=conn)


def _gone() -> NotFound:
    return NotFound("This preview no longer exists. Run the command again for a fresh one.")


def _check_owner(requester: Requester, preview: JobPreview) -> None:
    if preview.guild_id != requester.guild_id:
        raise _gone()
    if preview.user_id != requester.user_id:
        raise PermissionDenied(
            "This preview belongs to someone else: only the member who asked can confirm or "
            "cancel it."
        )


class JobPreviews:
    def __init__(
        self,
        *,
        previews: PreviewRepository,
        job_service: JobService,
        admission: Admission,
        config: ServerConfigCache,
        standings: Standings,
        clock: Clock,
    ) -> None:
        self.previews = previews
        self.job_service = job_service
        self.admission = admission
        self.config = config
        self.standings = standings
        self.clock = clock

    async def wanted(self, requester: Requester, draft: JobDraft, *, asked: bool) -> bool:
        """Whether ``draft`` is shown before it is stored: the member asked, or the server
        wants every job estimated above its amount confirmed."""
        if asked:
            return True
        if requester.guild_id is None:
            return False
        above = (await self.config.get(requester.guild_id)).settings.confirm_above
        return above is not None and self.admission.estimate(draft.request) > above

    async def propose(
        self, requester: Requester, draft: JobDraft, *, interaction_token: str | None
    ) -> Preview:
        """Price ``draft`` and keep it as a pending preview; refused (`UserError`) now if
        the request or the moderators' rules on who, where and what would refuse it."""
        reasons = await self.job_service.precheck(requester, draft)
        now = self.clock()
        preview = await self.previews.add(
            guild_id=guild_of(requester),
            channel_id=requester.channel_id,
            user_id=requester.user_id,
            draft=draft,
            estimated_cost=self.admission.estimate(draft.request),
            now=now,
            expires_at=now + PREVIEW_LIFETIME,
            interaction_token=interaction_token,
            forget_before=now - PREVIEW_KEPT,
        )
        return Preview(preview, await self.standings.of_member(requester), reasons)

    async def usable(self, requester: Requester, preview_id: int) -> JobPreview:
        """``requester``'s own preview, still pending; `UserError` says why not."""
        preview = await self.previews.get(preview_id)
        if preview is None:
            raise _gone()
        _check_owner(requester, preview)
        problem = _unusable(preview, self.clock())
        if problem is not None:
            raise problem
        return preview

    async def confirm(
        self, requester: Requester, preview: JobPreview, *, interaction_token: str | None
    ) -> Job:
        """Store the preview's job as any job is stored (the admission checks the limits
        now), using the preview up in the same transaction: a second click, or one after
        it expired, is refused (`UserError`) and stores nothing."""
        _check_owner(requester, preview)
        return await self.job_service.accept_draft(
            requester,
            preview.draft,
            interaction_token=interaction_token,
            claim=_PreviewUse(self.previews, preview.id),
        )

    async def cancel(self, requester: Requester, preview_id: int) -> None:
        """Drop the member's pending preview; nothing was stored for it."""
        await self.usable(requester, preview_id)
        if not await self.previews.cancel(preview_id, self.clock()):
            await self.usable(requester, preview_id)  # says what happened meanwhile
