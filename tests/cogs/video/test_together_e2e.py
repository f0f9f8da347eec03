"""`/video together`, end to end: the real bot, the Discord emulator, the GMI simulator.

Members add shots to a storyboard with its button and form; the bot films them one after
the other (each from the last frame of the one before, each the author's own job), then
posts the film in the channel with everyone's credits. A failed shot pauses the film for
its author; a restart mid-film goes on where it was.
"""

from __future__ import annotations

import asyncio

import pytest

from bot.jobs.lifecycle import JobOutcome
from bot.media import probe
from bot.moderation.requester import Requester
from bot.simulator import VideoSpec
from bot.storyboards.model import BoardState, ShotState
from cogs.videoadmin.render import audit_line
from tests.fakecord import ScenarioError
from tests.support import sample_files
from tests.support.media import decode
from tests.support.video import job_when

SHOT_SECONDS = 4


@pytest.fixture
def real_lengths(gmi_sim):
    """The simulator renders what each request asks for (its ``duration``)."""
    gmi_sim.video = VideoSpec(160, 90, duration=None, fps=12, max_duration=15)


async def open_board(fakecord, member, channel, *, shots=3, seconds=SHOT_SECONDS, title="A day out"):
    ix = await fakecord.run_command(
        member, channel, "video together", title=title, shots=shots, seconds=seconds
    )
    await ix.wait_acknowledged()
    assert not ix.ephemeral_messages, ix.ephemeral_messages[0].content
    board = await ix.wait_response_message()
    await fakecord.wait_for(
        lambda: board.thread is not None and board.thread.messages, 5, "the storyboard's thread"
    )
    return board


async def add_shot(fakecord, member, board, prompt, image=None):
    """``member`` presses Add shot and submits the form; returns their private answer."""
    opened = await fakecord.click(member, board, label="Add shot")
    await opened.wait_acknowledged()
    if opened.modal is None:
        return opened.ephemeral_messages[0].content
    values = {"Prompt": prompt}
    if image is not None:
        values["Image (optional)"] = image
    ix = await fakecord.submit_modal(member, opened, values)
    await ix.wait_acknowledged()
    return ix.ephemeral_messages[0].content


def film_of(channel):
    """The film's post in the channel, once it is there."""
    return next(
        (m for m in channel.messages if m.attachments and m.embeds
         and m.embeds[0].get("title", "").startswith("🎞️")),
        None,
    )  # fmt: skip


async def wait_film(fakecord, channel, timeout=60.0):
    await fakecord.wait_for(lambda: film_of(channel) is not None, timeout, "the film")
    return film_of(channel)


def shot_lines(board):
    return [line for line in board.embeds[0]["description"].splitlines() if line.startswith("**")]


