"""What members type and upload, end to end: the real bot, the Discord emulator, the GMI
simulator. Each test is something a member (or a stale Discord client) can send, and
checks what they are shown, what everyone else sees, and that nothing was stored or sent
when the answer is a refusal."""

from __future__ import annotations

import io
import logging

import pytest

from bot.clock import ManualClock
from bot.logs import configure_logging
from tests.support import sample_files
from tests.support.gmi import GMI_TEST_KEY


def upload(emu, name, data, content_type, width=None, height=None):
    return emu.attachment(name, data, content_type=content_type, width=width, height=height)


def png(emu, name="frame.png", width=1280, height=720):
    return upload(emu, name, sample_files.png(width, height), "image/png", width, height)


async def refused(ix) -> str:
    (reply,) = ix.ephemeral_messages
    return reply.content


async def nothing_happened(bot, fakecord, gmi_sim, member) -> None:
    assert gmi_sim.log == []
    assert await bot.services.jobs.count_for_user(member.id, fakecord.default.guild.id) == 0
    assert fakecord.default.channel.messages == []


# -- links -------------------------------------------------------------------------------


async def test_a_link_with_a_password_is_refused_and_never_shown(fakecord, video_bot, person, gmi_sim):
    bot = await video_bot()
    alice = person()
    ix = await alice.generate(prompt="x", first_frame_url="https://bob:hunter2@example.com/a.png")
    text = await refused(ix)
    assert "has a user name or password in it" in text and "hunter2" not in text
    await nothing_happened(bot, fakecord, gmi_sim, alice.member)


async def test_links_to_this_machine_or_a_private_network_are_refused(fakecord, video_bot, person, gmi_sim):
    bot = await video_bot(allow_private_media_urls=False)
    alice = person()
    for options in (
        dict(first_frame_url="http://127.0.0.1:8080/a.png"),
        dict(reference_images="https://example.com/ok.png http://169.254.169.254/latest/meta-data"),
        dict(reference_videos="http://[::1]/clip.mp4", reference_images="https://example.com/a.png"),
        dict(first_frame_url="http://printer.local/scan.png"),
    ):
        text = await refused(await alice.generate(prompt="x", **options))
        assert "the video provider fetches every link from the public internet" in text, text
    await nothing_happened(bot, fakecord, gmi_sim, alice.member)


async def test_the_setting_lets_dry_runs_use_local_links(fakecord, video_bot, person, gmi_sim):
    await video_bot()  # the fixtures allow them: the simulator serves media on 127.0.0.1
    alice = person()
    local = f"{gmi_sim.base_origin}/media/frame.png"
    ix = await alice.generate(prompt="x", first_frame_url=local)
    await alice.wait_result(await alice.status_message(ix))
    assert gmi_sim.calls("submit")[0].body_json["payload"]["first_frame"] == local


# -- echoed text -------------------------------------------------------------------------


async def test_markdown_and_mentions_in_a_prompt_and_a_file_name_show_as_text(fakecord, video_bot, person, gmi_sim):
    await video_bot()
    alice = person()
    role = fakecord.default.artists
    prompt = f"**huge** ||spoiler|| [free nitro](https://evil.example) <@&{role.id}> @here # title"
    frame = png(fakecord, name="my_*best*_frame.png")
    status = await alice.status_message(await alice.generate(prompt=prompt, first_frame=frame))
    embed = status.embeds[0]
    assert embed["description"] == (
        r"\*\*huge\*\* \|\|spoiler\|\| \[free nitro](https://evil.example) "
        f"\\<@\u200b&{role.id}> @\u200bhere # title"
    )
    inputs = next(f["value"] for f in embed["fields"] if f["name"] == "Inputs")
    assert inputs == r"First frame: my\_\*best\*\_frame.png"
    assert status.mentions == [] and not status.mention_roles and not status.mention_everyone
    # the provider gets the prompt as typed, not the escaped text
    await gmi_sim.wait_for_calls("submit")
    assert gmi_sim.calls("submit")[0].body_json["payload"]["prompt"] == prompt


