"""The emulator as its own process, and a bot as a real child process that is SIGKILLed and
started again: ``python -m tests.fakecord`` + ``python -m tests.fakecord.samplebot``."""

import asyncio
import base64
import contextlib
import json
import os
import signal
import sys
from pathlib import Path

import pytest

from tests.fakecord.control import ControlClient

ROOT = Path(__file__).resolve().parents[3]


async def spawn(*args: str, env: dict[str, str] | None = None, stderr=None) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, *args, cwd=ROOT, env={**os.environ, **(env or {})},
        stdout=asyncio.subprocess.PIPE, stderr=stderr or asyncio.subprocess.DEVNULL)


async def stop(proc: asyncio.subprocess.Process, sig: int = signal.SIGTERM) -> None:
    if proc.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(sig)
    await asyncio.wait_for(proc.wait(), 10)


@pytest.fixture
async def server():
    proc = await spawn("-m", "tests.fakecord", "--port", "0", "--token", "test-token")
    try:
        line = await asyncio.wait_for(proc.stdout.readline(), 15)
        info = json.loads(line)
        async with ControlClient(info["base_url"]) as control:
            yield info, control
    finally:
        await stop(proc)
        assert proc.returncode in (0, -signal.SIGTERM)


async def start_bot(info: dict, log: Path) -> asyncio.subprocess.Process:
    return await spawn("-m", "tests.fakecord.samplebot", env={
        "DISCORD_TOKEN": info["token"], "DISCORD_API_BASE_URL": info["api_base_url"],
        "DISCORD_GATEWAY_URL": info["gateway_url"], "SAMPLEBOT_SYNC_GUILD_ID": info["guild_id"],
    }, stderr=log.open("ab"))


async def wait_bot_ready(control: ControlClient, identifies: int) -> None:
    await control.poll(lambda: control.get("/state"),
                       lambda s: s["connected_sessions"] == 1 and s["identifies"] >= identifies
                       and "video" in next(iter(s["commands"]["guilds"].values()), []),
                       within=20, what="the bot process to connect and sync")


async def test_bot_process_survives_sigkill_and_restart(server, tmp_path):
    info, control = server
    log = tmp_path / "bot.log"
    bot = await start_bot(info, log)
    try:
        await wait_bot_ready(control, 1)
        ix = await control.post("/command", {"member": "alice", "channel": "general", "command": "ping"})
        await control.wait_acknowledged(ix["id"])
        frame = base64.b64encode(b"frame").decode()
        ix = await control.post("/command", {"member": "alice", "channel": info["channel_id"],
                                             "command": "video generate", "options": {
                                                 "prompt": "a cat", "first_frame": {"attachment": {
                                                     "filename": "f.png", "data_b64": frame}}}})
        done = await control.poll(lambda: control.interaction(ix["id"]),
                                  lambda i: i["original_message"] and not i["original_message"]["loading"],
                                  within=10, what="the video message")
        video = done["original_message"]
        assert video["content"].endswith("a cat (5s, cinematic, frame 5B)")
        assert video["attachments"][0]["filename"] == "video.mp4"

        bot.send_signal(signal.SIGKILL)
        await asyncio.wait_for(bot.wait(), 10)
        await control.poll(lambda: control.get("/state"), lambda s: s["connected_sessions"] == 0,
                           what="the gateway to notice the dead bot")
        orphan = await control.post("/click", {"member": "bob", "message_id": video["id"], "label": "Re-roll"})
        await control.post("/clock/advance", {"seconds": 3.5})
        assert (await control.interaction(orphan["id"]))["failed"]  # "This interaction failed"

        bot = await start_bot(info, log)
        await wait_bot_ready(control, 2)
        click = await control.post("/click", {"member": "bob", "message_id": video["id"], "label": "Re-roll"})
        click = await control.wait_acknowledged(click["id"])
        assert click["response_type"] == 9  # the persistent button still works after the restart
        submit = await control.post("/modal", {"member": "bob", "interaction_id": click["id"],
                                               "values": {"prompt": "a dog"}})
        submit = await control.wait_acknowledged(submit["id"])
        assert submit["ephemeral_messages"][0]["content"] == "Re-rolling: a dog"
        msgs = await control.poll(lambda: control.get(f"/channels/{info['channel_id']}/messages"),
                                  lambda m: len(m) == 3, what="the reply in the channel")
        assert msgs[-1]["reply_to"] == video["id"]
        violations = await control.get("/violations")
        assert [v["code"] for v in violations] == ["ack_timeout"]
        state = await control.get("/state")
        assert state["unknown_routes"] == []
    finally:
        await stop(bot)
    assert "Traceback" not in log.read_text(errors="replace"), log.read_text(errors="replace")


async def test_control_api_drives_files_message_commands_threads_and_rate_limits(server, tmp_path):
    info, control = server
    log = tmp_path / "bot.log"
    bot = await start_bot(info, log)
    try:
        await wait_bot_ready(control, 1)
        posted = await control.say("bob", "general", "my drawing", files={"d.png": b"PNG"})
        assert posted["attachments"][0]["filename"] == "d.png"
        ix = await control.run_message_command("alice", posted["id"], "Animate with Seedance")
        ix = await control.wait_acknowledged(ix["id"])
        assert (ix["command_type"], ix["target_id"], ix["response_type"]) == (3, posted["id"], 9)
        submit = await control.post("/modal", {"member": "alice", "interaction_id": ix["id"],
                                               "values": {"prompt": "it moves"}})
        submit = await control.wait_acknowledged(submit["id"])
        assert submit["ephemeral_messages"][0]["content"] == "Animating d.png (3B): it moves"

        ix = await control.run_message_command("alice", posted["id"], "Discuss in a thread")
        await control.poll(lambda: control.interaction(ix["id"]), lambda i: i["followups"],
                           what="the thread to be started")
        starter = await control.get(f"/messages/{posted['id']}")
        assert starter["thread_id"] == posted["id"]
        in_thread = await control.get(f"/channels/{posted['id']}/messages")
        assert [m["content"] for m in in_thread] == ["Let's talk about it here."]
        assert await control.post(f"/threads/{posted['id']}/archive", {"locked": True}) == \
            {"archived": True, "locked": True}
        with pytest.raises(AssertionError, match="archived and locked"):
            await control.say("bob", posted["id"], "hello?")

        counters = await control.counters()
        assert counters["enabled"] and counters["global"] == {"limit": 50, "per": 1.0}
        assert counters["requests_by_route"]["POST /channels/{channel_id}/messages/{message_id}/threads"] == 1
        assert counters["rate_limited_by_route"] == {}
        tightened = await control.post("/rate_limits", {"routes": [
            {"method": "POST", "route": "/channels/{channel_id}/messages", "limit": 1, "per": 60}]})
        assert {"method": "POST", "route": "/channels/{channel_id}/messages", "limit": 1, "per": 60.0} \
            in tightened["routes"]

        made = await control.post("/guilds", {"count": 2, "shard_count": 2, "members": ["zed"]})
        assert [g["shard_id"] for g in made] == [0, 1]
        state = await control.get("/state")
        assert state["shards"] == [[0, 1]] and len(state["guilds"]) == 3
        assert (await control.post("/gateway/shards", {"recommended": 2}))["recommended"] == 2
        assert state["unknown_routes"] == [] and await control.get("/violations") == []
    finally:
        await stop(bot)
    assert "Traceback" not in log.read_text(errors="replace"), log.read_text(errors="replace")
