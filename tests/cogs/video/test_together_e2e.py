"""`/video together`, end to end: the real bot, the Discord emulator, the GMI simulator.

Members add shots to a storyboard with its button and form; the bot films them one after
the other (each from the last frame of the one before, each the author's own job), then
posts the film in the channel with everyone's credits. A failed shot pauses the film for
its author; a restart mid-film goes on where it was.
"""

from __future__ import annotations

import pytest

from bot.jobs.lifecycle import JobOutcome
from bot.media import probe
from bot.simulator import VideoSpec
from bot.storyboards.model import BoardState, ShotState
from tests.support import sample_files
from tests.support.media import decode

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
    shot_results = [m for m in thread.messages if m.attachments]
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
