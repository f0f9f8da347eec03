"""fakecord: a local Discord (REST v10 + Gateway + CDN) that the real discord.py client runs against.

Cheat sheet::

    from tests.fakecord import FakeDiscord
    emu = FakeDiscord(token=None)             # world + aiohttp server + controllable clock
    await emu.start()                         # 127.0.0.1, port 0 (or: async with FakeDiscord() as emu)
    emu.api_base_url, emu.gateway_url, emu.token, emu.application_id, emu.bot_user

    guild = emu.add_guild("Test Server", boost_tier=0)  # owner + @everyone (id == guild id) + bot member
    emu.add_guild("Far", shard=(1, 2))                  # an id on shard 1 of 2: (id >> 22) % 2 == 1
    guilds = emu.add_guilds(4, shard_count=2, channels=("general",), members=("alice", "bob"))
    guild.shard_id(2); guild.channel("general"); guild.member("alice")  # guild i on shard i % 2
    chan = guild.add_text_channel("general"); thread = chan.add_thread("ideas", auto_archive_duration=60)
    thread.archive(locked=False); thread.archived, thread.locked  # idle threads archive by the clock
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
    await emu.submit_modal(bob, ix2, {"image": emu.attachment("a.png", data)})  # a file upload (19)
    ix4 = await emu.select(bob, msg, ["mint"], custom_id="flavour")
    await emu.say(bob, chan, "hello", reply_to=None)         # a user's message (MESSAGE_CREATE)
    emu.delete(mod, msg)                  # their own, or with Manage Messages (MESSAGE_DELETE)
    msg = await emu.say(bob, thread, "my cat", attachments=[emu.attachment("cat.png", data)])
    ix5 = await emu.run_message_command(alice, msg, "Animate with Seedance")  # Apps > on a message:
        # data.type 3, data.target_id, data.resolved.messages (attachments freshly signed);
        # ix5.target_message; the answer may be a modal -> emu.submit_modal(alice, ix5, {...})
    msg.thread                                               # the thread started from it (same id)

    chan.messages        # what everyone sees, oldest first: Message(id, author, content, embeds (dicts),
                         # attachments (filename, bytes, size, url, content_type), mentions (ids pinged),
                         # mention_everyone, mention_roles, reply_to, components, flags, nonce, loading,
                         # reactions (the bot's own), interaction (the fakecord Interaction behind it))
    emu.ephemeral_messages(alice)                            # everything only alice was shown
    emu.dms(alice); emu.dm_channel(alice); emu.close_dms(alice)  # closed DMs: 403 / 50007
    await emu.wait_for(lambda: len(chan.messages) == 2, timeout=5, what="two messages")  # WaitTimeout

    emu.clock.advance(16 * 60)                               # tokens expire; unanswered interactions fail
    emu.fail_next("POST", "/channels/{channel_id}/messages", status=429, retry_after=0.5, times=1)
    emu.clear_failures()                                     # forget those not met yet

    # Discord's rate limits are on (FakeDiscord(rate_limits=False) or emu.rate_limits.enabled = False)
    emu.rate_limits.set("PATCH", "/channels/{channel_id}/messages/{message_id}", limit=2, per=1)
    emu.rate_limits.global_limit = Limit(10, 1.0); emu.rate_limits.default = Limit(50, 1.0)
    emu.rate_limited_by_route()  # Counter {(method, route): 429s}, injected ones too
    emu.rate_limit_hits          # 429s a limit caused: .scope ("user"/"global"), .retry_after
    emu.max_channel_edits        # most edits of visible messages in one channel in any 5 s
    emu.requests_by_route(); emu.counters()   # all of these as JSON (GET /_control/rate_limits)
    emu.gateway.recommended_shards = 2; emu.gateway.max_guilds_per_shard = 2500
    emu.gateway.balance_interactions = True  # each interaction to one session of its shard, in turn
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
    async with run_client(emu, AutoShardedBot(..., shard_ids=[0], shard_count=2)), \
            run_client(emu, AutoShardedBot(..., shard_ids=[1], shard_count=2)): ...  # two processes' worth

``connect_bot``/``run_client`` point discord.py at the emulator, start the client, wait for
``on_ready``; at teardown they close it, await its connection task, restore the endpoints and
fail on unknown routes, emulator bugs, unhandled client errors and unexpected violations.

Standalone: ``python -m tests.fakecord --port N [--token T] [--no-rate-limits]`` prints its URLs
as one JSON line and serves ``/_control`` (see :mod:`tests.fakecord.control`) to drive a bot in
another process: the same scenario calls (``say`` with files, ``message_command``, threads,
guilds over shards) and the rate-limit counters and settings.

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
  ``GET /users/@me``, injected failures and 429s (an answer to wait on, not a broken rule: read
  them in the counters); an interaction nobody answered in 3 s is recorded as ``ACK_TIMEOUT``.
- Rate limits (:mod:`tests.fakecord.ratelimits`): a bucket per route and top-level resource
  (channel_id, guild_id, webhook_id + token) with Discord's ``X-RateLimit-*`` headers; 5 / 5 s
  per channel for new messages, the same for edits (separately), deletes 5 / 1 s, reactions
  1 / 0.25 s, interaction webhooks 5 / 2 s, 50 / 1 s elsewhere; the global 50 requests / s per
  bot, interaction endpoints (callback, ``@original``, followups) exempt. Over a limit: 429
  ``{message, retry_after, global, code: 0}`` with ``Retry-After`` and ``X-RateLimit-Scope``
  (``user``, or ``global`` with ``X-RateLimit-Global``). discord.py waits them out (a bucket's
  last request returns only once its window ended), so tests pass but bursts take real seconds.
- Message commands (type 2/3): a name of 1-32 characters (capitals, spaces), no description
  (50035 APPLICATION_COMMAND_CONTEXT_MENU_DESCRIPTION_INVALID), no options; more than 5 message
  (or 5 user) commands in one scope -> 400 / 30032 "Maximum number of application commands
  reached (5)". Their answers are messages of type 23.
- Members' files: ``say`` checks what the Discord client would (View Channel, Send Messages or
  Send Messages in Threads, Attach Files, the upload limit, a locked thread). Attachment URLs are
  signed for a day from each payload: refetching a message (``GET /channels/{id}/messages/{id}``)
  gives fresh links, old ones 404 once expired.
- Threads from a message (``POST /channels/{id}/messages/{id}/threads``): Create Public Threads
  (403 / 50013), name 1-100 and ``auto_archive_duration`` 60/1440/4320/10080 (50035), a text
  channel only (50024), once per message (160004); 201 with the thread, whose id is the message's;
  THREAD_CREATE and the starter's MESSAGE_UPDATE (``thread``, flag 32) are dispatched. A thread
  archives after ``auto_archive_duration`` minutes without a message (THREAD_UPDATE; discord.py
  then drops it from its cache). Posting unarchives it, unless it is locked and the bot lacks
  Manage Threads (400 / 50083 "Thread is archived"); edits, deletes and reactions in an archived
  thread get 50083.
- Sharding (:mod:`tests.fakecord.gateway`): IDENTIFY's ``shard`` picks the guilds
  (``(guild_id >> 22) % shard_count``) in READY, GUILD_CREATE and every guild event,
  interactions included; DMs go to shard 0; 4010 for a shard outside its count, 4011 past
  ``max_guilds_per_shard``. Several sessions may serve one shard: each gets every event,
  or with ``balance_interactions`` each interaction goes to one of them in turn. ``GET /gateway/bot`` answers the emulator's gateway URL, a shard
  per 1000 guilds (or ``recommended_shards``) and ``session_start_limit``.
Left out: voice, presences, reactions by others (the bot's own work), pins, webhooks other than
interaction ones, forum channels, private threads, stickers, polls' votes, the IDENTIFY rate
(max_concurrency is reported, not enforced), the invalid-request ban (10,000 401/403/429 in
10 minutes), gateway compression.
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
from .ratelimits import Limit, RateLimitHit
from .world import Attachment, Channel, Guild, Member, Message, Role, User

__all__ = [
    "ACK_TIMEOUT", "ApiError", "Attachment", "Channel", "FakeDiscord", "Guild", "Interaction",
    "InteractionFailed", "Limit", "Member", "Message", "RateLimitHit", "Role", "ScenarioError",
    "User", "Violation", "WaitTimeout",
]
