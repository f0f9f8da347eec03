"""Is the video provider usable right now? Found out at start, watched until it is again.

A wrong API key, an unknown model or a wrong base URL used to surface only when a member's
job failed in public. Now one call (`check_provider`: the model-detail call, the same one
``python -m bot doctor`` makes) answers at start, and `ProviderHealth` keeps the verdict:

::

    UNKNOWN ──check ok──▶ AVAILABLE ◀──check ok── UNAVAILABLE
       │                     │                        ▲
       └──check failed───────┴──key refused on any call┘   (re-checked with bounded backoff)

While UNAVAILABLE new jobs are refused with an honest `bot.errors.Unavailable` before anything
is stored, and `ProviderWatch` checks again after `full_jitter` delays capped at the
operator's setting, until the provider answers; each change (down, back up) is reported
once. Plain Python on an injected clock: the tests drive it without Discord.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from bot.backoff import full_jitter
from bot.clock import Clock
from bot.errors import Unavailable
from bot.gmi import AuthError, GMIClient, GMIError, ModelDetail, NotFound
from bot.model_offer import DOCUMENTED, ModelOffer

log = logging.getLogger(__name__)

# The simulator (python -m bot.simulator) tags its model detail so; the real catalogue doesn't.
SIMULATED_TAG = "simulated"
RECHECK_BASE_SECONDS = 15.0
# While the provider works its model detail is read again this often, so a change in what
# it offers (a resolution withdrawn, a price) is respected within the hour.
REFRESH_SECONDS = 3600.0
UNAVAILABLE_MESSAGE = (
    "Video generation is not available right now: the video provider isn't answering the bot "
    "as it should, and the moderators have been told. Please try again later."
)


class ProviderProblem(enum.Enum):
    """Why the provider can't be used, in the operator's terms."""

    KEY_REJECTED = "the provider refused the API key (GMI_API_KEY)"
    MODEL_UNKNOWN = "the provider does not offer the model (SEEDANCE_MODEL)"
    WRONG_ADDRESS = "what answers at GMI_API_BASE_URL is not GMI's request-queue API"
    UNREACHABLE = "the provider could not be reached"


def provider_host(base_url: str) -> str:
    """The host (and port) of the provider's URL: what logs and messages name, never more."""
    parts = urlsplit(base_url)
    host = parts.hostname or "?"
    return f"{host}:{parts.port}" if parts.port else host


@dataclass(frozen=True)
class ProviderCheck:
    """What one check found. ``detail`` is for operators and already cleaned of secrets."""

    host: str
    model: str
    problem: ProviderProblem | None = None
    detail: str = ""
    found: ModelDetail | None = None
    offered: tuple[str, ...] = ()  # the models the provider lists, when ours is unknown

    @property
    def ok(self) -> bool:
        return self.problem is None

    @property
    def simulated(self) -> bool:
        """A dry run: the provider is the GMI simulator (its model detail says so)."""
        return self.found is not None and SIMULATED_TAG in self.found.tags

    def describe(self) -> str:
        """One line for the log: what was found, where."""
        if self.problem is None:
            return f"model {self.model} is available at {self.host}"
        text = f"{self.problem.value}; {self.host} said: {self.detail or 'nothing'}"
        if self.offered:
            text += f"; it offers {', '.join(self.offered[:10])}"
        return text


async def check_provider(gmi: GMIClient, model: str) -> ProviderCheck:
    """Ask for the model's details: the key works, the model exists, the address is right.

    A 404 is told apart by listing the models: a list without ours means the model is
    unknown, no list at all means the address is wrong.
    """
    host = provider_host(gmi.base_url)
    try:
        found = await gmi.model_detail(model)
    except AuthError as error:
        return ProviderCheck(host, model, ProviderProblem.KEY_REJECTED, _detail(error))
    except NotFound as error:
        try:
            offered = await gmi.list_models()
        except NotFound:
            return ProviderCheck(host, model, ProviderProblem.WRONG_ADDRESS, _detail(error))
        except GMIError:
            offered = []
        return ProviderCheck(
            host, model, ProviderProblem.MODEL_UNKNOWN, _detail(error), offered=tuple(offered)
        )
    except GMIError as error:
        answered_oddly = error.status is not None and 200 <= error.status < 400
        problem = ProviderProblem.WRONG_ADDRESS if answered_oddly else ProviderProblem.UNREACHABLE
        return ProviderCheck(host, model, problem, _detail(error))
    return ProviderCheck(host, model, found=found)


def _detail(error: GMIError) -> str:
    status = f"HTTP {error.status}: " if error.status is not None else ""
    return status + (error.detail or error.message)


class ProviderState(enum.StrEnum):
    UNKNOWN = "unknown"  # not checked yet: jobs are taken
    AVAILABLE = "available"
    UNAVAILABLE = "unavailable"  # jobs are refused; re-checked until it works


@dataclass(frozen=True)
class HealthChange:
    """The provider went down or came back: reported once per change."""

    state: ProviderState
    reason: str  # what was found, for the log and the mod-log
    down_for: float | None = None  # on recovery: seconds it was unavailable

    @property
    def recovered(self) -> bool:
        return self.state is ProviderState.AVAILABLE

    def announcement(self) -> str:
        """What the moderators read in their mod-log channel."""
        if self.recovered:
            return f"✅ Video generation works again: {self.reason}."
        return (
            f"⚠️ Video generation is paused: {self.reason}. Members who try are told it is not "
            "available right now. The bot keeps checking and will say here when it works "
            "again; the bot's operator can run `python -m bot doctor` to see what is wrong."
        )


