"""/videoadmin end to end: a moderator sets something by command, a member meets it.

The real bot runs against the Discord emulator and the GMI simulator. Each test reads
what people would see: the moderator's private answer, the member's refusal (which limit,
set by whom, when it frees up), the public channel, the mod-log, and what reached the API.
"""

from __future__ import annotations

import asyncio

import pytest

from bot.clock import ManualClock
from bot.moderation.requester import Requester
from bot.quotas.catalogue import Window
from bot.quotas.windows import window_bounds
from tests.fakecord import ScenarioError
from tests.support import sample_files
from tests.support.video import final_status


def seen(ix) -> str:
    """Everything the invoker saw privately, as one text."""
    parts = []
    for message in ix.ephemeral_messages:
        parts.append(message.content or "")
        for embed in message.embeds:
            parts += [embed.get("title", ""), embed.get("description", "")]
            parts += [f"{f['name']}: {f['value']}" for f in embed.get("fields", [])]
    return "\n".join(parts)


async def admin(emu, command: str, /, as_=None, where=None, **options):
    """Run ``/videoadmin <command>`` as the moderator (or ``as_``) and wait for the answer."""
    world = emu.default
    ix = await emu.run_command(
        as_ or world.mod, where or world.channel, f"videoadmin {command}", **options
    )
    await ix.wait_acknowledged()
    return ix


def open_to_everyone(emu) -> None:
    """What a server admin does in Server Settings > Integrations: let @everyone use
    /videoadmin. Discord then shows it to everyone; the member's real permissions still
    arrive with each interaction."""
    emu.guild_commands[emu.default.guild.id][(1, "videoadmin")]["default_member_permissions"] = None


def refusal(ix) -> str:
    (message,) = ix.ephemeral_messages
    assert not ix.public_messages
    return message.content


async def accepted(person, *, finish: bool = True, **options):
    """Generate, expect the public status message, and (by default) wait for the result,
    so that no job is half-recorded when the test ends."""
    ix = await person.generate(prompt=options.pop("prompt", "a fox"), **options)
    assert not ix.ephemeral_messages, seen(ix)
    status = await person.status_message(ix)
    if finish:
        await person.wait_result(status)
    return status


async def outcome_recorded(bot, job_id: int) -> None:
    """Wait until the bot has recorded the job's outcome as posted (it writes that just
    after the post the test sees)."""
    for _ in range(250):
        if (await bot.services.jobs.get(job_id)).delivered_at is not None:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"job {job_id}: outcome never recorded as posted")


# -- limits a member meets ------------------------------------------------------------------


async def test_generations_per_day_set_by_command(fakecord, video_bot, person, gmi_sim):
    await video_bot()
    ix = await admin(fakecord, "limit set", name="generations_per_day", value="2")
    assert "generations_per_day" in seen(ix) and "(none) → 2" in seen(ix)
    alice = person()
    await accepted(alice)
    await accepted(alice)
    text = refusal(await alice.generate(prompt="a third"))
    assert "You've made 2 videos today, and your limit is 2 videos" in text
    assert "(set for the whole server)" in text and "resets <t:" in text
    await gmi_sim.wait_for_calls("submit", 2)
    assert len(gmi_sim.calls("submit")) == 2


async def test_seconds_per_window(fakecord, video_bot, person, gmi_sim):
    await video_bot()
    await admin(fakecord, "limit set", name="seconds_per_week", value="10")
    alice = person()
    await accepted(alice, duration=6)
    text = refusal(await alice.generate(prompt="x", duration=6))
    assert "6-second video would go past your 10 seconds of video this week" in text
    assert "4 seconds left" in text and "(set for the whole server)" in text and "<t:" in text
    await accepted(alice, duration=4)


async def test_cost_per_window(fakecord, video_bot, person, gmi_sim):
    await video_bot()
    await admin(fakecord, "limit set", name="cost_per_month", value="1")
    alice = person()
    await accepted(alice)  # 720p, 5 s: 0.80 USD
    text = refusal(await alice.generate(prompt="x"))
    assert "estimated-cost limit of 1.00 USD this month" in text and "0.20 USD left" in text
    cheap = dict(resolution="480p", duration=4, prompt="cheap")  # 0.32 USD
    assert "0.20 USD left" in refusal(await alice.generate(**cheap))
    ix = await admin(fakecord, "quota grant", member=alice.member, window="month", cost=0.2)
    assert "+0.20 USD of estimated cost" in seen(ix)
    await accepted(alice, **cheap)
    assert len(gmi_sim.calls("submit")) <= 2


