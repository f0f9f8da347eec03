"""Issue 12's features together, end to end: the real bot, the Discord emulator, the GMI
simulator.

Each feature has its own tests; these check where they meet: a job held for approval while
a server cap holds the queue, a confirmed preview that needs approval, a storyboard whose
shots meet a cap and a review (or are dropped from the queue, or denied), a library video
when reference videos need approval, and a film made together entered in a challenge.
"""

from __future__ import annotations

from bot.clock import ManualClock
from tests.cogs.video.test_approval_e2e import HELD_TITLE, field, lane, review_posted, title
from tests.cogs.video.test_asset_library_e2e import HERO, add_file, status_of
from tests.cogs.video.test_asset_library_e2e import dance as dance  # noqa: F401 (a fixture)
from tests.cogs.video.test_challenge_e2e import clicked, entries, results
from tests.cogs.video.test_confirm_e2e import preview_text, previewed
from tests.cogs.video.test_fair_turns_e2e import (
    answer,
    command,
    job_id,
    let_one_finish,
    place_shown,
    queue_up,
    sent,
)
from tests.cogs.video.test_together_e2e import (
    add_shot,
    film_of,
    open_board,
    press,
    shot_lines,
    wait_film,
)
from tests.cogs.videoadmin.test_videoadmin_e2e import admin, refusal, seen
from tests.support.video import job_when


def outcome_of(person, status):
    """The reply that carries the job's outcome (not an approval notice), once it is there."""
    return next((m for m in person.replies_to(status) if m.embeds), None)


async def all_made(fakecord, gmi_sim, people_statuses) -> None:
    """Let every request finish, those sent meanwhile too, and wait for every outcome."""

    def done() -> bool:
        for request_id in gmi_sim.requests:
            gmi_sim.release(request_id)
        return all(outcome_of(p, s) is not None for p, s in people_statuses)

    await fakecord.wait_for(done, 30, "every outcome")


async def test_a_held_job_takes_no_turn_and_once_approved_waits_its_fair_turn(
    fakecord, video_bot, person, gmi_sim
):
    bot = await video_bot()
    world = fakecord.default
    reviews, _ = await lane(fakecord, cost={"amount": 1.0})
    await command(fakecord, world.mod, "videoadmin settings queue", cap=1)
    gmi_sim.script_next(times=5, hold=True)
    alice, bob = person(), person(world.bob)

    (first,) = await queue_up(bob, "bob 1")  # 0.80 USD: not held, at the model
    await gmi_sim.wait_for_calls("submit", 1)
    held = []
    for prompt in ("alice 1", "alice 2"):  # 1.60 USD each: held for review
        ix = await alice.generate(prompt=prompt, duration=10)
        held.append(await alice.status_message(ix))
    await review_posted(fakecord, reviews, 2)
    waiting = await queue_up(bob, "bob 2", "bob 3")
    for status in waiting:
        await job_when(bot, job_id(status), lambda job: job.awaits_turn)

    # Held, they are in no queue: bob's jobs are 1st and 2nd; alice's show the review.
    shown = answer(await command(fakecord, world.alice, "video queue"))
    assert "2 waiting" in shown and "alice" not in shown
    assert f"**1.** #{job_id(waiting[0])}" in shown
    await fakecord.wait_for(lambda: place_shown(waiting[1]) == "2", 15, "bob's 3rd: 2nd")
    assert all(title(s) == HELD_TITLE and place_shown(s) is None for s in held)

    for review in reviews.messages[:2]:
        ix = await fakecord.click(world.mod, review, label="Approve")
        await ix.wait_acknowledged()
    for status in held:
        await job_when(bot, job_id(status), lambda job: job.awaits_turn)

    def notices():
        return [m for s in held for m in alice.replies_to(s) if not m.embeds]

    await fakecord.wait_for(lambda: len(notices()) == 2, 5, "the approval notices")
    assert [n.content.split(": ", 1)[1] for n in notices()] == [
        "it waits for its turn in the queue (`/video queue`)."
    ] * 2  # not "being made now": the cap holds the queue

    # Approved, they wait their fair turns, one round each: not a batch ahead of bob's.
    shown = answer(await command(fakecord, world.bob, "video queue"))
    assert "Held by this server's cap: 1 of 1" in shown and "4 waiting" in shown
    order = [job_id(held[0]), job_id(waiting[0]), job_id(held[1]), job_id(waiting[1])]
    for place, number in enumerate(order, 1):
        assert f"**{place}.** #{number} " in shown, shown
    await fakecord.wait_for(lambda: place_shown(held[1]) == "3", 15, "alice's 2nd: 3rd")

    done: list[str] = []
    for count in range(2, 6):
        await let_one_finish(gmi_sim, done)
        await gmi_sim.wait_for_calls("submit", count, within=15)
        assert len(gmi_sim.calls("submit")) == count  # the cap holds: one at a time
    assert sent(gmi_sim) == ["bob 1", "alice 1", "bob 2", "alice 2", "bob 3"]
    await all_made(fakecord, gmi_sim, [(bob, first), *((alice, s) for s in held),
                                       *((bob, s) for s in waiting)])  # fmt: skip