async def test_three_members_make_one_film_whose_length_is_their_shots(
    fakecord, video_bot, gmi_sim, ffmpeg, real_lengths
):
    bot = await video_bot()
    world = fakecord.default
    carol = world.guild.add_member("carol")
    board = await open_board(fakecord, world.alice, world.channel)
    assert board.embeds[0]["title"] == "🎞️ A day out"
    assert [b["label"] for b in board.buttons()] == ["Add shot", "Film it"]
    thread = board.thread
    assert thread is not None and thread.name == "A day out"
    assert "Shot 1's image (optional) is the film's first frame" in thread.messages[0].content

    said = [
        await add_shot(fakecord, world.alice, board, "a kite rises over a hill"),
        await add_shot(fakecord, world.bob, board, "the kite string snaps @everyone"),
        await add_shot(fakecord, carol, board, "the kite lands in a lake"),
    ]
    assert said[0].startswith("Added as shot 1 of 3.")
    assert said[2].startswith("Added as shot 3 of 3. That was the last one: filming starts now")

    film = await wait_film(fakecord, world.channel)
    (video,) = film.attachments
    played = await decode(ffmpeg, video.data)
    assert played.errors == []
    assert played.seconds == pytest.approx(3 * SHOT_SECONDS, abs=0.15)
    assert (await probe(ffmpeg, video.data)).duration == pytest.approx(3 * SHOT_SECONDS, abs=0.15)
    authors = [world.alice, world.bob, carol]
    assert film.embeds[0]["description"] == " → ".join(
        f"#{n} by <@{m.id}>" for n, m in zip((1, 2, 3), authors, strict=True))
    assert film.mentions == [world.alice.id]  # the starter's film; the credits ping no one

    # Three provider calls, each the author's: shots 2 and 3 start from the shot before.
    submits = gmi_sim.calls("submit")
    assert len(submits) == 3
    assert "first_frame" not in submits[0].body_json["payload"]
    assert all("last-frame-of-" in s.body_json["payload"]["first_frame"] for s in submits[1:])
    assert [s.body_json["payload"]["duration"] for s in submits] == [SHOT_SECONDS] * 3
    for number, member in enumerate(authors, start=1):
        job = await bot.services.jobs.get(number)
        assert job is not None and job.user_id == member.id and job.channel_id == thread.id
        usage = await bot.services.ledger.usage(
            world.guild.id, member.id, 0, 2**40, refunds_enabled=True)
        assert usage.generations == 1 and usage.seconds == SHOT_SECONDS

    # The thread shows each shot as it was made; the storyboard links them and the film.
    # (A shot's status message holds the frame it starts from until its last edit, which
    # the thread's edit limit may still be pacing: the results are the videos.)
    shot_results = [m for m in thread.messages
                    if any(a.filename.endswith(".mp4") for a in m.attachments)]  # fmt: skip
    assert [m.mentions for m in shot_results] == [[m.id] for m in authors]
    await fakecord.wait_for(lambda: "Filmed." in board.embeds[0]["description"], 5, "filmed")
    lines = shot_lines(board)
    assert lines[0].startswith(f"**1.** <@{world.alice.id}>: “a kite rises over a hill” · ✅ [made](")
    assert "the kite string snaps @\u200beveryone" in lines[1]  # escaped: pings no one
    assert board.components == []
    (film_field,) = [f for f in board.embeds[0]["fields"] if f["name"] == "Film"]
    assert film_field["value"].endswith(f"/{world.channel.id}/{film.id})")
    stored = await bot.services.storyboards.get(1)
    assert stored is not None and stored.state is BoardState.FILMED and stored.film_job_id == 4


async def test_the_storyboard_keeps_to_its_channel_s_edit_limit_with_clips_made_beside_it(
    fakecord, video_bot, gmi_sim, person
):
    """Its message is drawn in the slots of the channel's status edits: with six clips
    being made in the same channel while the board fills and films, the channel never sees
    more than 5 edits in 5 s, Discord never refuses one, and the board still ends true."""
    await video_bot()
    world = fakecord.default
    carol = world.guild.add_member("carol")
    board = await open_board(fakecord, world.alice, world.channel)
    bob = person(world.bob)
    asked = await asyncio.gather(*[bob.generate(prompt=f"clip {n}") for n in range(6)])
    for member, prompt in ((world.alice, "a kite rises"), (world.bob, "it flies"), (carol, "it lands")):
        await add_shot(fakecord, member, board, prompt)
    for ix in asked:
        await bob.wait_result(await bob.status_message(ix), timeout=60)
    await wait_film(fakecord, world.channel)
    await fakecord.wait_for(lambda: "Filmed." in board.embeds[0]["description"], 10, "filmed")
    lines = shot_lines(board)
    assert len(lines) == 3 and all("✅ [made](" in line for line in lines), lines
    assert fakecord.max_channel_edits <= 5
    refused = {
        route: n for (method, route), n in fakecord.rate_limited_by_route().items() if method == "PATCH"
    }  # fmt: skip
    assert refused == {}  # the bot paced itself: Discord never had to say no


