"""Price before spending, end to end: a member (or the server, above an amount) sees a job's
estimated cost and what it leaves of their quota and of the budget before it is stored,
and confirms or cancels it.

The real bot runs against the Discord emulator and the GMI simulator; each test reads the
member's private preview, the public channel, the database and what reached the provider.
At the default prices a 720p 5 s video is estimated at 0.80 USD and a 480p 4 s one at 0.32.
"""

from __future__ import annotations

import pytest

from bot.clock import ManualClock
from bot.errors import PermissionDenied
from bot.jobs.previews import PREVIEW_LIFETIME
from bot.moderation.requester import Requester
from tests.cogs.videoadmin.test_videoadmin_e2e import accepted, admin, refusal, seen


def preview_text(message) -> str:
    """The preview's embed as one text: title, prompt, then each field."""
    (embed,) = message.embeds
    parts = [embed["title"], embed["description"]]
    parts += [f"{f['name']}: {f['value']}" for f in embed["fields"]]
    return "\n".join(parts)


async def previewed(person, **options):
    """Generate with a preview expected: the private answer with Confirm and Cancel, and
    nothing public."""
    ix = await person.generate(prompt=options.pop("prompt", "a fox"), **options)
    assert not ix.public_messages, seen(ix)
    (preview,) = ix.ephemeral_messages
    assert [b["label"] for b in preview.buttons()] == ["Confirm", "Cancel"], preview_text(preview)
    return preview


async def test_the_preview_shows_cost_quota_and_budget_left_then_confirm_posts_one_job(
    fakecord, video_bot, person, gmi_sim
):
    bot = await video_bot()
    await admin(fakecord, "limit set", name="generations_per_day", value="3")
    await admin(fakecord, "limit set", name="cost_per_month", value="2")
    await admin(fakecord, "settings budget", amount=5.0)
    alice = person()
    await accepted(alice)  # job 1: 0.80 USD
    preview = await previewed(alice, prompt="a *bold* fox, @everyone", confirm=True)
    text = preview_text(preview)
    assert "Confirm this video?" in text
    assert "a \\*bold\\* fox, @\u200beveryone" in text  # shown as typed, pinging no one
    assert "Settings: 5s · 720p" in text and "Estimated cost: ≈ 0.80 USD" in text
    assert "**Today:** 1 of 3 videos left" in text  # one made, this one, one more
    assert "**This month:** 0.40 USD of 2.00 USD left" in text
    assert "**Server budget:** 3.40 USD of 5.00 USD left this month" in text
    assert "Confirm by: <t:" in text
    assert not preview.mentions and not preview.mention_everyone
    assert await bot.services.jobs.get(2) is None  # nothing stored...
    assert len(gmi_sim.calls("submit")) == 1  # ...nor sent

    ix = await fakecord.click(alice.member, preview, label="Confirm")
    status = await ix.wait_response_message()
    assert not status.ephemeral and status.embeds[0]["footer"]["text"].startswith("Job #2")
    result = await alice.wait_result(status)
    assert result.attachments and result.mentions == [alice.member.id]
    assert len(gmi_sim.calls("submit")) == 2
    await fakecord.wait_for(lambda: not preview.components, 5, "the preview to lose its buttons")
    assert preview.content == "✅ Confirmed: this is job #2, below."
    job = await bot.services.jobs.get(2)
    assert job.request.prompt == "a *bold* fox, @everyone" and job.estimated_cost == 0.80


async def test_cancel_stores_and_sends_nothing(fakecord, video_bot, person, gmi_sim):
    bot = await video_bot()
    alice = person()
    preview = await previewed(alice, confirm=True, resolution="480p", duration=4)
    assert "Estimated cost: ≈ 0.32 USD" in preview_text(preview)
    assert "No quota or budget limits this job here." in preview_text(preview)
    ix = await fakecord.click(alice.member, preview, label="Cancel")
    await ix.wait_acknowledged()
    assert preview.content == "Cancelled: nothing was stored or charged."
    assert not preview.embeds and not preview.components
    assert await bot.services.jobs.get(1) is None
    assert gmi_sim.calls("submit") == []
    assert not [m for m in alice.channel.messages if not m.ephemeral]