async def test_a_confirmed_preview_that_needs_approval_says_so_and_is_held_after_confirm(
    fakecord, video_bot, person, gmi_sim
):
    bot = await video_bot()
    world = fakecord.default
    reviews, _ = await lane(fakecord, cost={"amount": 1.0})
    alice = person()
    cheap = await previewed(alice, prompt="cheap", confirm=True)
    assert "Review:" not in preview_text(cheap)  # 0.80 USD: not above the amount
    preview = await previewed(alice, prompt="a long fox", duration=10, confirm=True)
    assert "Estimated cost: ≈ 1.60 USD" in preview_text(preview)
    assert "Review: This server's moderators review jobs like this one" in preview_text(preview)

    ix = await fakecord.click(alice.member, preview, label="Confirm")
    status = await ix.wait_response_message()
    assert title(status) == HELD_TITLE and job_id(status) == 1
    review = await review_posted(fakecord, reviews)
    assert field(review, "Needs review because").startswith("its estimated cost, 1.60 USD")
    await fakecord.wait_for(lambda: not preview.components, 5, "the preview to lose its buttons")
    assert preview.content == (
        "✅ Confirmed: this is job #1, below. It waits for a moderator's review."
    )
    assert gmi_sim.calls("submit") == []  # held: never sent
    job = await bot.services.jobs.get(1)
    assert job is not None and job.held and job.estimated_cost == 1.60

    ix = await fakecord.click(world.mod, review, label="Approve")
    await ix.wait_acknowledged()
    await fakecord.wait_for(lambda: outcome_of(alice, status), 15, "the video")
    assert outcome_of(alice, status).attachments and len(gmi_sim.calls("submit")) == 1


async def capped_board(fakecord, person, gmi_sim):
    """Bob's jobs need a review (he is no Artist) and the server's cap is 1, taken by
    alice's own job (held at the model); then alice and bob fill a storyboard of two shots,
    which starts filming. Returns the review channel, alice's status message, the board."""
    world = fakecord.default
    reviews, _ = await lane(fakecord, role={"role": world.artists})
    await command(fakecord, world.mod, "videoadmin settings queue", cap=1)
    gmi_sim.script_next(hold=True)
    (own,) = await queue_up(person(), "alice's own")
    await gmi_sim.wait_for_calls("submit", 1)
    board = await open_board(fakecord, world.alice, world.channel, shots=2)
    await add_shot(fakecord, world.alice, board, "a kite rises")
    await add_shot(fakecord, world.bob, board, "the string snaps")
    return reviews, own, board