async def test_a_drawing_refused_or_cut_by_a_stop_is_made_later_and_only_once(
    fakecord, video_bot, gmi_sim
):
    """A board's message is edited only when what it shows changes: an edit Discord
    refuses is tried again; one a stop cuts is made at the next start; a start with the
    board already true edits nothing."""
    world = fakecord.default
    first = await video_bot()
    board = await open_board(fakecord, world.alice, world.channel, shots=4)
    path = f"/channels/{world.channel.id}/messages/{board.id}"

    def edits(status=200):
        return sum(1 for r in fakecord.requests_to("PATCH", path) if r.status == status)

    def shows(prompt):
        return prompt in board.embeds[0]["description"]

    fakecord.fail_next("PATCH", path, status=503)
    await add_shot(fakecord, world.alice, board, "a kite rises")
    await fakecord.wait_for(lambda: shows("a kite rises"), 10, "shot 1, drawn after a retry")
    assert edits(503) == 1

    # Discord makes the next drawing wait a minute; the bot stops meanwhile.
    fakecord.fail_next("PATCH", path, status=429, retry_after=60)
    await add_shot(fakecord, world.bob, board, "the string snaps")
    await fakecord.wait_for(lambda: edits(429) == 1, 10, "the drawing held back")
    await first.close()
    assert not shows("the string snaps")
    drawn = edits()
    second = await video_bot()
    await fakecord.wait_for(lambda: shows("the string snaps"), 10, "shot 2, drawn at the start")
    assert edits() == drawn + 1

    # A start with the board true draws nothing: the one edit after it is the next shot's.
    await second.close()
    drawn = edits()
    await video_bot()
    await add_shot(fakecord, world.bob, board, "it lands in a lake")
    await fakecord.wait_for(lambda: shows("it lands in a lake"), 10, "shot 3")
    assert edits() == drawn + 1


async def press(fakecord, member, message, label):
    """``member`` presses a button; returns their private answer."""
    ix = await fakecord.click(member, message, label=label)
    await ix.wait_acknowledged()
    return ix.ephemeral_messages[0].content


async def test_film_it_is_for_the_starter_or_a_moderator(fakecord, video_bot, gmi_sim):
    bot = await video_bot()
    world = fakecord.default
    board = await open_board(fakecord, world.alice, world.channel, shots=4)
    assert "needs 2 shots at least" in await press(fakecord, world.alice, board, "Film it")
    await add_shot(fakecord, world.alice, board, "a door opens")
    await add_shot(fakecord, world.bob, board, "a cat walks in")

    refused = await press(fakecord, world.bob, board, "Film it")
    assert refused.startswith(f"Only <@{world.alice.id}>, who started this storyboard, or a moderator")
    assert gmi_sim.calls("submit") == []
    assert "Open:" in board.embeds[0]["description"]

    assert (await press(fakecord, world.mod, board, "Film it")).startswith("🎬 Filming starts")
    (entry,) = await bot.services.audit.listed(
        Requester(world.mod.id, world.guild.id, world.channel.id, can_manage_guild=True))
    assert audit_line(entry, "USD").endswith(f"started filming storyboard #1 of <@{world.alice.id}>")
    film = await wait_film(fakecord, world.channel)
    assert film.embeds[0]["description"] == f"#1 by <@{world.alice.id}> → #2 by <@{world.bob.id}>"
    assert len(shot_lines(board)) == 2  # filmed with the two shots it had
    assert board.components == []


async def test_a_full_storyboard_films_itself_and_takes_no_more_shots(fakecord, video_bot, gmi_sim):
    bot = await video_bot()
    world = fakecord.default
    board = await open_board(fakecord, world.alice, world.channel, shots=2)
    opening = fakecord.attachment("door.png", sample_files.png(640, 360), content_type="image/png")
    ending = fakecord.attachment("sea.png", sample_files.png(640, 360), content_type="image/png")
    await add_shot(fakecord, world.alice, board, "a door opens", image=opening)
    opened = await fakecord.click(world.bob, board, label="Add shot")
    await opened.wait_acknowledged()
    (upload,) = [row for row in opened.modal["components"] if row["component"]["type"] == 19]
    assert upload["description"] == "Shot 2 starts where shot 1 ends: this image is where it ends."
    ix = await fakecord.submit_modal(world.bob, opened, {"Prompt": "out to sea", "Image (optional)": ending})
    await ix.wait_acknowledged()
    assert "filming starts now" in ix.ephemeral_messages[0].content

    # Nobody pressed Film it: the full storyboard is filmed, and takes no more shots.
    film = await wait_film(fakecord, world.channel)
    assert film.embeds[0]["description"] == f"#1 by <@{world.alice.id}> → #2 by <@{world.bob.id}>"
    first, second = (c.body_json["payload"] for c in gmi_sim.calls("submit"))
    assert first["first_frame"].split("?")[0].endswith("/door.png") and "last_frame" not in first
    assert "last-frame-of-1" in second["first_frame"]
    assert second["last_frame"].split("?")[0].endswith("/sea.png")
    stored = await bot.services.storyboards.shots(1)
    assert [s.state for s in stored] == [ShotState.MADE, ShotState.MADE]
    with pytest.raises(ScenarioError, match="no button"):
        await fakecord.click(world.mod, board, label="Add shot")


