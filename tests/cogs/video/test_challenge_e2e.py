"""Challenges end to end: the real bot, the Discord emulator, the GMI simulator, and the
bot's clock moved past the deadline. Entries by button and by generating in the
challenge's thread, votes by several members (moved, refused for one's own entry), a
restart before the deadline, then the winners, their rewards and the audit log.
"""

from __future__ import annotations

from bot.clock import ManualClock
from tests.cogs.videoadmin.test_videoadmin_e2e import admin, open_to_everyone, refusal, seen

DAY = 86400


def entries(channel, author_id: int | None = None):
    return [
        m for m in channel.messages
        if m.content.startswith("🎬 Entry") and (author_id is None or f"<@{author_id}>" in m.content)
    ]  # fmt: skip


def results(channel):
    return [m for m in channel.messages if m.embeds and m.embeds[0].get("title", "").startswith("🏆 Results")]


async def made(person, prompt: str):
    status = await person.status_message(await person.generate(prompt=prompt))
    return await person.wait_result(status)


async def thread_result(fakecord, person, prompt: str):
    """Generate in a thread: the result is the bot's next post there after the status."""
    ix = await person.generate(prompt=prompt)
    status = await person.status_message(ix)
    def posted():
        return [m for m in person.channel.messages if m.id > status.id and m.attachments]

    await fakecord.wait_for(posted, 15, "the result in the thread")
    return posted()[0]


async def clicked(fakecord, member, message, label: str):
    ix = await fakecord.click(member, message, label=label)
    await ix.wait_acknowledged()
    return ix


async def test_a_challenge_from_entries_to_winners_and_rewards_across_a_restart(
    fakecord, video_bot, person, gmi_sim
):
    clock = ManualClock.realtime()
    bot = await video_bot(clock=clock)
    world = fakecord.default
    guild, channel = world.guild, world.channel
    carol, dave = guild.add_member("carol"), guild.add_member("dave")
    champions = guild.add_role("Champions")
    guild.bot_member.add_role(guild.add_role("Video bot", manage_roles=True))  # above it
    await admin(fakecord, "limit set", name="generations_per_month", value="5")

    ix = await admin(
        fakecord, "challenge start", theme="a city at night", deadline="2d",
        reward_videos=2, reward_role=champions,
    )  # fmt: skip
    assert "started challenge #1 in" in seen(ix) and "“a city at night”" in seen(ix)
    (announcement,) = [m for m in channel.messages if m.embeds and m.embeds[0]["title"] == "🏆 A video challenge"]
    text = str(announcement.embeds[0])
    assert "a city at night" in text and "+2 videos of quota this month" in text
    assert f"<@&{champions.id}>" in text and "hidden until the end" in text
    thread = announcement.thread
    assert thread is not None

    # Entering with the button on one's own result; someone else's is refused.
    alice = person()
    first = await made(alice, "neon rain on a tram")
    assert "Enter challenge" in [b["label"] for b in first.buttons()]
    ix = await clicked(fakecord, world.bob, first, "Enter challenge")
    assert f"Only <@{world.alice.id}>, who made #1" in refusal(ix)
    ix = await clicked(fakecord, world.alice, first, "Enter challenge")
    assert "Entered #1 in the challenge" in seen(ix)
    await fakecord.wait_for(lambda: entries(channel, world.alice.id), 10, "alice's entry post")
    (alice_entry,) = entries(channel, world.alice.id)
    assert alice_entry.attachments and alice_entry.attachments[0].filename == "entry-1.mp4"

    # One entry per member: a second is refused, and says why.
    second = await made(alice, "a second try")
    ix = await clicked(fakecord, world.alice, second, "Enter challenge")
    assert "this challenge's limit of 1 per member" in refusal(ix)

    # Generating in the challenge's thread enters the video once delivered.
    made_there = await thread_result(fakecord, person(world.bob, thread), "a lighthouse over the city")
    assert "Enter challenge" not in [b["label"] for b in made_there.buttons()]  # it enters itself
    await fakecord.wait_for(lambda: entries(channel, world.bob.id), 10, "bob's entry from the thread")
    (bob_entry,) = entries(channel, world.bob.id)

    # Votes: one per member, moved by voting again, never for one's own entry.
    ix = await clicked(fakecord, world.alice, alice_entry, "Vote")
    assert "You can't vote for your own entry" in refusal(ix)
    for voter, entry in [(world.alice, bob_entry), (world.bob, alice_entry), (carol, alice_entry)]:
        ix = await clicked(fakecord, voter, entry, "Vote")
        assert "You voted for entry #" in seen(ix)
    ix = await clicked(fakecord, dave, bob_entry, "Vote")
    ix = await clicked(fakecord, dave, alice_entry, "Vote")
    assert f"Your vote moved from entry #2 to entry #1 by <@{world.alice.id}>" in seen(ix)
    # Hidden until the end: no counts on the buttons, none in /video challenge.
    assert [b["label"] for b in alice_entry.buttons()] == ["Vote"]
    ix = await fakecord.run_command(carol, channel, "video challenge")
    await ix.wait_acknowledged()
    listed = seen(ix).split("Entries (2): ")[1].split("\nYou: ")[0]
    assert "Entry #1: #1 by" in listed and "vote" not in listed
    assert "your vote is for entry #1" in seen(ix)

    # A restart before the deadline: the deadline is in the database, the buttons work.
    await bot.close()
    bot = await video_bot(clock=clock)
    ix = await clicked(fakecord, carol, alice_entry, "Vote")
    assert "Your vote is already for entry #1" in seen(ix)
    assert results(channel) == []

    clock.advance(2 * DAY + 1)
    await fakecord.wait_for(lambda: results(channel), 15, "the results post")
    await fakecord.wait_for(lambda: champions in world.alice.roles, 10, "the reward role")
    (posted,) = results(channel)
    assert f"🥇 **1st** Entry #1: #1 by <@{world.alice.id}> · 3 votes" in posted.embeds[0]["description"]
    assert f"<@{world.bob.id}>" not in posted.embeds[0]["description"]
    assert "Ties share a place" in posted.embeds[0]["description"]
    assert posted.content == f"🏆 Congratulations <@{world.alice.id}>!" and posted.attachments
    assert champions not in world.bob.roles
    # Voting is closed: the buttons are disabled and show the final counts.
    await fakecord.wait_for(
        lambda: all(e.buttons()[0].get("disabled") for e in (alice_entry, bob_entry)), 10,
        "closed voting",
    )  # fmt: skip
    assert alice_entry.buttons()[0]["label"] == "Vote · 3"
    assert bob_entry.buttons()[0]["label"] == "Vote · 1"
    # The extra quota, granted like a moderator's grant, and the close, in the audit log.
    ix = await admin(fakecord, "audit")
    log = seen(ix)
    assert f"granted extra month quota to <@{world.alice.id}>: (none) → +2 videos" in log
    assert f"closed challenge #1 in <#{channel.id}>: (none) → 1. <@{world.alice.id}>" in log
    ix = await fakecord.run_command(world.alice, channel, "video quota")
    await ix.wait_acknowledged()
    assert "of 7" in seen(ix), seen(ix)  # 5 a month, and the 2 won

    # Exactly once: another restart posts nothing again.
    await bot.close()
    await video_bot(clock=clock)
    clock.advance(60)
    await fakecord.wait_for(lambda: len(results(channel)) == 1, 3)
    assert len(entries(channel)) == 2


