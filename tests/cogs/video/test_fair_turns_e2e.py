"""Fair turns end to end: the real bot, the Discord emulator, the GMI simulator.

With a cap on jobs in flight (the server's own, or the bot's), waiting jobs go to the
provider round-robin across members and servers; the status message shows the place and
follows it; `/video queue` lists the queue, and moderators move and drop entries. Every
test holds the provider's requests (``hold=True``) and lets them go one by one, so which
job is *sent* next is what the test reads, from the simulator's log.
"""

from __future__ import annotations

from tests.support.jobwait import wait_for_job
from tests.support.video import job_when


def sent(gmi_sim) -> list[str]:
    """The prompts the provider received, in the order it received them."""
    return [request.payload["prompt"] for request in gmi_sim.requests.values()]


async def let_one_finish(gmi_sim, done: list[str]) -> None:
    """The provider finishes the oldest request still running."""
    request_id = next(r for r in gmi_sim.requests if r not in done)
    done.append(request_id)
    gmi_sim.release(request_id)


async def queue_up(person, *prompts: str, channel=None) -> list:
    """``person`` asks for one video per prompt, one after the other; their status messages."""
    statuses = []
    for prompt in prompts:
        ix = await person.generate(prompt=prompt)
        assert not ix.ephemeral_messages, ix.ephemeral_messages[0].content
        statuses.append(await person.status_message(ix))
    return statuses


async def command(emu, member, text: str, /, channel=None, **options):
    ix = await emu.run_command(member, channel or emu.default.channel, text, **options)
    await ix.wait_acknowledged()
    return ix


def answer(ix) -> str:
    """What the invoker saw privately, as one text."""
    (message,) = ix.ephemeral_messages
    parts = [message.content or ""]
    for embed in message.embeds:
        parts += [embed.get("description", ""), embed.get("footer", {}).get("text", "")]
    return "\n".join(parts)


def job_id(status) -> int:
    """The job number its status message shows (its footer: ``Job #12``)."""
    return int(status.embeds[0]["footer"]["text"].removeprefix("Job #"))


def place_shown(status) -> str | None:
    fields = status.embeds[0].get("fields", []) if status.embeds else []
    return next((f["value"] for f in fields if f["name"] == "Place in queue"), None)


async def drain(fakecord, gmi_sim, statuses) -> None:
    """Let every request finish, those sent meanwhile too, and wait for every result, so
    the test ends clean."""

    def all_posted() -> bool:
        for request_id in gmi_sim.requests:
            gmi_sim.release(request_id)
        channels = {status.channel for status in statuses}
        replied = {m.reply_to for channel in channels for m in channel.messages}
        return all(status.id in replied for status in statuses)

    await fakecord.wait_for(all_posted, 30, "every result")


async def test_a_member_after_a_batch_is_sent_before_its_fourth_job(
    fakecord, video_bot, person, gmi_sim
):
    world = fakecord.default
    await video_bot()
    ix = await command(fakecord, world.mod, "videoadmin settings queue", cap=2)
    assert "set the cap on jobs in flight of" in answer(ix)
    gmi_sim.script_next(times=7, hold=True)
    alice, bob = person(), person(world.bob)

    batch = await queue_up(alice, *(f"alice {n}" for n in range(1, 7)))
    await gmi_sim.wait_for_calls("submit", 2)
    (bobs,) = await queue_up(bob, "bob 1")
    # Bob's only job is in the first round, behind alice's third (older), ahead of her 4th.
    await fakecord.wait_for(lambda: place_shown(bobs) == "2", 15, "bob's place: 2")
    await fakecord.wait_for(lambda: place_shown(batch[5]) == "5", 15, "alice's 6th: 5th")

    done: list[str] = []
    for count in range(3, 8):
        await let_one_finish(gmi_sim, done)
        await gmi_sim.wait_for_calls("submit", count, within=15)
        assert len(gmi_sim.calls("submit")) == count  # never more than two at the provider
        if count == 3:
            await fakecord.wait_for(lambda: place_shown(bobs) == "1", 15, "bob next")
    order = sent(gmi_sim)
    assert order.index("bob 1") < order.index("alice 4")
    assert order == ["alice 1", "alice 2", "alice 3", "bob 1", "alice 4", "alice 5", "alice 6"]
    await drain(fakecord, gmi_sim, [*batch, bobs])
    assert fakecord.max_channel_edits <= 5