async def test_concurrent_jobs(fakecord, video_bot, person, gmi_sim):
    await video_bot()
    await admin(fakecord, "limit set", name="concurrent_jobs", value="1")
    gmi_sim.script_next(hold=True)
    alice = person()
    first = await accepted(alice, finish=False)
    await gmi_sim.wait_for_calls("submit")
    text = refusal(await alice.generate(prompt="second"))
    assert "You already have 1 video in progress" in text and "(set for the whole server)" in text
    gmi_sim.release(next(iter(gmi_sim.requests)))
    await alice.wait_result(first)
    await accepted(alice, prompt="after the first finished")


async def test_cooldown_frees_up_when_the_clock_moves(fakecord, video_bot, person, gmi_sim):
    clock = ManualClock.realtime()
    await video_bot(clock=clock)
    ix = await admin(fakecord, "limit set", name="cooldown_seconds", value="2m")
    assert "(none) → 120s" in seen(ix)
    alice = person()
    await accepted(alice)
    text = refusal(await alice.generate(prompt="again"))
    assert "you may start a video every 120 seconds" in text and "(set for the whole server)" in text and "<t:" in text
    clock.advance(121)
    await accepted(alice, prompt="later")


async def test_gates_refuse_before_any_api_call(fakecord, video_bot, person, gmi_sim):
    await video_bot()
    for name, value in [
        ("max_duration", "5"),
        ("max_resolution", "480p"),
        ("web_search", "deny"),
        ("reference_videos", "deny"),
        ("reference_audios", "deny"),
    ]:
        await admin(fakecord, "limit set", name=name, value=value)
    alice = person()
    image = fakecord.attachment(
        "a.png", sample_files.png(800, 600), content_type="image/png", width=800, height=600
    )
    clip = fakecord.attachment("c.mp4", sample_files.mp4(), content_type="video/mp4")
    song = fakecord.attachment("s.mp3", sample_files.mp3(), content_type="audio/mpeg")
    cases = [
        (dict(duration=6, resolution="480p"), "at most 5 seconds long"),
        (dict(resolution="720p"), "highest resolution you may use is 480p"),
        (dict(resolution="480p", web_search=True), "Web search is turned off"),
        (dict(resolution="480p", reference_video_1=clip), "Reference videos are not allowed"),
        (
            dict(resolution="480p", reference_image_1=image, reference_audio_1=song),
            "Reference audio are not allowed",
        ),
    ]
    for options, expected in cases:
        text = refusal(await alice.generate(prompt="x", **options))
        assert expected in text and "(set for the whole server)" in text, (options, text)
    await admin(fakecord, "limit set", name="reference_images", value="deny")
    text = refusal(await alice.generate(prompt="x", resolution="480p", first_frame=image))
    assert "Image inputs (reference images, frames) are not allowed" in text
    assert gmi_sim.calls("submit") == []
    assert alice.channel.messages == []


async def test_allowed_channels_point_members_there(fakecord, video_bot, person, gmi_sim):
    await video_bot()
    world = fakecord.default
    videos = world.guild.add_text_channel("videos")
    ix = await admin(fakecord, "channels allow", channel=videos)
    assert f"<#{videos.id}>" in seen(ix)
    text = refusal(await person().generate(prompt="here"))
    assert "can't be generated in this channel" in text and f"<#{videos.id}>" in text
    text = refusal(await person(channel=world.thread).generate(prompt="in a thread"))
    assert f"<#{videos.id}>" in text
    await accepted(person(channel=videos))
    ix = await admin(fakecord, "channels list")
    assert f"<#{videos.id}>" in seen(ix)
    await admin(fakecord, "channels disallow", channel=videos)
    await accepted(person(), prompt="anywhere again")


async def test_monthly_budget_stops_jobs_and_says_when_it_resets(
    fakecord, video_bot, person, gmi_sim
):
    bot = await video_bot()
    ix = await admin(fakecord, "settings budget", amount=1.0)
    assert "(none) → 1.0" in seen(ix)
    await accepted(person())  # 0.80 of 1.00
    text = refusal(await person(fakecord.default.bob).generate(prompt="bob's"))
    _, resets = window_bounds(Window.MONTH, bot.clock())
    assert "monthly video budget is used up" in text and "0.80 USD of 1.00 USD" in text
    assert f"<t:{int(resets)}:" in text
    ix = await admin(fakecord, "settings show")
    assert "0.80 USD of 1.00 USD spent" in seen(ix)