async def test_a_storyboard_waits_for_the_cap_and_a_review_then_posts_its_film_once(
    fakecord, video_bot, person, gmi_sim
):
    bot = await video_bot()
    world = fakecord.default
    reviews, own, board = await capped_board(fakecord, person, gmi_sim)
    thread = board.thread

    # Shot 1 waits for its turn, in the thread, and in the server's queue.
    first = await job_when(bot, 2, lambda job: job.awaits_turn)
    assert first.channel_id == thread.id
    shown = answer(await command(fakecord, world.bob, "video queue"))
    assert "**1.** #2 " in shown and "a kite rises" in shown and "1 waiting" in shown
    gmi_sim.release(next(iter(gmi_sim.requests)))

    # Shot 2 is bob's: held for review (no turn, nothing sent), then approved.
    review = await review_posted(fakecord, reviews)
    assert field(review, "Requested by") == f"<@{world.bob.id}> in <#{thread.id}>"
    # Held from its acceptance; its status message is posted (and recorded) just after.
    second = await job_when(bot, 3, lambda job: job.held and job.status_message_id is not None)
    assert second.first_frame_from == 2 and len(gmi_sim.calls("submit")) == 2
    (status,) = [m for m in thread.messages if m.id == second.status_message_id]
    assert title(status) == HELD_TITLE
    await fakecord.wait_for(  # the board's edit is coalesced, so it may come a moment later
        lambda: "[filming](" in shot_lines(board)[1], 5, "shot 2 linked on the board"
    )  # its link: the status message above
    ix = await fakecord.click(world.mod, review, label="Approve")
    await ix.wait_acknowledged()

    film = await wait_film(fakecord, world.channel)
    assert film.embeds[0]["description"] == f"#2 by <@{world.alice.id}> → #3 by <@{world.bob.id}>"
    await fakecord.wait_for(lambda: "Filmed." in board.embeds[0]["description"], 5, "filmed")
    assert sent(gmi_sim) == ["alice's own", "a kite rises", "the string snaps"]  # each once
    assert [film_of(world.channel)] == [
        m for m in world.channel.messages if m.attachments and m.reply_to != own.id
    ]  # the film, posted once
    for member, made in ((world.alice, 2), (world.bob, 1)):
        usage = await bot.services.ledger.usage(
            world.guild.id, member.id, 0, 2**40, refunds_enabled=True
        )
        assert usage.generations == made  # the film (a stitch) counts for no one


def pause_notices(thread, member) -> list:
    return [m for m in thread.messages if m.content.startswith(f"⚠️ <@{member.id}>, shot")]


async def test_a_shot_dropped_from_the_queue_or_denied_pauses_the_film_for_its_author(
    fakecord, video_bot, person, gmi_sim
):
    bot = await video_bot()
    world = fakecord.default
    reviews, _, board = await capped_board(fakecord, person, gmi_sim)
    thread = board.thread

    # A moderator drops shot 1 from the queue: the film pauses for alice, who retries it.
    await job_when(bot, 2, lambda job: job.awaits_turn)
    dropped = await command(fakecord, world.mod, "videoadmin queue drop", job="2")
    assert "dropped waiting job #2" in answer(dropped)
    await fakecord.wait_for(lambda: pause_notices(thread, world.alice), 15, "alice's notice")
    (notice,) = pause_notices(thread, world.alice)
    assert notice.content.startswith(
        f"⚠️ <@{world.alice.id}>, shot 1 couldn't be filmed: A moderator took it out of the "
        "queue before it was sent: nothing was charged."
    )
    assert notice.mentions == [world.alice.id]
    await fakecord.wait_for(lambda: board.buttons(), 5, "the storyboard's buttons")
    assert "Paused at shot 1" in board.embeds[0]["description"]
    assert (await press(fakecord, world.alice, notice, "Retry shot 1")).startswith("🔁 Shot 1")
    await job_when(bot, 3, lambda job: job.awaits_turn)  # again in the queue, for its turn
    gmi_sim.release(next(iter(gmi_sim.requests)))

    # Bob's shot 2 is held, then denied: the film pauses for bob, with the reason.
    review = await review_posted(fakecord, reviews)
    deny = await fakecord.click(world.mod, review, label="Deny")
    await deny.wait_acknowledged()
    submitted = await fakecord.submit_modal(world.mod, deny, {"Reason": "no *snapping* strings"})
    await submitted.wait_acknowledged()
    await fakecord.wait_for(lambda: pause_notices(thread, world.bob), 15, "bob's notice")
    (notice,) = pause_notices(thread, world.bob)
    assert notice.content.startswith(
        f"⚠️ <@{world.bob.id}>, shot 2 couldn't be filmed: Not approved: no \\*snapping\\* strings"
    )
    await fakecord.wait_for(
        lambda: "Paused at shot 2" in board.embeds[0]["description"], 5, "the board paused"
    )
    opened = await fakecord.click(world.bob, notice, label="Rewrite shot 2")
    await opened.wait_acknowledged()
    ix = await fakecord.submit_modal(world.bob, opened, {"Prompt": "the string holds"})
    await ix.wait_acknowledged()
    review = await review_posted(fakecord, reviews, 2)  # held again: still no Artist
    ix = await fakecord.click(world.mod, review, label="Approve")
    await ix.wait_acknowledged()

    film = await wait_film(fakecord, world.channel)
    assert film.embeds[0]["description"] == f"#3 by <@{world.alice.id}> → #5 by <@{world.bob.id}>"
    assert sent(gmi_sim) == ["alice's own", "a kite rises", "the string holds"]
    for member, made in ((world.alice, 2), (world.bob, 1)):
        usage = await bot.services.ledger.usage(
            world.guild.id, member.id, 0, 2**40, refunds_enabled=False
        )
        assert usage.generations == made  # neither the dropped nor the denied one counts


