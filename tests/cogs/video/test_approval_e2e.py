"""The approval lane end to end: the real bot, the Discord emulator, the GMI simulator.

Moderators set the rules with `/videoadmin review`; a member's job that needs a review
waits (never sent to the provider) while its review sits in the review channel with
Approve and Deny; what each side sees, what the provider was sent, and the member's quota.
"""

from __future__ import annotations

import asyncio

from bot.clock import ManualClock
from bot.moderation.reviews import REVIEW_LIFETIME
from tests.support import sample_files
from tests.support.video import job_when

HELD_TITLE = "⏳ Waiting for a moderator's review"


def field(message, name: str) -> str:
    (value,) = [f["value"] for f in message.embeds[0]["fields"] if f["name"] == name]
    return value


def title(message) -> str:
    return message.embeds[0]["title"]


def buttons_disabled(message) -> bool:
    return all(button.get("disabled") for button in message.buttons())


async def admin(emu, command: str, /, as_=None, **options):
    """``/videoadmin <command>`` as the moderator (or ``as_``); returns the interaction."""
    world = emu.default
    ix = await emu.run_command(as_ or world.mod, world.channel, f"videoadmin {command}", **options)
    await ix.wait_acknowledged()
    return ix


async def lane(emu, **rules):
    """A review channel and a mod-log, set by command, then ``rules`` (``review <name>``
    options); returns the two channels."""
    guild = emu.default.guild
    reviews, modlog = guild.add_text_channel("reviews"), guild.add_text_channel("mod-log")
    await admin(emu, "settings modlog", channel=modlog)
    await admin(emu, "review channel", channel=reviews)
    for name, options in rules.items():
        ix = await admin(emu, f"review {name}", **options)
        assert ix.ephemeral_messages[0].embeds[0]["title"] == "✅ Done", ix.ephemeral_messages
    return reviews, modlog


async def review_posted(emu, reviews, count: int = 1):
    await emu.wait_for(lambda: len(reviews.messages) >= count, 5, "the review message")
    return reviews.messages[count - 1]


async def review_recorded(bot, job_id: int):
    """Wait (bounded) until the bot recorded the job's review message; return the review."""
    for _ in range(250):
        review = await bot.services.reviews.get(job_id)
        if review is not None and review.message_id is not None:
            return review
        await asyncio.sleep(0.02)
    raise AssertionError(f"job {job_id}: its review message was never recorded")


async def held(emu, member, reviews, prompt: str):
    """``member`` asks for a job that waits for review: their status message, and its
    review message."""
    status = await member.status_message(await member.generate(prompt=prompt))
    return status, await review_posted(emu, reviews)


async def result_of(emu, person, status):
    """The reply that carries the job's outcome (not the approval notice)."""
    def outcome():
        return [m for m in person.replies_to(status) if m.embeds]

    await emu.wait_for(outcome, 15, "the job's outcome")
    (reply,) = outcome()
    return reply


async def told(emu, channel, text: str) -> None:
    """Wait until a message in ``channel`` says ``text``."""
    await emu.wait_for(
        lambda: any(text in m.content for m in channel.messages), 5, f"{text!r} in #{channel.name}"
    )