async def voted(fakecord, member, entry):
    """Press the entry's Vote button, whatever count it shows."""
    ix = await fakecord.click(member, entry, custom_id=entry.buttons()[0]["custom_id"])
    await ix.wait_acknowledged()
    return ix


async def test_only_moderators_start_and_shown_counts_follow_the_votes(
    fakecord, video_bot, person, gmi_sim
):
    await video_bot()
    world = fakecord.default
    open_to_everyone(fakecord)
    ix = await admin(
        fakecord, "challenge start", as_=world.bob, theme="x", deadline="1d"
    )  # fmt: skip
    assert "Only moderators can do this" in refusal(ix)
    ix = await admin(
        fakecord, "challenge start", theme="boats", deadline="1h", show_votes=True, thread=False
    )  # fmt: skip
    assert "started challenge #1" in seen(ix)
    ix = await admin(fakecord, "challenge start", theme="another", deadline="1h")
    assert "A challenge is already open in this server" in refusal(ix)

    result = await made(person(world.bob), "a paper boat")
    await clicked(fakecord, world.bob, result, "Enter challenge")
    await fakecord.wait_for(lambda: entries(world.channel), 10, "the entry post")
    (entry,) = entries(world.channel)
    assert [b["label"] for b in entry.buttons()] == ["Vote · 0"]
    await voted(fakecord, world.alice, entry)
    await fakecord.wait_for(lambda: entry.buttons()[0]["label"] == "Vote · 1", 10, "the count")
    await voted(fakecord, world.alice, entry)  # the same vote again counts once
    await voted(fakecord, world.mod, entry)
    await fakecord.wait_for(lambda: entry.buttons()[0]["label"] == "Vote · 2", 10, "the count")

    ix = await admin(fakecord, "challenge cancel")
    assert "cancelled challenge #1" in seen(ix)
    await fakecord.wait_for(lambda: entry.buttons()[0].get("disabled"), 10, "closed voting")
    assert results(world.channel) == []


async def test_ending_early_without_manage_roles_tells_the_mod_log_who_won(
    fakecord, video_bot, person, gmi_sim
):
    await video_bot()
    world = fakecord.default
    modlog = world.guild.add_text_channel("mod-log")
    await admin(fakecord, "settings modlog", channel=modlog)
    champions = world.guild.add_role("Champions")
    ix = await admin(fakecord, "challenge start", theme="tides", deadline="1w", reward_role=champions)
    assert "I can't give" in seen(ix) and "Manage Roles" in seen(ix)  # warned at once
    result = await made(person(), "waves at dawn")
    await clicked(fakecord, world.alice, result, "Enter challenge")
    await fakecord.wait_for(lambda: entries(world.channel), 10, "the entry post")
    await clicked(fakecord, world.bob, entries(world.channel)[0], "Vote")

    ix = await admin(fakecord, "challenge end")
    assert "Closing challenge #1 now" in seen(ix)
    await fakecord.wait_for(lambda: results(world.channel), 10, "the results post")
    refused = f"I couldn't give <@&{champions.id}> to the winners of challenge #1"
    await fakecord.wait_for(lambda: any(refused in m.content for m in modlog.messages), 10, "the mod-log")
    (line,) = [m.content for m in modlog.messages if refused in m.content]
    assert "I need the Manage Roles permission" in line and f"<@{world.alice.id}>" in line
    assert champions not in world.alice.roles
    closed = [m.content for m in modlog.messages if "closed challenge #1" in m.content]
    assert closed and f"<@{world.mod.id}> closed challenge #1" in closed[0]  # who ended it