async def test_a_library_video_needs_approval_when_reference_videos_do(
    fakecord, video_bot, person, gmi_sim, dance
):
    bot = await video_bot()
    world = fakecord.default
    reviews, _ = await lane(fakecord, videos={"required": True})
    await add_file(fakecord, "Dance", "dance.mp4", dance, content_type="video/mp4")
    await add_file(fakecord, "Hero", "hero.png", HERO, content_type="image/png",
                   width=1280, height=720)  # fmt: skip
    alice = person()
    image_only = await alice.status_message(await alice.generate(prompt="the hero", asset="Hero"))
    await fakecord.wait_for(lambda: outcome_of(alice, image_only), 15, "the image's video")
    assert len(reviews.messages) == 0  # a library image is no reference video

    status = await alice.status_message(
        await alice.generate(prompt="the hero dances", asset="Hero", asset_2="dance")
    )
    number = job_id(status)  # read now: once made, the status message loses its embed
    review = await review_posted(fakecord, reviews)
    assert title(status) == HELD_TITLE
    assert field(review, "Needs review because") == "it uses 1 reference video"
    assert len(gmi_sim.calls("submit")) == 1  # held: only the image's job was sent
    ix = await fakecord.click(world.mod, review, label="Approve")
    await ix.wait_acknowledged()
    await fakecord.wait_for(lambda: outcome_of(alice, status), 15, "the video")
    payload = gmi_sim.calls("submit")[1].body_json["payload"]
    (video,) = payload["reference_videos"]
    assert (await status_of(video)) == (200, dance)  # the kept file, by a link that works
    assert (await bot.services.jobs.get(number)).succeeded


async def test_a_film_made_together_is_its_starters_entry_crediting_every_shot(
    fakecord, video_bot, gmi_sim
):
    clock = ManualClock.realtime()
    await video_bot(clock=clock)
    world = fakecord.default
    carol = world.guild.add_member("carol")
    await admin(fakecord, "challenge start", theme="kites", deadline="1d")
    board = await open_board(fakecord, world.alice, world.channel, shots=2)
    await add_shot(fakecord, world.alice, board, "a kite rises")
    await add_shot(fakecord, world.bob, board, "the string snaps")
    film = await wait_film(fakecord, world.channel)

    # The film is the starter's video: she enters it; it credits every shot's author.
    assert "Enter challenge" in [b["label"] for b in film.buttons()]
    ix = await clicked(fakecord, world.bob, film, "Enter challenge")
    assert f"Only <@{world.alice.id}>, who made #3" in refusal(ix)
    ix = await clicked(fakecord, world.alice, film, "Enter challenge")
    assert "Entered #3 in the challenge" in seen(ix)
    await fakecord.wait_for(lambda: entries(world.channel), 10, "the film's entry post")
    (entry,) = entries(world.channel)
    assert entry.attachments and entry.attachments[0].filename == "entry-3.mp4"
    assert entry.embeds[0]["description"].splitlines()[1] == (
        f"A film of 2 clips: #1 by <@{world.alice.id}> → #2 by <@{world.bob.id}>"
    )
    assert entry.mentions == []  # credits ping no one

    # A shot's author made part of it: no vote for it, as for one's own entry.
    ix = await clicked(fakecord, world.bob, entry, "Vote")
    assert "You can't vote for a film with a clip of yours in it" in refusal(ix)
    ix = await clicked(fakecord, carol, entry, "Vote")
    assert "You voted for entry #1" in seen(ix)

    clock.advance(86400 + 1)
    await fakecord.wait_for(lambda: results(world.channel), 15, "the results post")
    (posted,) = results(world.channel)
    assert (
        f"🥇 **1st** Entry #1: #3 by <@{world.alice.id}> · a film with clips by "
        f"<@{world.alice.id}>, <@{world.bob.id}> · 1 vote"
    ) in posted.embeds[0]["description"]