async def test_a_job_above_the_cost_is_held_approved_then_made_and_posted(
    fakecord, video_bot, person, gmi_sim
):
    bot = await video_bot()
    world = fakecord.default
    reviews, modlog = await lane(fakecord, cost={"amount": 1.0})
    alice = person()
    cheap = await alice.status_message(await alice.generate(prompt="cheap", duration=5))
    await result_of(fakecord, alice, cheap)  # 0.80: under the amount, made at once
    status = await alice.status_message(
        await alice.generate(prompt="a **bold** fox @everyone <@&1>", duration=10)
    )
    review = await review_posted(fakecord, reviews)
    assert title(status) == HELD_TITLE and status.button(label="Cancel") is not None
    assert "moderators review jobs like this one" in field(status, "Review")
    assert title(review) == "🛂 Waiting for review: job #2"
    assert review.embeds[0]["description"].startswith("a \\*\\*bold\\*\\* fox @\u200beveryone \\<@&1>")
    assert not review.mention_everyone and review.mentions == [] and review.mention_roles == []
    assert field(review, "Needs review because") == (
        "its estimated cost, 1.60 USD, is above the review amount of 1.00 USD"
    )
    assert field(review, "Requested by") == f"<@{world.alice.id}> in <#{world.channel.id}>"
    assert field(review, "Estimated cost") == "≈ 1.60 USD"
    assert [b["label"] for b in review.buttons()] == ["Approve", "Deny"]
    assert len(gmi_sim.calls("submit")) == 1  # only the cheap one: the held job waits
    assert (await bot.services.jobs.get(2)).held

    ix = await fakecord.click(world.mod, review, label="Approve")
    await ix.wait_acknowledged()
    await fakecord.wait_for(lambda: title(review).startswith("✅ Approved"), 5, "the decision shown")
    assert buttons_disabled(review)
    assert field(review, "Decision").startswith(f"Approved by <@{world.mod.id}>")
    result = await result_of(fakecord, alice, status)
    assert result.attachments and "is ready" in result.content
    assert len(gmi_sim.calls("submit")) == 2
    assert gmi_sim.calls("submit")[1].body_json["payload"]["duration"] == 10
    def notices():
        return [m for m in alice.replies_to(status) if not m.embeds]

    # Posted by the Approve click after its answer: it may land after the video.
    await fakecord.wait_for(notices, 5, "the approval notice")
    (notice,) = notices()
    assert notice.content == f"<@{world.alice.id}> <@{world.mod.id}> approved your video #2: it's being made now."
    assert notice.mentions == [world.alice.id]  # the member only, never the moderator
    await told(fakecord, modlog, "approved job #2 of")


async def test_a_job_with_a_reference_video_denied_with_a_reason_gives_the_quota_back(
    fakecord, video_bot, person, gmi_sim
):
    await video_bot()
    world = fakecord.default
    reviews, modlog = await lane(fakecord, videos={"required": True})
    await admin(fakecord, "limit set", name="generations_per_day", value="2")
    alice = person()
    clip_file = fakecord.attachment("clip.mp4", sample_files.mp4(), content_type="video/mp4")
    status = await alice.status_message(
        await alice.generate(prompt="dance like this", reference_video_1=clip_file)
    )
    review = await review_posted(fakecord, reviews)
    assert field(review, "Needs review because") == "it uses 1 reference video"
    assert "1 of 2 videos" in await alice.quota()  # reserved while it waits

    deny = await fakecord.click(world.mod, review, label="Deny")
    await deny.wait_acknowledged()
    assert deny.modal is not None and deny.modal["title"] == "Deny job #1"
    submitted = await fakecord.submit_modal(
        world.mod, deny, {"Reason": "no clips of **films** <@&1>"}
    )
    await submitted.wait_acknowledged()
    await fakecord.wait_for(lambda: title(review).startswith("⛔ Denied"), 5, "the denial shown")
    assert buttons_disabled(review)
    assert field(review, "Decision").endswith(": no clips of \\*\\*films\\*\\* \\<@&1>")
    result = await result_of(fakecord, alice, status)
    assert result.content == (
        f"<@{world.alice.id}> the video generation was cancelled. "
        "Not approved: no clips of \\*\\*films\\*\\* \\<@&1>"
    )
    assert result.mentions == [world.alice.id] and result.mention_roles == []
    assert field(result, "Reason").startswith(f"Cancelled by <@{world.mod.id}>. Not approved:")
    assert gmi_sim.calls("submit") == []
    assert "0 of 2 videos" in await alice.quota()  # given back
    await told(fakecord, modlog, f"denied job #1 of <@{world.alice.id}>: “no clips of \\*\\*films\\*\\* \\<@&1>”")
    audit = await admin(fakecord, "audit")
    assert "denied job #1" in str(audit.ephemeral_messages[0].embeds[0])


