"""pytest fixtures: a started emulator with a default world, and a real client connected to it.

``run_client(emu, client)`` is the async context manager behind the ``connect_bot`` fixture: it
points discord.py at the emulator, starts ``client.start(token)`` in a task, waits for
``on_ready``, and at exit closes the client, awaits its connection task, restores the
endpoints and fails on unknown routes, unhandled client exceptions and rule violations.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

import discord
import discord.gateway
import discord.http
import pytest

from bot.discord_endpoints import point_discord_at

from .emulator import FakeDiscord
from .seed import DefaultWorld, seed_default_world

__all__ = ["DefaultWorld", "run_client", "seed_default_world"]


class ClientErrors(logging.Handler):
    """Collects what the client could not handle: error logs of the ``discord`` logger (the
    default ``on_error`` of the client, the command tree, views and modals all log there) and
    exceptions that reach the event loop's exception handler."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__(level=logging.ERROR)
        self.errors = errors
        self._loop: asyncio.AbstractEventLoop | None = None
        self._previous_handler: Any = None

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if record.exc_info and record.exc_info[1] is not None:
            text += f": {record.exc_info[1]!r}"
        self.errors.append(f"{record.name}: {text}")

    def _loop_handler(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        exc = context.get("exception")
        self.errors.append(f"event loop: {context.get('message')}{f': {exc!r}' if exc else ''}")

    def install(self) -> None:
        logging.getLogger("discord").addHandler(self)
        self._loop = asyncio.get_running_loop()
        self._previous_handler = self._loop.get_exception_handler()
        self._loop.set_exception_handler(self._loop_handler)

    def uninstall(self) -> None:
        logging.getLogger("discord").removeHandler(self)
        if self._loop is not None:
            self._loop.set_exception_handler(self._previous_handler)


@contextlib.asynccontextmanager
async def run_client(emu: FakeDiscord, client: discord.Client, *, ready_timeout: float = 5.0,
                     violations_allowed: bool = False, check: bool = True,
                     skip_identify_wait: bool = True) -> AsyncIterator[discord.Client]:
    """Run ``client`` against ``emu`` for the duration of the block.

    On exit: fails (AssertionError) if the emulator saw an unknown route or had a bug, the
    client had an unhandled exception (not allowed by ``emu.expect_client_error(...)``), or the
    bot broke a rule not allowed by ``emu.expect_violation(...)`` or ``violations_allowed=True``.
    ``check=False`` skips these checks. ``skip_identify_wait`` removes discord.py's 5 s pause
    before a re-IDENTIFY (unless the client overrides ``before_identify_hook`` itself).
    """
    previous = (discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY)
    point_discord_at(emu.api_base_url, emu.gateway_url)
    client._connection.guild_ready_timeout = 0.05
    if skip_identify_wait and type(client).before_identify_hook is discord.Client.before_identify_hook:
        # discord.py sleeps 5 s before every IDENTIFY after the first (INVALID_SESSION...).
        async def no_identify_wait(shard_id: int | None, *, initial: bool = False) -> None:
            return None

        client.before_identify_hook = no_identify_wait  # type: ignore[method-assign]
    errors = ClientErrors(emu.client_errors)
    errors.install()
    if violations_allowed:
        emu.violations_allowed = True
    task = asyncio.create_task(client.start(emu.token), name="fakecord-client-connection")
    problems: list[str] = []
    in_flight = None
    try:
        await emu.wait_for(lambda: client.is_ready() or task.done(), ready_timeout, "the client to be ready")
        if task.done():
            task.result()  # raises what stopped the client
            raise AssertionError("the client stopped before it was ready")
        yield client
    except BaseException as exc:
        in_flight: BaseException | None = exc
        raise
    else:
        in_flight = None
    finally:
        await client.close()
        try:
            await asyncio.wait_for(task, 5.0)
        except Exception as exc:  # the connection task died: that is a failure of the test
            problems.append(f"client connection task failed: {exc!r}")
        discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = previous
        errors.uninstall()
        if check:
            problems += [f"emulator bug: {e}" for e in emu.internal_errors]
            if emu.unknown_routes:
                problems.append(f"routes the emulator does not know: {emu.unknown_routes}")
            problems += [f"unhandled client exception: {e}" for e in emu.unexpected_client_errors]
            problems += [f"Discord rule broken: {v}" for v in emu.unexpected_violations]
        if problems:
            report = "fakecord: " + "\n  ".join(problems)
            if in_flight is None:
                raise AssertionError(report)
            in_flight.add_note(report)


@pytest.fixture
async def fakecord() -> AsyncIterator[FakeDiscord]:
    """A started emulator; ``fakecord.default`` is the seeded :class:`DefaultWorld`."""
    emu = FakeDiscord()
    emu.default = seed_default_world(emu)  # type: ignore[attr-defined]
    await emu.start()
    try:
        yield emu
    finally:
        await emu.close()


@pytest.fixture
async def connect_bot(fakecord: FakeDiscord):
    """``client = await connect_bot(client, **run_client_options)``: connected until teardown."""
    async with contextlib.AsyncExitStack() as stack:

        async def connect(client: discord.Client, **kwargs: Any) -> discord.Client:
            return await stack.enter_async_context(run_client(fakecord, client, **kwargs))

        yield connect