async def test_block_with_reason_and_expiry(fakecord, video_bot, person, gmi_sim):
    clock = ManualClock.realtime()
    await video_bot(clock=clock)
    alice = person()
    ix = await admin(
        fakecord, "block add", member=fakecord.default.alice, reason="spam", expires="2h"
    )
    assert "blocked" in seen(ix) and "spam" in seen(ix)
    expires = int(clock() + 7200)
    text = refusal(await alice.generate(prompt="x"))
    assert "blocked you from generating videos here: spam" in text
    assert abs(int(text.split("block ends <t:")[1].split(":")[0]) - expires) <= 2
    ix = await admin(fakecord, "block list")
    assert f"<@{alice.member.id}>: spam" in seen(ix)
    clock.advance(7201)
    await accepted(alice)
    ix = await admin(
        fakecord, "block add", member=fakecord.default.alice, reason="again", expires="soon"
    )
    assert "not a length of time" in refusal(ix)


async def test_blocked_word_is_refused_with_no_api_call_and_listed(
    fakecord, video_bot, person, gmi_sim
):
    bot = await video_bot()
    ix = await admin(fakecord, "filter add", pattern="forbidden fruit")
    assert "forbidden fruit" in seen(ix)
    alice = person()
    text = refusal(await alice.generate(prompt="A FORBIDDEN   fruit on a table"))
    assert "blocked" in text
    await bot.services.tasks.drain()
    assert gmi_sim.calls("submit") == []
    ix = await admin(fakecord, "filter events")
    # as the prompt was stored: its run of spaces collapsed
    assert f"<@{alice.member.id}>" in seen(ix) and "FORBIDDEN fruit on a table" in seen(ix)
    choices = await fakecord.autocomplete(
        fakecord.default.mod,
        fakecord.default.channel,
        "videoadmin filter remove",
        focused="pattern",
        value="fruit",
    )
    (choice,) = choices
    assert f"**#{choice['value']}** word `forbidden fruit`" in seen(
        await admin(fakecord, "filter list")
    )
    await admin(fakecord, "filter remove", pattern=choice["value"])
    assert "No words or patterns" in seen(await admin(fakecord, "filter list"))
    await accepted(alice, prompt="a forbidden fruit, now allowed")


async def test_blocked_prompt_is_reported_in_the_mod_log_without_pings(
    fakecord, video_bot, person, gmi_sim
):
    await video_bot()
    modlog = fakecord.default.guild.add_text_channel("mod-log")
    await admin(fakecord, "settings modlog", channel=modlog)
    await admin(fakecord, "filter add", pattern="forbidden fruit")
    alice = person()
    refusal(await alice.generate(prompt="a forbidden fruit @everyone"))
    await fakecord.wait_for(
        lambda: len(modlog.messages) == 3, 5, "the refused prompt in the mod-log"
    )
    report = modlog.messages[-1]
    assert f"<@{alice.member.id}>" in report.content
    assert "forbidden fruit @\u200beveryone" in report.content  # shown, and inert even as text
    assert report.mentions == [] and not report.mention_everyone


# -- who a limit applies to, and when it resets -----------------------------------------------


async def test_role_is_more_generous_and_member_override_wins(fakecord, video_bot, person, gmi_sim):
    await video_bot()
    world = fakecord.default
    await admin(fakecord, "limit set", name="generations_per_day", value="1")
    ix = await admin(
        fakecord, "limit set", name="generations_per_day", value="3", role=world.artists
    )
    assert f"role <@&{world.artists.id}>: (none) → 3" in seen(ix)

    async def quota_of(member) -> str:
        ix = await fakecord.run_command(member, world.channel, "video quota")
        await ix.wait_acknowledged()
        return seen(ix)

    assert "0 of 3 videos (set for the Artists role)" in await quota_of(world.alice)
    assert "0 of 1 video (set for the whole server)" in await quota_of(world.bob)
    bob = person(world.bob)
    await accepted(bob)
    assert "(set for the whole server)" in refusal(await bob.generate(prompt="again"))

    await admin(fakecord, "limit set", name="generations_per_day", value="2", member=world.alice)
    assert "0 of 2 videos (set by a moderator for you)" in await quota_of(world.alice)
    ix = await admin(fakecord, "limit list", member=world.alice)
    assert "generations_per_day`: 2 (member override)" in seen(ix)
    ix = await admin(fakecord, "limit list")
    assert all(f"= **{v}**" in seen(ix) for v in ("1", "2", "3"))
    ix = await admin(
        fakecord,
        "limit set",
        name="generations_per_day",
        value="1",
        role=world.artists,
        member=world.alice,
    )
    assert "either `role` or `member`" in refusal(ix)
    ix = await admin(fakecord, "limit clear", name="generations_per_day", member=world.alice)
    assert "2 → (none)" in seen(ix)
    assert "0 of 3 videos (set for the Artists role)" in await quota_of(world.alice)
    hints = await fakecord.autocomplete(
        world.mod, world.channel, "videoadmin limit set", focused="value", name="max_resolution"
    )
    assert [h["value"] for h in hints] == ["480p", "720p", "1080p", "unlimited"]


