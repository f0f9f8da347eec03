"""The default world the fixtures and the standalone server start with."""

from __future__ import annotations

from dataclasses import dataclass

from .emulator import FakeDiscord
from .world import Channel, Guild, Member, Role


@dataclass
class DefaultWorld:
    """What the ``fakecord`` fixture seeds: one guild, #general with a thread, four people."""

    guild: Guild
    channel: Channel
    thread: Channel
    artists: Role
    mods: Role
    alice: Member  # plain member with the Artists role
    bob: Member  # plain member
    mod: Member  # has Manage Server through the Mods role
    owner: Member


def seed_default_world(emu: FakeDiscord, *, boost_tier: int = 0) -> DefaultWorld:
    guild = emu.add_guild("Test Server", boost_tier=boost_tier)
    channel = guild.add_text_channel("general")
    thread = channel.add_thread("ideas")
    artists = guild.add_role("Artists", mentionable=True)
    mods = guild.add_role("Mods", manage_guild=True, manage_messages=True)
    alice = guild.add_member("alice", roles=[artists])
    bob = guild.add_member("bob")
    mod = guild.add_member("mo", roles=[mods])
    return DefaultWorld(guild, channel, thread, artists, mods, alice, bob, mod, guild.owner)
