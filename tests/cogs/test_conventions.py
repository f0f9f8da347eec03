"""Discord conventions every command follows, read from the schema the bot syncs."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

SUBCOMMAND, GROUP = 1, 2
SLASH = 1


async def synced_schema(fakecord, video_bot) -> list[dict[str, Any]]:
    """The slash commands as Discord holds them once the bot has synced."""
    await video_bot()
    commands = [*fakecord.global_commands.values()]
    for guild in fakecord.guild_commands.values():
        commands += guild.values()
    return [c for c in commands if c.get("type", SLASH) == SLASH]


def described(node: dict[str, Any], path: str = "") -> Iterator[tuple[str, str]]:
    """(``/video generate text prompt``, its description) for each command and option."""
    name = f"{path} {node['name']}".strip()
    if node.get("type", 1) in (1, SUBCOMMAND, GROUP) or not path:
        yield f"/{name}", node.get("description", "")
    for option in node.get("options") or []:
        if option.get("type") in (SUBCOMMAND, GROUP):
            yield from described(option, name)
        else:
            yield f"/{name} {option['name']}", option.get("description", "")


async def test_every_command_and_option_is_described_in_a_sentence(fakecord, video_bot):
    schema = await synced_schema(fakecord, video_bot)
    texts = [pair for command in schema for pair in described(command)]
    assert len(texts) > 100
    bad = [
        (where, text)
        for where, text in texts
        if not (text[:1].isupper() and text.endswith((".", "?")) and len(text) <= 100)
    ]
    assert bad == [], "\n".join(f"{w}: {t}" for w, t in bad)


async def test_generate_has_one_subcommand_per_mode_each_with_only_its_inputs(fakecord, video_bot):
    (video,) = [c for c in await synced_schema(fakecord, video_bot) if c["name"] == "video"]
    (generate,) = [o for o in video["options"] if o["name"] == "generate"]
    modes = {o["name"]: [x["name"] for x in o["options"]] for o in generate["options"]}
    shared = ["duration", "resolution", "ratio", "seed", "generate_audio", "watermark", "web_search",
              "confirm"]
    assert modes["text"] == ["prompt", *shared]
    assert modes["frames"] == [
        "prompt", "first_frame", "first_frame_url", "last_frame", "last_frame_url", *shared
    ]  # fmt: skip
    assert modes["references"][0] == "prompt" and modes["references"][-len(shared):] == shared
    assert not any(name.startswith(("first", "last")) for name in modes["references"])
    assert all(len(names) <= 25 for names in modes.values())
