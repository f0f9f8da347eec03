"""fakecord: a local Discord (REST v10 + Gateway + CDN) that the real discord.py client runs against.

Cheat sheet::

    from tests.fakecord import FakeDiscord
    emu = FakeDiscord(token=None)             # world + aiohttp server + controllable clock
    await emu.start()                         # 127.0.0.1, port 0 (or: async with FakeDiscord() as emu)
    emu.api_base_url, emu.gateway_url, emu.token, emu.application_id, emu.bot_user

    guild = emu.add_guild("Test Server", boost_tier=0)  # owner + @everyone (id == guild id) + bot member
    chan = guild.add_text_channel("general"); thread = chan.add_thread("ideas")
    role = guild.add_role("Artists", mentionable=True); mods = guild.add_role("Mods", manage_guild=True)
    alice = guild.add_member("alice", roles=[role]); guild.owner; guild.bot_member
    chan.set_bot_permissions(attach_files=False)        # True allow / False deny / None neutral, live
    chan.set_permissions(role_or_member, send_messages=False); role.set_permissions(...)
    member.add_role(r) / remove_role(r); guild.set_boost_tier(2)  # pushed to the client by the gateway
    emu.attachment("frame.png", data, content_type=None, width=None, height=None)  # an option value

    ix = await emu.run_command(alice, chan, "video generate", prompt="a cat", first_frame=att)
    ix = await emu.run_command_raw(alice, chan, "video generate", [{"name": "duration", "type": 3,
                                   "value": "5"}])  # options as sent, unchecked: a stale schema
    await ix.wait_acknowledged()        # InteractionFailed if the 3 s passed ("This interaction failed")
    msg = await ix.wait_response_message()  # the @original once it is not "thinking" any more
    ix.response_type (4 5 6 7 8 9), ix.response, ix.original_message, ix.followups,
    ix.ephemeral_messages, ix.public_messages, ix.modal, ix.choices, ix.failed, ix.token_expired
    await ix.wait_for(lambda ix: ..., timeout=5)
    choices = await emu.autocomplete(alice, chan, "video status", focused="request_id", value="ab", **others)
    ix2 = await emu.click(bob, msg, label="Re-roll")          # or custom_id=
    ix3 = await emu.submit_modal(bob, ix2, {"prompt": "a dog"})  # inputs by custom_id or label
    ix4 = await emu.select(bob, msg, ["mint"], custom_id="flavour")
    await emu.say(bob, chan, "hello", reply_to=None)         # a user's message (MESSAGE_CREATE)

    chan.messages        # what everyone sees, oldest first: Message(id, author, content, embeds (dicts),
                         # attachments (filename, bytes, size, url, content_type), mentions (ids pinged),
                         # mention_everyone, mention_roles, reply_to, components, flags, nonce, loading,
                         # reactions (the bot's own), interaction (the fakecord Interaction behind it))
    emu.ephemeral_messages(alice)                            # everything only alice was shown
    emu.dms(alice); emu.dm_channel(alice); emu.close_dms(alice)  # closed DMs: 403 / 50007
    await emu.wait_for(lambda: len(chan.messages) == 2, timeout=5, what="two messages")  # WaitTimeout

    emu.clock.advance(16 * 60)                               # tokens expire; unanswered interactions fail
    emu.fail_next("POST", "/channels/{channel_id}/messages", status=429, retry_after=0.5, times=1)
    emu.violations / emu.expect_violation(50035, ACK_TIMEOUT) / emu.violations_allowed = True
    emu.unknown_routes, emu.internal_errors, emu.client_errors / emu.expect_client_error("substring")
    emu.requests / emu.requests_to("POST", "/channels/{channel_id}/messages")  # .status of each
    await emu.gateway_reconnect(); await emu.invalid_session(resumable=False); await emu.drop_connections()
    await emu.close()

Fixtures (``tests/conftest.py`` loads ``tests.fakecord.fixtures``)::

    async def test_x(fakecord, connect_bot):             # fakecord.default: DefaultWorld(guild, channel,
        bot = await connect_bot(MyBot(...))              #   thread, artists, mods, alice, bob, mod, owner)
    from tests.fakecord.fixtures import run_client   # the same as an async context manager:
    async with run_client(emu, client, ready_timeout=5, violations_allowed=False, check=True,
                          skip_identify_wait=True) as client: ...

``connect_bot``/``run_client`` point discord.py at the emulator, start the client, wait for
``on_ready``; at teardown they close it, await its connection task, restore the endpoints and
fail on unknown routes, emulator bugs, unhandled client errors and unexpected violations.

Standalone: ``python -m tests.fakecord --port N [--token T]`` prints its URLs as one JSON line
and serves ``/_control`` (see :mod:`tests.fakecord.control`) to drive a bot in another process.

Behaviour choices (what Discord does, as far as known):
- Interaction responses (callback, ``@original``, followups) need no channel permission; only
  ``/channels/{id}/messages`` checks the bot's permissions: no View Channel -> 403/50001, no Send
  Messages (Send Messages in Threads in threads) or a file without Attach Files -> 403/50013, a
  reply without Read Message History -> 403/160002, embeds without Embed Links are silently dropped
  (recorded as a 50013 violation with status 200). History without Read Message History is empty.
- The first followup after a "thinking" deferral replaces the thinking message.
- Callbacks answer 200 ``{"interaction", "resource"}`` when ``with_response`` is set (discord.py
  always sets it); ``resource`` exists for types 4 and 7 only.
- Every error the bot gets back is recorded as a violation (``emu.violations``), except 401 on
  ``GET /users/@me`` and injected failures; an interaction nobody answered in 3 s is recorded as
  ``ACK_TIMEOUT``.
Left out: voice, presences, reactions by others (the bot's own work), pins, webhooks other than interaction ones, forum
channels, stickers, polls' votes, sharding beyond one shard, real rate-limit accounting (429s
only on demand), gateway compression.
"""

from .emulator import (
    ACK_TIMEOUT,
    FakeDiscord,
    InteractionFailed,
    ScenarioError,
    Violation,
    WaitTimeout,
)
from .interactions import Interaction
from .limits import ApiError
from .world import Attachment, Channel, Guild, Member, Message, Role, User

__all__ = [
    "ACK_TIMEOUT", "ApiError", "Attachment", "Channel", "FakeDiscord", "Guild", "Interaction",
    "InteractionFailed", "Member", "Message", "Role", "ScenarioError", "User", "Violation",
    "WaitTimeout",
]