class ProviderHealth:
    """The provider's state, the reason, and when to check again (bounded backoff)."""

    def __init__(
        self,
        clock: Clock,
        *,
        recheck_cap: float,
        recheck_base: float = RECHECK_BASE_SECONDS,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self.clock = clock
        self.recheck_cap = recheck_cap
        self.recheck_base = min(recheck_base, recheck_cap)
        self.rng = rng
        self.state = ProviderState.UNKNOWN
        self.last_check: ProviderCheck | None = None
        self.reason = ""
        self.failed_checks = 0  # consecutive, since it became unavailable
        self.unavailable_since: float | None = None
        self.detail: ModelDetail | None = None  # the last model detail the provider gave
        self.offer: ModelOffer = DOCUMENTED  # what members may ask for, narrowed by it

    @property
    def taking_jobs(self) -> bool:
        return self.state is not ProviderState.UNAVAILABLE

    def require_available(self) -> None:
        """Refuse a new job, honestly, while the provider can't take it."""
        if not self.taking_jobs:
            raise Unavailable(UNAVAILABLE_MESSAGE)

    def record(self, check: ProviderCheck) -> HealthChange | None:
        """The outcome of a check; returns the change it made, if any."""
        self.last_check = check
        if check.found is not None:
            self.detail, self.offer = check.found, ModelOffer.from_detail(check.found)
        if check.ok:
            return self._available(f"the provider answers and offers {check.model}")
        self.failed_checks += 1
        return self._unavailable(check.describe())

    def key_rejected(self, where: str) -> HealthChange | None:
        """A call the bot made for a job was refused for its key (the key was revoked...)."""
        return self._unavailable(f"{ProviderProblem.KEY_REJECTED.value}; {where}")

    def recheck_delay(self) -> float | None:
        """Seconds until the next check; ``None`` while there is no need for one."""
        if self.taking_jobs:
            return None
        return full_jitter(
            max(self.failed_checks, 1),
            base=self.recheck_base,
            cap=self.recheck_cap,
            floor=self.recheck_base / 2,
            rng=self.rng,
        )

    def _available(self, reason: str) -> HealthChange | None:
        previous, since = self.state, self.unavailable_since
        self.state, self.reason = ProviderState.AVAILABLE, reason
        self.failed_checks, self.unavailable_since = 0, None
        if previous is not ProviderState.UNAVAILABLE:
            return None
        down_for = None if since is None else self.clock() - since
        return HealthChange(ProviderState.AVAILABLE, reason, down_for)

    def _unavailable(self, reason: str) -> HealthChange | None:
        previous = self.state
        self.state, self.reason = ProviderState.UNAVAILABLE, reason
        if previous is ProviderState.UNAVAILABLE:
            return None
        self.unavailable_since = self.clock()
        return HealthChange(ProviderState.UNAVAILABLE, reason)


class ProviderWatch:
    """Runs the checks: once at start, then while the provider is unavailable, until it works.

    ``on_change`` hears each `HealthChange` once (the bot posts it to the mod-logs).
    """

    def __init__(
        self,
        health: ProviderHealth,
        check: Callable[[], Awaitable[ProviderCheck]],
        *,
        on_change: Callable[[HealthChange], Awaitable[None]],
    ) -> None:
        self.health = health
        self._check = check
        self._on_change = on_change
        self._wake = asyncio.Event()
        self.first_check = asyncio.Event()

    async def run(self) -> None:
        """The loop (run it as a background task; it ends only when cancelled)."""
        await self._check_once()
        self.first_check.set()
        while True:
            delay = self.health.recheck_delay()
            if delay is None:
                self._wake.clear()
                try:  # until a job's call finds the key refused, or it is time to refresh
                    async with asyncio.timeout(REFRESH_SECONDS):
                        await self._wake.wait()
                except TimeoutError:
                    await self._check_once()
                continue
            await asyncio.sleep(delay)
            await self._check_once()

    async def model_detail(self) -> ModelDetail | None:
        """The provider's model detail, asking now if it never answered (``None``: it
        still doesn't)."""
        if self.health.detail is None:
            await self._check_once()
        return self.health.detail

    async def key_rejected(self, where: str) -> None:
        """A job's call was refused for the key: the provider is down until a check passes."""
        change = self.health.key_rejected(where)
        if change is not None:
            self._wake.set()
            await self._report(change)

    async def _check_once(self) -> None:
        check = await self._check()
        change = self.health.record(check)
        if change is not None:
            await self._report(change)
        elif not check.ok:
            log.info("video provider still unavailable: %s", check.describe())

    async def _report(self, change: HealthChange) -> None:
        if change.recovered:
            log.info(
                "video provider available again after %.0fs: %s",
                change.down_for or 0.0,
                change.reason,
            )
        else:
            log.error(
                "video provider unavailable: %s. New jobs are refused until it works again; "
                "re-checking at most every %.0fs (run `python -m bot doctor` for details)",
                change.reason,
                self.health.recheck_cap,
            )
        try:
            await self._on_change(change)
        except Exception:
            log.exception("could not report the provider's change of state")