async def test_window_resets_at_the_servers_hour_and_timezone(fakecord, video_bot, person, gmi_sim):
    clock = ManualClock.realtime()
    bot = await video_bot(clock=clock)
    choices = await fakecord.autocomplete(
        fakecord.default.mod,
        fakecord.default.channel,
        "videoadmin settings timezone",
        focused="name",
        value="tokyo",
    )
    assert {"name": "Asia/Tokyo", "value": "Asia/Tokyo"} in choices
    ix = await admin(fakecord, "settings timezone", name="Asia/Tokyo")
    assert "UTC → Asia/Tokyo" in seen(ix)
    assert "0 → 6" in seen(await admin(fakecord, "settings resethour", hour=6))
    await admin(fakecord, "limit set", name="generations_per_day", value="1")
    alice = person()
    await accepted(alice)
    text = refusal(await alice.generate(prompt="again"))
    _, resets = window_bounds(Window.DAY, bot.clock(), "Asia/Tokyo", 6)
    assert f"<t:{int(resets)}:R>" in text
    clock.advance(resets - bot.clock() + 1)
    await accepted(alice, prompt="a new day")
    assert "not a time zone I know" in refusal(
        await admin(fakecord, "settings timezone", name="Mars/Olympus")
    )


async def test_twenty_at_once_with_five_left_accept_exactly_five(
    fakecord, video_bot, person, gmi_sim
):
    await video_bot()
    await admin(fakecord, "limit set", name="generations_per_day", value="5")
    gmi_sim.script_next(times=20, hold=True)  # keep them running: nothing finishes mid-race
    alice = person()

    async def one(n: int):
        ix = await fakecord.run_command(
            alice.member, alice.channel, "video generate text", prompt=f"race {n}"
        )
        return await ix.wait_acknowledged()

    answers = await asyncio.gather(*(one(n) for n in range(20)))
    public = [ix for ix in answers if ix.public_messages]
    refused = [ix for ix in answers if ix.ephemeral_messages]
    assert len(public) == 5 and len(refused) == 15
    assert all("made 5 videos today, and your limit is 5 videos" in refusal(ix) for ix in refused)
    await gmi_sim.wait_for_calls("submit", 5)
    for request_id in list(gmi_sim.requests):
        gmi_sim.release(request_id)
    for ix in public:
        await alice.wait_result(await ix.wait_response_message())
    assert len(gmi_sim.calls("submit")) == 5


async def test_refund_on_failure_and_refunds_turned_off(fakecord, video_bot, person, gmi_sim):
    await video_bot()
    await admin(fakecord, "limit set", name="generations_per_day", value="1")
    alice = person()
    gmi_sim.script_next(fail_reason="the model refused")
    failed = await accepted(alice, prompt="fails")
    assert "failed" in alice.replies_to(failed)[0].content
    await accepted(alice, prompt="the failure was given back")

    await admin(fakecord, "quota reset", member=alice.member, window="day")
    ix = await admin(fakecord, "settings refunds", enabled=False)
    assert "on → off" in seen(ix)
    gmi_sim.script_next(fail_reason="the model refused again")
    await accepted(alice, prompt="fails, and counts")
    assert "You've made 1 video today, and your limit is 1 video" in refusal(await alice.generate(prompt="no refund"))


# -- who may moderate ---------------------------------------------------------------------


