"""Point discord.py at a Discord-compatible server other than discord.com.

discord.py has no public setting for its REST base or its gateway address, so this
patches two class attributes (``Route.BASE`` and ``DiscordWebSocket.DEFAULT_GATEWAY``).
Both are undocumented: ``tests/test_discord_canary.py`` fails loudly if they vanish,
and discord.py is pinned in ``requirements.txt``. The patch is process-wide.
"""

from __future__ import annotations

import discord.gateway
import discord.http
import yarl

DISCORD_API_BASE = "https://discord.com/api/v10"
DISCORD_GATEWAY = "wss://gateway.discord.gg/"


def point_discord_at(api_base_url: str | None, gateway_url: str | None) -> None:
    """Send discord.py's REST calls to ``api_base_url`` and its gateway to ``gateway_url``.

    ``None`` restores Discord's own address for that half.
    """
    discord.http.Route.BASE = (api_base_url or DISCORD_API_BASE).rstrip("/")
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway_url or DISCORD_GATEWAY)
