"""The bot as an operator runs it, through the Discord emulator and the GMI simulator: the
start-up block, a provider that refuses the key (members told honestly, the moderators
told once, recovery when the key works again), and what a stop logs."""

from __future__ import annotations

import asyncio
import logging

from bot.db.database import Database
from bot.db.dialect import describe_location
from bot.db.servers import ServerSettingsRepository
from bot.provider_health import UNAVAILABLE_MESSAGE
from tests.support.gmi import GMI_TEST_KEY


async def set_mod_log(settings, guild_id: int, channel_id: int) -> None:
    """What `/videoadmin settings modlog` stores, written before the bot starts."""
    db = await Database.open(settings.database)
    try:
        async with db.transaction() as conn:
            await ServerSettingsRepository(db).set_value(
                guild_id, "mod_log_channel_id", channel_id, at=0.0, conn=conn
            )
    finally:
        await db.close()


def start_block(caplog) -> str:
    (block,) = [r.getMessage() for r in caplog.records if "started (pid" in r.getMessage()]
    return block


async def test_the_start_block_says_what_an_operator_checks_first(
    fakecord, video_bot, video_settings, gmi_sim, caplog
):
    caplog.set_level(logging.INFO, logger="bot")
    await video_bot()
    await fakecord.wait_for(lambda: any("started (pid" in r.getMessage() for r in caplog.records),
                            5, "the start-up block")  # fmt: skip
    block = start_block(caplog)
    host = gmi_sim.base_origin.removeprefix("http://")
    assert "Seedance video bot 0.1.0" in block
    assert f"to 1 server: Test Server ({fakecord.default.guild.id})" in block
    assert "model:     seedance-2-0-fast-260128" in block
    assert f"provider:  {host}: available" in block
    assert "dry run:   yes: the provider is the GMI simulator" in block
    assert describe_location(video_settings.database) in block
    assert "synced to 1 of 1 server" in block
    assert GMI_TEST_KEY not in caplog.text and fakecord.token not in caplog.text


async def test_a_refused_key_is_found_at_start_members_told_moderators_told_once_then_recovery(
    fakecord, video_bot, video_settings, person, gmi_sim, caplog
):
    caplog.set_level(logging.INFO, logger="bot")
    world = fakecord.default
    modlog = world.guild.add_text_channel("mod-log")
    await set_mod_log(video_settings, world.guild.id, modlog.id)
    gmi_sim.api_key = "the-key-the-operator-meant-to-paste"

    bot = await video_bot(provider_recheck_max_seconds=1.0)  # Discord connects all the same
    await fakecord.wait_for(lambda: len(modlog.messages) == 1, 5, "the outage in the mod-log")
    (outage,) = modlog.messages
    assert "Video generation is paused" in outage.content
    assert "refused the API key" in outage.content and GMI_TEST_KEY not in outage.content
    errors = [r for r in caplog.records if r.levelno == logging.ERROR and "unavailable" in r.getMessage()]
    assert len(errors) == 1

    alice = person()
    for _ in range(2):
        ix = await alice.generate(prompt="a fox")
        (reply,) = ix.ephemeral_messages
        assert reply.content == UNAVAILABLE_MESSAGE
    assert await bot.services.jobs.count_for_user(alice.member.id, world.guild.id) == 0
    assert gmi_sim.calls("submit") == [] and world.channel.messages == []
    await gmi_sim.wait_for_calls("model", 3, within=10)  # re-checked on its own...
    assert len(modlog.messages) == 1  # ...without telling the moderators again

    gmi_sim.api_key = GMI_TEST_KEY  # the operator fixed the key
    await fakecord.wait_for(lambda: len(modlog.messages) == 2, 10, "the recovery in the mod-log")
    assert modlog.messages[1].content.startswith("✅ Video generation works again")
    assert any("available again" in r.getMessage() for r in caplog.records)

    ix = await alice.generate(prompt="a fox")
    await alice.wait_result(await alice.status_message(ix))
    assert len(modlog.messages) == 2


async def test_a_key_revoked_while_running_pauses_new_jobs(fakecord, video_bot, person, gmi_sim):
    await video_bot(provider_recheck_max_seconds=1.0)
    alice = person()
    gmi_sim.api_key = "revoked-and-replaced"
    ix = await alice.generate(prompt="a fox")
    await alice.wait_result(await alice.status_message(ix))  # that job fails: its submit got 401
    ix = await alice.generate(prompt="another fox")
    assert ix.ephemeral_messages[0].content == UNAVAILABLE_MESSAGE


async def test_a_stop_logs_each_step_in_order(video_bot, caplog, database_engine):
    caplog.set_level(logging.INFO, logger="bot")
    bot = await video_bot()
    await bot.shutdown(grace=1.0)
    closed = {"sqlite": "database checkpointed (its WAL emptied) and closed",
              "postgresql": "database connections to PostgreSQL closed"}[database_engine]  # fmt: skip
    steps = ["stopping: new jobs are refused", "job scheduler stopped", "disconnected from Discord",
             closed, "HTTP sessions closed", "stopped in"]  # fmt: skip
    logged = [r.getMessage() for r in caplog.records]
    at = [next(i for i, line in enumerate(logged) if line.startswith(step)) for step in steps]
    assert at == sorted(at)


async def test_provider_calls_are_not_capped_by_a_connection_pool(fakecord, video_bot, gmi_sim):
    """The budget sizes how many provider calls run at once (up to `MAX_CONCURRENCY`); no
    pool of connections under it may cap them lower (aiohttp's default holds 100)."""
    bot = await video_bot(gmi_timeout_seconds=60.0)  # no call gives up (and is sent again)
    gmi_sim.latency = 60.0  # every call held at the provider while the test counts them
    calls = [asyncio.ensure_future(bot.gmi.get(f"held-{i}")) for i in range(150)]
    try:
        await fakecord.wait_for(lambda: len(gmi_sim.log) >= 150, 10, "150 calls at the provider at once")
    finally:
        for call in calls:
            call.cancel()
        await asyncio.gather(*calls, return_exceptions=True)