async def test_the_server_asks_above_its_amount_for_commands_and_buttons_alike(
    fakecord, video_bot, person, gmi_sim
):
    bot = await video_bot()
    alice, bob = person(), person(fakecord.default.bob)
    first = await accepted(alice)  # 0.80, before the setting
    modlog = fakecord.default.guild.add_text_channel("mod-log")
    await admin(fakecord, "settings modlog", channel=modlog)
    ix = await admin(fakecord, "settings confirm", amount=0.5)
    assert "(none) → 0.50 USD" in seen(ix)
    assert "every job estimated above 0.50 USD" in seen(ix)
    await fakecord.wait_for(lambda: len(modlog.messages) == 2, 5, "the change in the mod-log")
    assert "set the cost above which members confirm jobs in the server: (none) → 0.50 USD" in (
        modlog.messages[1].content
    )

    await accepted(bob, resolution="480p", duration=4)  # 0.32: not above, straight through
    await previewed(bob)  # 0.80: above, shown first though bob never asked
    result = alice.replies_to(first)[0]
    reroll = await fakecord.click(bob.member, result, label="Re-roll")
    await reroll.wait_acknowledged()
    (preview,) = reroll.ephemeral_messages  # a button's job is priced first too
    assert "Builds on: #1" in preview_text(preview) and not reroll.public_messages
    mine = await bot.services.jobs.recent_for_user(bob.member.id, fakecord.default.guild.id, limit=9)
    assert [job.id for job in mine] == [2]  # the 480p one alone
    assert len(gmi_sim.calls("submit")) == 2

    ix = await admin(fakecord, "settings show")
    assert "Confirm before spending: every job estimated above 0.50 USD" in seen(ix)
    await admin(fakecord, "settings confirm")  # no amount: only when members ask
    await accepted(bob, prompt="again, no preview")


async def test_two_confirms_at_once_store_one_job(fakecord, video_bot, person, gmi_sim):
    bot = await video_bot()
    alice = person()
    preview = await previewed(alice, confirm=True)
    clicks = [await fakecord.click(alice.member, preview, label="Confirm") for _ in range(2)]
    for click in clicks:
        await click.wait_acknowledged()
    (status,) = [m for click in clicks for m in click.public_messages]
    (told,) = [m for click in clicks for m in click.ephemeral_messages]
    assert told.content == "You already confirmed this: it is job #1."
    await alice.wait_result(status)
    assert await bot.services.jobs.get(2) is None
    assert len(gmi_sim.calls("submit")) == 1


async def test_an_expired_preview_says_so_and_stores_nothing(fakecord, video_bot, person, gmi_sim):
    clock = ManualClock.realtime()
    bot = await video_bot(clock=clock)
    alice = person()
    preview = await previewed(alice, confirm=True)
    clock.advance(PREVIEW_LIFETIME + 1)
    ix = await fakecord.click(alice.member, preview, label="Confirm")
    await ix.wait_acknowledged()
    assert "This preview expired: a price holds for 14 minutes" in refusal(ix)
    ix = await fakecord.click(alice.member, preview, label="Cancel")
    await ix.wait_acknowledged()
    assert "This preview expired" in refusal(ix)
    assert await bot.services.jobs.get(1) is None
    assert gmi_sim.calls("submit") == []


async def test_confirm_is_refused_when_the_quota_was_used_meanwhile(
    fakecord, video_bot, person, gmi_sim
):
    bot = await video_bot()
    await admin(fakecord, "limit set", name="generations_per_day", value="1")
    alice = person()
    preview = await previewed(alice, confirm=True, prompt="the one I priced")
    assert "**Today:** 0 of 1 video left" in preview_text(preview)
    await accepted(alice, prompt="made meanwhile")  # job 1 takes the day's one video
    ix = await fakecord.click(alice.member, preview, label="Confirm")
    await ix.wait_acknowledged()
    assert "You've made 1 video today, and your limit is 1 video" in refusal(ix)
    assert await bot.services.jobs.get(2) is None
    assert len(gmi_sim.calls("submit")) == 1
    assert preview.components  # still pending: it can be confirmed once the day resets


async def test_only_the_member_who_asked_can_confirm(fakecord, video_bot, person, gmi_sim):
    bot = await video_bot()
    world = fakecord.default
    await previewed(person(), confirm=True)
    bob = Requester(user_id=world.bob.id, guild_id=world.guild.id, channel_id=world.channel.id)
    with pytest.raises(PermissionDenied, match="only the member who asked"):
        await bot.services.job_previews.usable(bob, 1)  # what a forged click by bob meets


async def test_confirm_works_after_a_restart(fakecord, gmi_sim, bot_process):
    world = fakecord.default
    await bot_process.start()
    ix = await fakecord.run_command(
        world.alice, world.channel, "video generate text", prompt="a heron", confirm=True
    )
    await ix.wait_acknowledged()
    (preview,) = ix.ephemeral_messages
    await bot_process.kill()
    await bot_process.start()
    click = await fakecord.click(world.alice, preview, label="Confirm")
    status = await click.wait_response_message()
    await fakecord.wait_for(
        lambda: [m for m in world.channel.messages if m.reply_to == status.id], 20, "the result"
    )
    await bot_process.delivered(1)
    assert len(gmi_sim.calls("submit")) == 1
    await fakecord.wait_for(lambda: not preview.components, 5, "the preview to lose its buttons")