async def test_the_bot_wide_cap_interleaves_servers(fakecord, video_bot, person, gmi_sim):
    world = fakecord.default
    other = fakecord.add_guild("Other Server")
    other_channel = other.add_text_channel("general")
    carol = other.add_member("carol")
    await video_bot(max_jobs_in_flight=1, command_guild_ids=(world.guild.id, other.id))
    gmi_sim.script_next(times=6, hold=True)
    alice, carols = person(), person(carol, other_channel)

    statuses = await queue_up(alice, "alice 1", "alice 2", "alice 3")
    await gmi_sim.wait_for_calls("submit", 1)
    statuses += await queue_up(carols, "carol 1", "carol 2", "carol 3")
    done: list[str] = []
    for count in range(2, 7):
        await let_one_finish(gmi_sim, done)
        await gmi_sim.wait_for_calls("submit", count, within=15)
        assert len(gmi_sim.calls("submit")) == count
    # Each server's n-th waiting job is in the bot's round n, the older first.
    assert sent(gmi_sim) == ["alice 1", "alice 2", "carol 1", "alice 3", "carol 2", "carol 3"]
    await drain(fakecord, gmi_sim, statuses)


async def test_moderators_move_and_drop_entries_and_members_may_not(
    fakecord, video_bot, person, gmi_sim
):
    world = fakecord.default
    bot = await video_bot()
    await command(fakecord, world.mod, "videoadmin settings queue", cap=1)
    gmi_sim.script_next(times=4, hold=True)
    alice = person()
    statuses = await queue_up(alice, "first", "second *bold* @everyone", "third", "fourth")
    await gmi_sim.wait_for_calls("submit", 1)
    ids = [job_id(status) for status in statuses]
    for waiting in ids[1:]:
        await job_when(bot, waiting, lambda job: job.awaits_turn)

    shown = answer(await command(fakecord, world.bob, "video queue"))
    assert "Held by this server's cap: 1 of 1" in shown
    assert f"**1.** #{ids[1]} <@{world.alice.id}>" in shown
    assert "second \\*bold\\* @\u200beveryone" in shown  # as typed, pinging no one
    assert f"**3.** #{ids[3]}" in shown and "<t:" in shown and "3 waiting" in shown

    # Discord hides /videoadmin from members, but a server may open it: the bot checks.
    fakecord.guild_commands[world.guild.id][(1, "videoadmin")]["default_member_permissions"] = None
    refused = await command(fakecord, world.bob, "videoadmin queue move", job=str(ids[3]))
    assert "moderator" in answer(refused).lower()
    refused = await command(fakecord, world.bob, "videoadmin queue drop", job=str(ids[3]))
    assert "moderator" in answer(refused).lower()

    moved = await command(fakecord, world.mod, "videoadmin queue move", job=str(ids[3]), place=1)
    assert f"moved waiting job #{ids[3]} of <@{world.alice.id}>: place 3 → place 1" in answer(moved)
    dropped = await command(fakecord, world.mod, "videoadmin queue drop", job=str(ids[2]))
    assert f"dropped waiting job #{ids[2]} of <@{world.alice.id}>: place 3" in answer(dropped)
    shown = answer(await command(fakecord, world.alice, "video queue"))
    assert f"**1.** #{ids[3]}" in shown and f"**2.** #{ids[1]}" in shown and "2 waiting" in shown

    await fakecord.wait_for(
        lambda: any(m.reply_to == statuses[2].id for m in world.channel.messages), 15, "told"
    )
    (told,) = [m for m in world.channel.messages if m.reply_to == statuses[2].id]
    reason = next(f["value"] for f in told.embeds[0]["fields"] if f["name"] == "Reason")
    assert reason == (
        f"Cancelled by <@{world.mod.id}>. A moderator took it out of the queue before it was sent: "
        "nothing was charged."
    )
    done: list[str] = []
    for count in (2, 3):
        await let_one_finish(gmi_sim, done)
        await gmi_sim.wait_for_calls("submit", count, within=15)
    assert sent(gmi_sim) == ["first", "fourth", "second *bold* @everyone"]
    audit = answer(await command(fakecord, world.mod, "videoadmin audit"))
    assert f"dropped waiting job #{ids[2]}" in audit and f"moved waiting job #{ids[3]}" in audit
    usage = await bot.services.ledger.usage(
        world.guild.id, world.alice.id, 0, bot.clock() + 1, refunds_enabled=False
    )
    assert usage.generations == 3  # the dropped job costs nothing, whatever the refunds
    await drain(fakecord, gmi_sim, statuses)