async def test_members_without_the_role_are_held_and_members_with_it_are_not(
    fakecord, video_bot, person, gmi_sim
):
    await video_bot()
    world = fakecord.default
    reviews, _ = await lane(fakecord, role={"role": world.artists})
    alice, bob = person(world.alice), person(world.bob)  # alice is an Artist, bob is not
    made = await alice.status_message(await alice.generate(prompt="artist"))
    held = await bob.status_message(await bob.generate(prompt="newcomer"))
    review = await review_posted(fakecord, reviews)
    assert field(review, "Needs review because") == (
        f"<@{world.bob.id}> doesn't have the <@&{world.artists.id}> role"
    )
    assert (await result_of(fakecord, alice, made)).attachments
    assert title(held) == HELD_TITLE and len(reviews.messages) == 1
    assert [c.body_json["payload"]["prompt"] for c in gmi_sim.calls("submit")] == ["artist"]


async def test_a_member_may_not_approve_or_deny(fakecord, video_bot, person, gmi_sim):
    bot = await video_bot()
    world = fakecord.default
    reviews, _ = await lane(fakecord, cost={"amount": 0.5})
    _, review = await held(fakecord, person(), reviews, "x")
    for label in ("Approve", "Deny"):
        ix = await fakecord.click(world.bob, review, label=label)
        await ix.wait_acknowledged()
        assert ix.modal is None
        (refusal,) = ix.ephemeral_messages
        assert refusal.content.startswith("Only moderators can do this")
    assert title(review).startswith("🛂") and not buttons_disabled(review)
    assert (await bot.services.jobs.get(1)).held and gmi_sim.calls("submit") == []


async def test_two_moderators_deciding_at_once_make_one_decision(
    fakecord, video_bot, person, gmi_sim
):
    bot = await video_bot()
    world = fakecord.default
    reviews, _ = await lane(fakecord, cost={"amount": 0.5})
    alice = person()
    status, review = await held(fakecord, alice, reviews, "x")
    deny = await fakecord.click(world.owner, review, label="Deny")
    await deny.wait_acknowledged()
    clicks = await asyncio.gather(
        fakecord.click(world.mod, review, label="Approve"),
        fakecord.click(world.mod, review, label="Approve"),  # a double click
        fakecord.submit_modal(world.owner, deny, {"Reason": "no"}),
    )
    for ix in clicks:
        await ix.wait_acknowledged()
    late = [ix.ephemeral_messages[0].content for ix in clicks if ix.ephemeral_messages]
    assert len(late) == 2 and all(text.startswith(("Too late: Approved by <@", "Too late: Denied by <@"))
                                  for text in late), late  # fmt: skip
    job = await job_when(bot, 1, lambda j: j.is_delivered)
    review_row = await bot.services.reviews.get(1)
    decided = "Approved" if review_row.decision == "approved" else "Denied"
    await fakecord.wait_for(lambda: title(review).startswith(("✅", "⛔")), 5, "the decision")
    assert decided in title(review) and buttons_disabled(review)
    assert job.succeeded == (decided == "Approved")
    assert len(gmi_sim.calls("submit")) == (1 if decided == "Approved" else 0)
    entries = await bot.services.audit_entries.listed(world.guild.id, limit=50, offset=0)
    assert len([e for e in entries if e.action.startswith("review.")]) == 1
    assert (await result_of(fakecord, alice, status)) is not None


async def test_a_pending_review_survives_a_restart_and_is_approved_after_it(
    fakecord, video_bot, person, gmi_sim
):
    first = await video_bot()
    world = fakecord.default
    reviews, _ = await lane(fakecord, cost={"amount": 0.5})
    alice = person()
    status, review = await held(fakecord, alice, reviews, "after the restart")
    await first.close()
    second = await video_bot()
    assert gmi_sim.calls("submit") == []
    ix = await fakecord.click(world.mod, review, label="Approve")
    await ix.wait_acknowledged()
    assert (await result_of(fakecord, alice, status)).attachments
    assert len(reviews.messages) == 1  # the restarted bot posted no second review
    assert (await second.services.reviews.get(1)).decision == "approved"