async def test_a_provider_reason_is_shown_as_text(fakecord, video_bot, person, gmi_sim):
    await video_bot()
    gmi_sim.script_next(fail_reason="Refused: **see** [appeal](https://evil.example) @everyone")
    alice = person()
    result = await alice.wait_result(await alice.status_message(await alice.generate(prompt="x")))
    assert r"\*\*see\*\* \[appeal](https://evil.example) @" + "\u200beveryone" in result.content
    assert not result.mention_everyone


# -- prompts -----------------------------------------------------------------------------


async def test_a_prompt_of_invisible_characters_is_refused(fakecord, video_bot, person, gmi_sim):
    bot = await video_bot()
    alice = person()
    for prompt in ("\u200b\u200b\u200b", "\u3164", "\u202e \u2066\u2069"):
        text = await refused(await alice.generate(prompt=prompt))
        assert "The prompt is empty: it has no visible text" in text
    await nothing_happened(bot, fakecord, gmi_sim, alice.member)


async def test_a_prompt_is_echoed_and_sent_normalised_with_its_emoji_whole(fakecord, video_bot, person, gmi_sim):
    await video_bot()
    alice = person()
    family = "👨\u200d👩\u200d👧"
    ix = await alice.generate(prompt=f"\u202egnp.exe\u202c  {family}\u200b at   the beach\n\n\n\nat dusk")
    status = await alice.status_message(ix)
    expected = f"gnp.exe {family} at the beach\n\nat dusk"
    assert status.embeds[0]["description"] == expected
    await gmi_sim.wait_for_calls("submit")
    assert gmi_sim.calls("submit")[0].body_json["payload"]["prompt"] == expected


# -- uploads -----------------------------------------------------------------------------


async def test_uploads_are_checked_by_what_their_bytes_are(fakecord, video_bot, person, gmi_sim):
    bot = await video_bot()
    alice = person()
    text_file = upload(fakecord, "notes.png", b"remember the milk", "image/png", 1280, 720)
    empty = upload(fakecord, "empty.png", b"", "image/png", 1280, 720)
    small = upload(fakecord, "liar.png", sample_files.png(100, 100), "image/png", 1280, 720)
    not_video = upload(fakecord, "clip.mp4", sample_files.png(), "video/mp4")
    not_audio = upload(fakecord, "song.mp3", b"ID3 but not really", "audio/mpeg")
    cases = [
        (dict(first_frame=text_file),
         "`notes.png` is not a real image file: its contents are not JPEG, PNG or WebP data."),
        (dict(first_frame=empty), "`empty.png` is an empty file (0 bytes)"),
        (dict(first_frame=small), "`liar.png` is 100x100 px; each side must be 300 to 6000 px"),
        (dict(reference_video_1=not_video),
         "`clip.mp4` is not a real video file: its contents are PNG image, not MOV or MP4."),
        (dict(reference_image_1=png(fakecord), reference_audio_1=not_audio),
         "`song.mp3` is not a real audio file"),
    ]
    for options, expected in cases:
        text = await refused(await alice.generate(prompt="x", **options))
        assert expected in text, (options, text)
    await nothing_happened(bot, fakecord, gmi_sim, alice.member)


async def test_six_real_files_are_read_and_answered_well_within_three_seconds(fakecord, video_bot, person, gmi_sim):
    await video_bot()
    alice = person()
    files = dict(
        reference_image_1=png(fakecord, "a.png"),
        reference_image_2=upload(fakecord, "b.jpg", sample_files.jpeg(), "image/jpeg", 1280, 720),
        reference_image_3=upload(fakecord, "c.webp", sample_files.webp(), "image/webp", 1280, 720),
        reference_video_1=upload(fakecord, "d.mp4", sample_files.mp4(), "video/mp4"),
        reference_video_2=upload(fakecord, "e.mov", sample_files.mov(), "video/quicktime"),
        reference_audio_1=upload(fakecord, "f.wav", sample_files.wav(), "audio/wav"),
    )
    ix = await alice.generate(prompt="all of them", **files)
    await alice.wait_result(await alice.status_message(ix))
    assert ix.acknowledged_after < 1.5, ix.acknowledged_after
    payload = gmi_sim.calls("submit")[0].body_json["payload"]
    assert len(payload["reference_images"] + payload["reference_videos"]) == 5


