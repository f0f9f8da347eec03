"""Upgrading a database written by an earlier version: jobs get their explicit lifecycle,
Discord markup in stored text becomes raw values, and jobs take fair turns."""

from __future__ import annotations

import json

from bot.db.database import Database
from bot.db.jobs import JobRepository
from bot.db.migrations import MIGRATIONS
from bot.db.servers import ServerSettingsRepository
from bot.jobs.lifecycle import JobOutcome, JobState
from bot.jobs.model import NewJob
from bot.params import GenerationRequest
from cogs.videoadmin.render import audit_line

PARAMS = json.dumps({"prompt": "a fox", "duration": 6, "resolution": "480p"})


async def old_database(location) -> None:
    """A database as schema version 2 left it, with one row of each kind that changes."""
    db = await Database.open(location, migrations=MIGRATIONS[:2])
    async with db.transaction() as conn:
        jobs = [
            # state, error, delivered_at, delivered_via, delivery_attempts
            ("queued", None, None, None, 0),
            ("succeeded", None, 50.0, "channel", 1),
            ("failed", "policy", None, None, 1),
            ("cancelled", "Cancelled by <@42>.", None, None, 0),
            ("timed_out", "No result", 60.0, "undeliverable", 3),
        ]
        for state, error, delivered_at, via, attempts in jobs:
            await conn.execute(
                "INSERT INTO jobs (guild_id, channel_id, user_id, model, params_json, "
                "payload_json, state, error, delivered_at, delivered_via, delivery_attempts, "
                "created_at, updated_at, deadline_at) VALUES (1, 2, 3, 'm', ?, '{}', ?, ?, ?, ?, "
                "?, 10, 10, 100)",
                (PARAMS, state, error, delivered_at, via, attempts),
            )
        audit = [
            ("set the moderator role of", "server", None, "<@&77>"),
            ("set refunds for", "server", "on", "off"),
            ("blocked", "user:3", None, "spam (until <t:1700000000:f>)"),
            ("granted extra day quota to", "user:3", None, "+2 videos, +10s, +0.5 cost"),
            ("cancelled job #5 of", "user:3", "queued", "cancelled"),
        ]
        for action, target, old, new in audit:
            await conn.execute(
                "INSERT INTO audit_log (guild_id, actor_id, action, target, old_value, "
                "new_value, created_at) VALUES (1, 9, ?, ?, ?, ?, 1700000000)",
                (action, target, old, new),
            )
    await db.close()


async def test_jobs_get_a_state_and_an_outcome(empty_database_location):
    await old_database(empty_database_location)
    db = await Database.open(empty_database_location)
    try:
        rows = await db.reader.fetchall(
            "SELECT state, outcome, cancelled_by, error, duration, resolution FROM jobs ORDER BY id"
        )
    finally:
        await db.close()
    assert [(r["state"], r["outcome"]) for r in rows] == [
        (JobState.QUEUED, None),
        (JobState.DELIVERED, JobOutcome.SUCCEEDED),
        (JobState.POSTING, JobOutcome.FAILED),  # an attempt was made: search before posting
        (JobState.FINISHED, JobOutcome.CANCELLED),
        (JobState.UNDELIVERABLE, JobOutcome.TIMED_OUT),
    ]
    assert (rows[3]["cancelled_by"], rows[3]["error"]) == (42, None)
    assert (rows[0]["duration"], rows[0]["resolution"]) == (6, "480p")


async def test_audit_rows_lose_their_markup_and_read_as_before(empty_database_location):
    await old_database(empty_database_location)
    db = await Database.open(empty_database_location)
    try:
        from bot.db.audit import AuditRepository

        entries = await AuditRepository(db).listed(1, limit=10, offset=0)
    finally:
        await db.close()
    by_action = {e.action: e for e in entries}
    assert by_action["settings.mod_role"].new_value == "77"
    assert (by_action["settings.refunds"].old_value, by_action["settings.refunds"].new_value) == (
        "1",
        "0",
    )
    block = json.loads(by_action["member.block"].new_value)
    assert block == {"reason": "spam", "expires_at": 1700000000.0}
    assert by_action["job.cancel"].subject == "5"
    stored = " ".join(str(v) for e in entries for v in (e.old_value, e.new_value))
    assert "<@" not in stored and "<t:" not in stored and "<#" not in stored
    lines = [audit_line(e, "USD") for e in entries]
    assert any("set the moderator role of the server: (none) → <@&77>" in line for line in lines)
    assert any("blocked <@3>: (none) → spam (until <t:1700000000:f>)" in line for line in lines)
    assert any("granted extra day quota to <@3>: (none) → +2 videos, +10 seconds, +0.50 USD of estimated cost" in line
               for line in lines)
    assert any("cancelled job #5 of <@3>: queued → cancelled" in line for line in lines)


async def test_jobs_from_before_fair_turns_count_and_the_next_takes_the_first_turn(
    empty_database_location,
):
    await old_database(empty_database_location)
    db = await Database.open(empty_database_location)
    try:
        store = JobRepository(db, lambda: 200.0)
        request = GenerationRequest(prompt="after the upgrade")
        new = await store.accept(
            NewJob(guild_id=1, channel_id=2, user_id=3, request=request, model="m"),
            deadline_seconds=60,
        )
        in_flight = await store.in_flight_by_guild()
        cap = (await ServerSettingsRepository(db).get(1)).max_in_flight
    finally:
        await db.close()
    assert (new.queue_turn, new.server_turn, new.awaits_turn, new.queue_pin) == (0, 0, False, None)
    assert in_flight == {1: 1}  # the job the provider had queued counts against the caps
    assert cap is None  # no server has a cap of its own until a moderator sets one