async def test_non_moderator_refused_even_when_the_server_opens_the_command(
    fakecord, video_bot, person, gmi_sim
):
    bot = await video_bot()
    world = fakecord.default
    with pytest.raises(ScenarioError, match="cannot see /videoadmin"):
        await fakecord.run_command(
            world.alice,
            world.channel,
            "videoadmin limit set",
            name="generations_per_day",
            value="100",
        )
    open_to_everyone(fakecord)
    attempts = [
        ("limit set", dict(name="generations_per_day", value="100")),
        ("limit list", {}),
        ("settings show", {}),
        ("settings budget", dict(amount=5.0)),
        ("settings modrole", dict(role=world.artists)),
        ("block add", dict(member=world.bob, reason="mine")),
        ("filter add", dict(pattern="cats")),
        ("usage server", {}),
        ("usage export", {}),
        ("quota grant", dict(member=world.alice, window="day", generations=100)),
        ("audit", {}),
    ]
    for command, options in attempts:
        text = refusal(await admin(fakecord, command, as_=world.alice, **options))
        assert "Only moderators can do this" in text, (command, text)
    ix = await admin(fakecord, "limit list")
    assert "No limits are set" in seen(ix)
    assert await bot.services.audit.listed(_requester(world.mod, world)) == []
    assert not any(m.attachments for m in world.channel.messages)


def _requester(member, world):
    return Requester(member.id, world.guild.id, world.channel.id, can_manage_guild=True)


async def test_moderator_role_set_by_an_admin(fakecord, video_bot, person, gmi_sim):
    await video_bot()
    world = fakecord.default
    helpers = world.guild.add_role("Video helpers")
    world.bob.add_role(helpers)
    open_to_everyone(fakecord)  # and the admin lets the role see the command
    before = refusal(
        await admin(fakecord, "limit set", as_=world.bob, name="cooldown_seconds", value="1m")
    )
    assert "Only moderators" in before
    ix = await admin(fakecord, "settings modrole", as_=world.owner, role=helpers)
    assert f"(none) → <@&{helpers.id}>" in seen(ix)
    ix = await admin(fakecord, "limit set", as_=world.bob, name="cooldown_seconds", value="1m")
    assert "(none) → 60s" in seen(ix)
    text = refusal(await admin(fakecord, "settings modrole", as_=world.bob))
    assert "Only members with Manage Server can set the moderator role" in text


async def test_moderators_can_be_exempted_from_member_limits_but_not_by_themselves(
    fakecord, video_bot, person, gmi_sim
):
    await video_bot()
    world = fakecord.default
    helpers = world.guild.add_role("Video helpers")
    world.bob.add_role(helpers)
    open_to_everyone(fakecord)  # and the admin lets the moderator role see the command
    await admin(fakecord, "settings modrole", as_=world.owner, role=helpers)
    await admin(fakecord, "limit set", name="generations_per_day", value="1")
    bob = person(world.bob)
    await accepted(bob)
    assert "your limit is 1 video" in refusal(await bob.generate(prompt="again"))

    text = refusal(await admin(fakecord, "settings exempt", as_=world.bob, enabled=True))
    assert "Only members with Manage Server can exempt moderators" in text
    ix = await admin(fakecord, "settings exempt", as_=world.owner, enabled=True)
    assert "set whether moderators are exempt from limits in the server: not exempt → exempt" in seen(ix)
    ix = await admin(fakecord, "settings show")
    assert "Moderators and owner: exempt from member limits" in seen(ix)

    await accepted(bob, prompt="a moderator's second video")
    ix = await fakecord.run_command(world.bob, world.channel, "video quota")
    await ix.wait_acknowledged()
    assert "exempt from member limits here (a server setting)" in seen(ix)
    alice = person()
    await accepted(alice)
    assert "your limit is 1 video" in refusal(await alice.generate(prompt="members still count"))


# -- what moderators see ------------------------------------------------------------------


async def test_audit_trail_and_mod_log_channel(fakecord, video_bot, person, gmi_sim):
    await video_bot()
    world = fakecord.default
    modlog = world.guild.add_text_channel("mod-log")
    await admin(fakecord, "settings modlog", channel=modlog)
    await admin(fakecord, "limit set", name="generations_per_day", value="3")
    await admin(fakecord, "limit set", name="generations_per_day", value="5")
    await admin(fakecord, "block add", member=world.alice, reason="too many cats")
    await admin(fakecord, "block remove", member=world.alice)
    await fakecord.wait_for(lambda: len(modlog.messages) == 5, 5, "five mod-log posts")
    posted = [m.content for m in modlog.messages]
    assert f"mod-log channel of the server: (none) → <#{modlog.id}>" in posted[0]
    assert "set the limit generations_per_day for the server: (none) → 3" in posted[1]
    assert "set the limit generations_per_day for the server: 3 → 5" in posted[2]
    assert f"blocked <@{world.alice.id}>" in posted[3] and "too many cats" in posted[3]
    assert all(m.mentions == [] and not m.mention_roles for m in modlog.messages)

    text = seen(await admin(fakecord, "audit"))
    lines = [line for line in text.splitlines() if "<@" in line]
    assert "unblocked" in lines[0] and "3 → 5" in lines[2] and "(none) → 3" in lines[3]
    text = seen(await admin(fakecord, "audit", member=world.alice))
    assert "blocked" in text and "generations_per_day" not in text
    assert "Nothing recorded on this page" in seen(await admin(fakecord, "audit", page=2))