async def test_an_undecided_review_expires_after_a_day_without_charge(
    fakecord, video_bot, person, gmi_sim
):
    clock = ManualClock.realtime()
    bot = await video_bot(clock=clock)
    reviews, modlog = await lane(fakecord, cost={"amount": 0.5})
    alice = person()
    status, review = await held(fakecord, alice, reviews, "nobody looks")
    clock.advance(REVIEW_LIFETIME + 1)
    bot.dispatch("video_job_due")
    result = await result_of(fakecord, alice, status)
    assert "timed out" in result.content and "No moderator reviewed it within a day" in result.content
    await fakecord.wait_for(lambda: title(review).startswith("⌛"), 5, "the review closed")
    assert buttons_disabled(review) and gmi_sim.calls("submit") == []
    # Never sent, so it counts nowhere, even with refunds off.
    used = await bot.services.ledger.usage(
        fakecord.default.guild.id, alice.member.id, 0, 2**40, refunds_enabled=False
    )
    assert used.generations == 0 and used.cost == 0
    await told(fakecord, modlog, "within a day")


async def test_without_a_review_channel_the_job_ends_unmade_and_everyone_is_told(
    fakecord, video_bot, person, gmi_sim
):
    await video_bot()
    world = fakecord.default
    modlog = world.guild.add_text_channel("mod-log")
    await admin(fakecord, "settings modlog", channel=modlog)
    ix = await admin(fakecord, "review cost", amount=0.5)
    assert "No review channel is set" in str(ix.ephemeral_messages[0].embeds[0])
    alice = person()
    status = await alice.status_message(await alice.generate(prompt="nowhere to review"))
    result = await result_of(fakecord, alice, status)
    assert "needs a moderator's review for it, but no review channel is set" in result.content
    assert "Nothing was charged" in result.content and gmi_sim.calls("submit") == []
    await told(fakecord, modlog, "needed a review, but no review channel is set")


async def test_a_review_channel_the_bot_cannot_post_in_is_said_not_held_silently(
    fakecord, video_bot, person, gmi_sim
):
    await video_bot()
    world = fakecord.default
    reviews, modlog = await lane(fakecord, cost={"amount": 0.5})
    reviews.set_bot_permissions(send_messages=False)
    alice = person()
    status = await alice.status_message(await alice.generate(prompt="locked out"))
    result = await result_of(fakecord, alice, status)
    assert "I can't post in its review channel" in result.content
    await told(fakecord, modlog, f"I can't post in <#{reviews.id}>")
    assert reviews.messages == [] and gmi_sim.calls("submit") == []
    assert world.alice.id in result.mentions


async def test_a_member_cancelling_a_held_job_closes_its_review(
    fakecord, video_bot, person, gmi_sim
):
    await video_bot()
    world = fakecord.default
    reviews, _ = await lane(fakecord, cost={"amount": 0.5})
    alice = person()
    status, review = await held(fakecord, alice, reviews, "never mind")
    ix = await fakecord.click(world.alice, status, label="Cancel")
    await ix.wait_acknowledged()
    await fakecord.wait_for(lambda: title(review).startswith("🚫 Withdrawn"), 5, "the review closed")
    assert buttons_disabled(review) and gmi_sim.calls("submit") == []
    assert "cancelled" in (await result_of(fakecord, alice, status)).content


async def test_a_review_that_landed_before_it_was_recorded_is_found_not_posted_twice(
    fakecord, video_bot, person, gmi_sim
):
    bot = await video_bot()
    world = fakecord.default
    reviews, _ = await lane(fakecord, cost={"amount": 0.5})
    alice = person()
    status, review = await held(fakecord, alice, reviews, "posted once")
    await review_recorded(bot, 1)
    async with bot.services.db.transaction() as conn:  # as a crash before the post was recorded
        await conn.execute(
            "UPDATE job_reviews SET message_id = NULL, channel_id = NULL, post_lease = NULL "
            "WHERE job_id = 1"
        )
    bot.dispatch("video_job_due")
    assert (await review_recorded(bot, 1)).message_id == review.id
    assert reviews.messages == [review]
    ix = await fakecord.click(world.mod, review, label="Approve")
    await ix.wait_acknowledged()
    assert (await result_of(fakecord, alice, status)).attachments