# -- what a stale copy of the command sends ---------------------------------------------


async def test_malformed_options_get_a_clear_answer_and_log_no_error(fakecord, video_bot, person, gmi_sim, caplog):
    bot = await video_bot()
    alice = fakecord.default.alice
    channel = fakecord.default.channel
    prompt = {"name": "prompt", "type": 3, "value": "a fox"}
    cases = [
        ([], "`prompt` is missing"),
        ([prompt, {"name": "duration", "type": 3, "value": "five"}], "`duration` should be a whole number"),
        ([prompt, {"name": "duration", "type": 4, "value": "5"}], "`duration` should be a whole number"),
        ([prompt, {"name": "watermark", "type": 5, "value": "yes"}], "`watermark` should be true or false"),
        ([prompt, {"name": "resolution", "type": 3, "value": "4K"}],
         "`resolution` should be one of 480p, 720p, 1080p"),
        ([prompt, {"name": "first_frame", "type": 11, "value": "123"}], "`first_frame` should be a file"),
        ([prompt, {"name": "colour", "type": 3, "value": "red"}], "it has no option `colour`"),
    ]
    with caplog.at_level(logging.WARNING):
        for options, expected in cases:
            ix = await fakecord.run_command_raw(alice, channel, "video generate", options)
            await ix.wait_acknowledged()
            text = await refused(ix)
            assert "Discord sent this command in a shape I don't expect" in text
            assert expected in text, (options, text)
        ix = await fakecord.run_command_raw(
            fakecord.default.mod, channel, "videoadmin usage server",
            [{"name": "period", "type": 3, "value": "fortnight"}],
        )
        await ix.wait_acknowledged()
        assert "`period` should be one of day, week, month" in await refused(ix)
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []
    assert any("Discord's copy of the command differs" in r.getMessage() for r in caplog.records)
    await nothing_happened(bot, fakecord, gmi_sim, alice)


# -- the log -----------------------------------------------------------------------------


@pytest.fixture
def debug_log():
    """The bot's own logging setup at DEBUG, written to a string; restored afterwards."""
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    levels = {name: logging.getLogger(name).level for name in ("aiosqlite", "discord.gateway")}
    stream = io.StringIO()

    def start(secrets):
        configure_logging("DEBUG", secrets=secrets)
        root.handlers[0].setStream(stream)
        return stream

    yield start
    root.handlers[:], root.level = saved
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)


async def test_a_debug_log_never_shows_an_interaction_token(fakecord, video_bot, person, gmi_sim, debug_log):
    log = debug_log((fakecord.token, GMI_TEST_KEY))
    bot = await video_bot()
    alice = person()
    generate = await alice.generate(prompt="a fox")
    await alice.wait_result(await alice.status_message(generate))
    bot.health.detail = None  # as if the provider never answered: /video info asks it now,
    info = await fakecord.run_command(alice.member, alice.channel, "video info")
    await info.wait_response_message()  # deferred, then a followup through the webhook
    refusal = await alice.generate(prompt="\u200b")  # an ephemeral answer
    text = log.getvalue()
    assert f"/interactions/{generate.id}/[redacted]/callback" in text
    assert f"/webhooks/{fakecord.application_id}/[redacted]" in text
    for ix in (generate, info, refusal):
        assert ix.token not in text
    assert fakecord.token not in text and GMI_TEST_KEY not in text


# -- deadlines ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("deadline", "said"),
    [(1, "1 second"), (45, "45 seconds"), (60, "1 minute"), (120, "2 minutes")],
)
async def test_a_deadline_is_told_in_seconds_under_a_minute(fakecord, video_bot, person, gmi_sim, deadline, said):
    clock = ManualClock.realtime()
    await video_bot(clock=clock, job_deadline_seconds=deadline)
    gmi_sim.script_next(hold=True)
    alice = person()
    status = await alice.status_message(await alice.generate(prompt="x"))
    await gmi_sim.wait_for_calls("submit")
    clock.advance(deadline)
    result = await alice.wait_result(status)
    assert f"timed out: No result from the provider after {said}." in result.content