async def test_a_failed_shot_is_rewritten_by_its_author_and_the_made_ones_are_kept(
    fakecord, video_bot, gmi_sim
):
    bot = await video_bot()
    world = fakecord.default
    carol = world.guild.add_member("carol")
    gmi_sim.script_next()  # shot 1 is made
    gmi_sim.script_next(fail_reason="the kite looked too real")  # shot 2 fails
    board = await open_board(fakecord, world.alice, world.channel)
    await add_shot(fakecord, world.alice, board, "a kite rises")
    await add_shot(fakecord, world.bob, board, "the string snaps")
    await add_shot(fakecord, carol, board, "it lands in a lake")
    thread = board.thread

    def notice():
        return next((m for m in thread.messages if "couldn't be filmed" in m.content), None)

    await fakecord.wait_for(lambda: notice() is not None, 30, "the pause notice")
    paused = notice()
    assert paused.content.startswith(
        f"⚠️ <@{world.bob.id}>, shot 2 couldn't be filmed: the kite looked too real")
    assert paused.mentions == [world.bob.id]
    assert [b["label"] for b in paused.buttons()] == ["Retry shot 2", "Rewrite shot 2"]
    await fakecord.wait_for(lambda: board.buttons(), 5, "the storyboard's buttons")
    assert "⚠️ failed\n  ↳ the kite looked too real" in board.embeds[0]["description"]
    assert [b["label"] for b in board.buttons()] == ["Retry shot 2", "Rewrite shot 2"]
    assert len(gmi_sim.calls("submit")) == 2  # carol's shot never ran: nothing charged
    usage = await bot.services.ledger.usage(world.guild.id, carol.id, 0, 2**40, refunds_enabled=True)
    assert usage.generations == 0

    refused = await press(fakecord, world.alice, paused, "Retry shot 2")
    assert refused.startswith(f"Shot 2 is <@{world.bob.id}>'s: only they can retry or rewrite it")
    opened = await fakecord.click(world.bob, paused, label="Rewrite shot 2")
    await opened.wait_acknowledged()
    assert opened.modal["title"] == "Rewrite shot 2"
    assert opened.modal["components"][0]["component"]["value"] == "the string snaps"
    ending = fakecord.attachment("hand.png", sample_files.png(640, 360), content_type="image/png")
    ix = await fakecord.submit_modal(
        world.bob, opened, {"Prompt": "the string holds", "Image (optional)": ending})
    await ix.wait_acknowledged()
    assert ix.ephemeral_messages[0].content.startswith("✏️ Shot 2 is filmed again")

    film = await wait_film(fakecord, world.channel)
    assert film.embeds[0]["description"] == (
        f"#1 by <@{world.alice.id}> → #3 by <@{world.bob.id}> → #4 by <@{carol.id}>")
    prompts = [c.body_json["payload"]["prompt"] for c in gmi_sim.calls("submit")]
    assert prompts == ["a kite rises", "the string snaps", "the string holds", "it lands in a lake"]
    rewritten = gmi_sim.calls("submit")[2].body_json["payload"]
    assert rewritten["last_frame"].split("?")[0].endswith("/hand.png")  # where it now ends
    failed = await bot.services.jobs.get(2)
    assert failed is not None and failed.outcome is JobOutcome.FAILED
    again = await bot.services.jobs.get(3)
    assert again is not None and again.first_frame_from == 1  # from shot 1, made once