async def test_members_see_only_the_queue_of_channels_they_can_view(
    fakecord, video_bot, person, gmi_sim
):
    world = fakecord.default
    bot = await video_bot()
    secret = world.guild.add_text_channel("secret")
    secret.set_permissions(world.bob, view_channel=False)
    await command(fakecord, world.mod, "videoadmin settings queue", cap=1)
    gmi_sim.script_next(times=4, hold=True)
    statuses = await queue_up(person(channel=secret), "secret 1", "secret 2")
    await gmi_sim.wait_for_calls("submit", 1)
    statuses += await queue_up(person(world.bob), "bob's own")
    await job_when(bot, 3, lambda job: job.awaits_turn)

    shown = answer(await command(fakecord, world.bob, "video queue"))
    assert "secret" not in shown and f"**2.** #3 <@{world.bob.id}>" in shown
    assert "1 more job in channels you can't see" in shown
    assert "secret 2" in answer(await command(fakecord, world.alice, "video queue"))
    assert "secret 2" in answer(await command(fakecord, world.mod, "video queue"))
    await drain(fakecord, gmi_sim, statuses)


async def test_a_long_queue_is_paged(fakecord, video_bot, person, gmi_sim):
    world = fakecord.default
    bot = await video_bot()
    await command(fakecord, world.mod, "videoadmin settings queue", cap=1)
    gmi_sim.script_next(times=18, hold=True)
    statuses = await queue_up(person(), *(f"job {n}" for n in range(1, 19)))
    await gmi_sim.wait_for_calls("submit", 1)
    await job_when(bot, 18, lambda job: job.awaits_turn)
    ix = await command(fakecord, world.alice, "video queue")
    page = await ix.wait_response_message()
    assert "**15.** #16" in page.embeds[0]["description"]
    assert "**16.**" not in page.embeds[0]["description"]
    assert page.embeds[0]["footer"]["text"] == "Page 1 of 2 · 17 waiting"
    assert page.button(label="Ahead")["disabled"]
    turned = await fakecord.click(world.alice, page, label="Behind")
    await turned.wait_acknowledged()
    assert "**17.** #18" in page.embeds[0]["description"]
    assert page.embeds[0]["footer"]["text"].startswith("Page 2 of 2")
    await drain(fakecord, gmi_sim, statuses)


async def test_a_restart_with_jobs_waiting_loses_none_and_keeps_their_turns(
    fakecord, gmi_sim, bot_process, person
):
    """The bot as an operator runs it, killed (SIGKILL) while three jobs wait their turn."""
    bot_process.env["MAX_JOBS_IN_FLIGHT"] = "1"
    gmi_sim.script_next(times=4, hold=True)
    await bot_process.start()
    statuses = await queue_up(person(), "alice 1", "alice 2", "alice 3")
    statuses += await queue_up(person(fakecord.default.bob), "bob 1")
    await gmi_sim.wait_for_calls("submit", 1, within=10)
    for waiting in (2, 3, 4):
        await wait_for_job(bot_process.jobs, waiting, lambda job: job.awaits_turn, within=10)

    await bot_process.kill()
    await bot_process.start()
    done: list[str] = []
    for count in (2, 3, 4):
        await let_one_finish(gmi_sim, done)
        await gmi_sim.wait_for_calls("submit", count, within=20)
        assert len(gmi_sim.calls("submit")) == count
    assert sent(gmi_sim) == ["alice 1", "alice 2", "bob 1", "alice 3"]
    await drain(fakecord, gmi_sim, statuses)
    channel = fakecord.default.channel
    for status in statuses:  # each posted once
        assert len([m for m in channel.messages if m.reply_to == status.id]) == 1
