"""Canary: the emulator and the bot's DISCORD_API_BASE_URL / DISCORD_GATEWAY_URL settings rely on
two undocumented discord.py class attributes. If an upgrade removes or stops using them, these
tests fail with an explanation instead of the end-to-end suite hanging or talking to discord.com.
"""

import discord
import discord.gateway
import discord.http
import yarl

from bot.discord_endpoints import DISCORD_API_BASE, DISCORD_GATEWAY, point_discord_at


def test_discord_py_is_pinned_to_2_7():
    assert discord.__version__.startswith("2.7."), (
        f"discord.py {discord.__version__} is installed but the project is pinned to 2.7.x: "
        "check Route.BASE / DiscordWebSocket.DEFAULT_GATEWAY and the emulator before moving the pin"
    )


def test_route_base_exists_and_builds_every_url():
    assert isinstance(getattr(discord.http.Route, "BASE", None), str), (
        "discord.http.Route.BASE is gone: point_discord_at() and the emulator can no longer "
        "redirect REST calls (find where discord.py now builds its API URLs)"
    )
    saved = discord.http.Route.BASE
    try:
        point_discord_at("http://127.0.0.1:9/api/v10/", None)
        url = discord.http.Route("GET", "/channels/{channel_id}", channel_id=1).url
        assert url == "http://127.0.0.1:9/api/v10/channels/1", (
            f"Route(...).url no longer starts with Route.BASE (got {url}): patching BASE has no effect"
        )
    finally:
        discord.http.Route.BASE = saved


def test_default_gateway_exists_and_is_what_the_client_connects_to():
    ws_cls = discord.gateway.DiscordWebSocket
    assert isinstance(getattr(ws_cls, "DEFAULT_GATEWAY", None), yarl.URL), (
        "discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY is gone: the client would connect "
        "to Discord's real gateway instead of the configured one"
    )
    import inspect

    source = inspect.getsource(ws_cls.from_client)
    assert "DEFAULT_GATEWAY" in source, (
        "DiscordWebSocket.from_client no longer falls back to DEFAULT_GATEWAY: patching it has no effect"
    )
    saved = ws_cls.DEFAULT_GATEWAY
    try:
        point_discord_at(None, "ws://127.0.0.1:9/gateway")
        assert ws_cls.DEFAULT_GATEWAY == yarl.URL("ws://127.0.0.1:9/gateway")
        point_discord_at(None, None)
        assert str(ws_cls.DEFAULT_GATEWAY) == DISCORD_GATEWAY
        assert discord.http.Route.BASE == DISCORD_API_BASE
    finally:
        ws_cls.DEFAULT_GATEWAY = saved