async def test_usage_top_and_csv_export(fakecord, video_bot, person, gmi_sim):
    await video_bot()
    world = fakecord.default
    alice, bob = person(), person(world.bob)
    await accepted(alice, prompt="one")
    await accepted(alice, prompt="two", duration=6)
    await accepted(bob, prompt="three")
    text = seen(await admin(fakecord, "usage member", member=world.alice))
    assert "**2** counted of 2" in text and "**11**" in text and "1.76 USD" in text
    text = seen(await admin(fakecord, "usage server", period="day"))
    assert "Members who generated: **2**" in text and "**3** counted" in text
    text = seen(await admin(fakecord, "usage top", by="generations"))
    assert text.index(f"1. <@{world.alice.id}>") < text.index(f"2. <@{world.bob.id}>")
    text = seen(await admin(fakecord, "usage top", previous=True))
    assert "Top members by cost last month" in text and "Nobody generated" in text
    text = seen(await admin(fakecord, "usage server", period="day", previous=True))
    assert "Server usage yesterday" in text and "**0** counted" in text

    ix = await admin(fakecord, "usage export", period="week")
    (message,) = ix.ephemeral_messages
    (csv_file,) = message.attachments
    assert csv_file.filename.endswith(".csv")
    rows = csv_file.data.decode().splitlines()
    assert rows[0].startswith("job_id,created_at_utc,user_id")
    assert len(rows) == 4 and sum(f",{world.alice.id}," in r for r in rows) == 2


async def test_job_cancel_and_delete_by_a_moderator_not_by_another_member(
    fakecord, video_bot, person, gmi_sim
):
    bot = await video_bot()
    world = fakecord.default
    open_to_everyone(fakecord)
    await admin(fakecord, "limit set", name="generations_per_day", value="1")
    bob = person(world.bob)
    gmi_sim.script_next(hold=True)
    status = await accepted(bob, prompt="bob's video", finish=False)
    await gmi_sim.wait_for_calls("submit")
    (job,) = await bot.services.jobs.recent_for_user(world.bob.id, world.guild.id, limit=1)

    text = refusal(await admin(fakecord, "job cancel", as_=world.alice, job=str(job.id)))
    assert "Only the member who asked for this job, or a moderator" in text
    click = await fakecord.click(world.alice, status, label="Cancel")
    await click.wait_acknowledged()
    assert "Only the member who asked" in refusal(click)
    assert (
        await fakecord.autocomplete(
            world.alice, world.channel, "videoadmin job cancel", focused="job"
        )
        == []
    )
    (choice,) = await fakecord.autocomplete(
        world.mod, world.channel, "videoadmin job cancel", focused="job"
    )
    assert choice["value"] == str(job.id) and "bob's video" in choice["name"]

    ix = await admin(fakecord, "job cancel", job=f"#{job.id}")
    assert f"cancelled job #{job.id} of <@{world.bob.id}>" in seen(ix)
    result = await bob.wait_result(status)
    assert "cancelled" in result.content
    assert "was cancelled" in await final_status(fakecord, status)
    await outcome_recorded(bot, job.id)  # a job is deleted only once its outcome is posted

    ix = await admin(fakecord, "job delete", job=str(job.id))
    assert f"deleted job #{job.id} of <@{world.bob.id}>" in seen(ix)
    await fakecord.wait_for(
        lambda: status.deleted and result.deleted, 5, "the job's messages deleted"
    )
    assert await bot.services.jobs.get(job.id) is None
    text = seen(await admin(fakecord, "audit", member=world.bob))
    assert f"cancelled job #{job.id}" in text and f"deleted job #{job.id}" in text
    # The provider had it and has no cancel call: Bob gets his quota back, the server pays.
    text = seen(await admin(fakecord, "usage member", member=world.bob))
    assert "**0** counted of 1" in text and "Estimated spend: **0.80 USD**" in text
    await accepted(bob, prompt="the cancelled job was given back")