async def test_a_restart_keeps_the_buttons_and_the_film_going_and_posts_it_once(
    fakecord, video_bot, gmi_sim
):
    world = fakecord.default
    carol = world.guild.add_member("carol")
    before = await video_bot()
    board = await open_board(fakecord, world.alice, world.channel)
    await add_shot(fakecord, world.alice, board, "a kite rises")
    await add_shot(fakecord, world.bob, board, "the string snaps")
    await fakecord.wait_for(lambda: "the string snaps" in board.embeds[0]["description"], 5, "shot 2")
    await before.close()

    # The storyboard's buttons work for the bot that comes back.
    during = await video_bot()
    gmi_sim.script_next()  # shot 1 is made...
    gmi_sim.script_next(hold=True)  # ...shot 2 waits in the provider's queue
    await add_shot(fakecord, carol, board, "it lands in a lake")
    await fakecord.wait_for(lambda: len(gmi_sim.calls("submit")) == 2, 30, "shot 2 to be sent")
    held = await job_when(during, 2, lambda job: job.request_id is not None)
    await during.close()  # mid-film: shot 1 made, shot 2 at the provider

    after = await video_bot()  # (the simulator's log starts afresh)
    gmi_sim.release(held.request_id)
    film = await wait_film(fakecord, world.channel)
    assert film.embeds[0]["description"] == " → ".join(
        f"#{n} by <@{m.id}>" for n, m in zip((1, 2, 3), (world.alice, world.bob, carol), strict=True))
    assert len(gmi_sim.calls("submit")) == 1  # only shot 3: no shot sent twice
    await fakecord.wait_for(lambda: "Filmed." in board.embeds[0]["description"], 5, "filmed")
    assert [film_of(world.channel)] == [m for m in world.channel.messages if m.attachments]
    stored = await after.services.storyboards.get(1)
    assert stored is not None and stored.state is BoardState.FILMED


async def test_an_author_over_their_limit_is_told_when_adding_and_when_their_turn_comes(
    fakecord, video_bot, gmi_sim
):
    bot = await video_bot()
    world = fakecord.default
    board = await open_board(fakecord, world.alice, world.channel)
    ix = await fakecord.run_command(world.mod, world.channel, "videoadmin limit set",
                                    name="seconds_per_day", value="3", member=world.bob)
    await ix.wait_acknowledged()
    refused = await add_shot(fakecord, world.bob, board, "the string snaps")
    assert "3" in refused and "second" in refused, refused
    assert await bot.services.storyboards.shots(1) == []  # nothing added, nothing reserved

    ix = await fakecord.run_command(world.mod, world.channel, "videoadmin limit set",
                                    name="seconds_per_day", value=str(SHOT_SECONDS), member=world.bob)
    await ix.wait_acknowledged()
    await add_shot(fakecord, world.alice, board, "a kite rises")
    assert (await add_shot(fakecord, world.bob, board, "the string snaps")).startswith("Added as shot 2")
    # Before their turn, bob spends his day's seconds on a video of his own.
    spent = await fakecord.run_command(world.bob, world.channel, "video generate text",
                                       prompt="my own", duration=SHOT_SECONDS)
    await spent.wait_acknowledged()
    await add_shot(fakecord, world.mod, board, "it lands in a lake")

    thread = board.thread
    await fakecord.wait_for(
        lambda: any("couldn't be filmed" in m.content for m in thread.messages), 30, "the notice")
    (notice,) = [m for m in thread.messages if "couldn't be filmed" in m.content]
    assert notice.content.startswith(f"⚠️ <@{world.bob.id}>, shot 2 couldn't be filmed:")
    assert "second" in notice.content and notice.mentions == [world.bob.id]
    prompts = [c.body_json["payload"]["prompt"] for c in gmi_sim.calls("submit")]
    assert sorted(prompts) == ["a kite rises", "my own"]  # shot 3 never ran

    ix = await fakecord.run_command(world.mod, world.channel, "videoadmin limit clear",
                                    name="seconds_per_day", member=world.bob)
    await ix.wait_acknowledged()
    assert (await press(fakecord, world.bob, notice, "Retry shot 2")).startswith("🔁 Shot 2")
    film = await wait_film(fakecord, world.channel)
    assert f"by <@{world.bob.id}>" in film.embeds[0]["description"]
