"""The shared asset library: its table (on each engine), names, the moderators' changes
and their audit, the checks of a file, and how assets become a request's references."""

from __future__ import annotations

import json

import pytest

from bot.asset_library import (
    CheckedFile,
    KeptFile,
    checked_name,
    kept_media,
    name_key,
    with_assets,
)
from bot.db.assets import DuplicateAsset, LibraryAsset
from bot.errors import Conflict, InvalidInput, NotFound, PermissionDenied, Refused
from bot.moderation.audit import AuditAction
from bot.moderation.requester import Requester
from bot.params import GenerationRequest, MediaInput, validate
from bot.simulator.media import RenderSpec
from cogs.videoadmin.render import audit_line
from tests.support import sample_files
from tests.support.domain import START

GUILD = 100
ADMIN = Requester(user_id=1, guild_id=GUILD, channel_id=5, can_manage_guild=True)
MEMBER = Requester(user_id=2, guild_id=GUILD, channel_id=5)
ELSEWHERE = Requester(user_id=1, guild_id=200, channel_id=6, can_manage_guild=True)
KEPT = KeptFile(channel_id=5, message_id=50, attachment_id=500)
IMAGE = MediaInput(
    url="https://cdn.example/hero.png",
    filename="hero.png",
    content_type="image/png",
    size=2048,
    width=1280,
    height=720,
    detected="PNG",
)


def stored(kind="image", **fields) -> LibraryAsset:
    base = dict(
        id=0, guild_id=GUILD, name_key="hero", name="Hero", kind=kind, added_by=1,
        added_at=START,
    )  # fmt: skip
    return LibraryAsset(**{**base, **fields})


# -- the table -----------------------------------------------------------------------------


async def test_the_table_keeps_an_asset_whole_and_one_name_once_per_server(services, db):
    repo = services.assets
    asset = stored(
        channel_id=5, message_id=50, attachment_id=500, filename="hero.png",
        content_type="image/png", size=2048, width=1280, height=720, detected="PNG",
    )  # fmt: skip
    async with db.transaction() as conn:
        added = await repo.add(asset, conn=conn)
    assert added.id > 0
    assert await repo.named(GUILD, "hero") == added
    async with db.transaction() as conn:
        with pytest.raises(DuplicateAsset):
            await repo.add(stored(name="HERO", kind="asset", provider_asset_id="a1"), conn=conn)
        other = await repo.add(stored(guild_id=200, kind="asset", provider_asset_id="a1"), conn=conn)
    assert await repo.named(200, "hero") == other
    assert [a.name for a in await repo.listed(GUILD)] == ["Hero"]


async def test_a_lost_file_is_noted_once_and_forgotten_when_found_again(services, db):
    repo = services.assets
    async with db.transaction() as conn:
        asset = await repo.add(stored(kind="video", seconds=4.0), conn=conn)
    assert await repo.set_missing(asset.id, START + 5)
    assert not await repo.set_missing(asset.id, START + 9)  # noted already
    assert (await repo.named(GUILD, "hero")).missing_since == START + 5
    assert await repo.set_missing(asset.id, None)
    assert not await repo.set_missing(asset.id, None)
    assert (await repo.named(GUILD, "hero")).missing_since is None


async def test_the_listing_is_by_name_and_removal_takes_the_row(services, db):
    repo = services.assets
    async with db.transaction() as conn:
        for name in ("zebra", "Apple", "mango"):
            await repo.add(stored(name=name, name_key=name.lower()), conn=conn)
    listed = await repo.listed(GUILD)
    assert [a.name for a in listed] == ["Apple", "mango", "zebra"]
    async with db.transaction() as conn:
        await repo.remove(listed[1].id, conn=conn)
    assert [a.name for a in await repo.listed(GUILD)] == ["Apple", "zebra"]


# -- names ---------------------------------------------------------------------------------


def test_names_compare_in_any_case_and_spacing():
    assert name_key("  Red   Dragon ") == name_key("red dragon") == "red dragon"
    assert checked_name("  Red   Dragon ") == "Red Dragon"
    assert checked_name("Zoë's cat-2") == "Zoë's cat-2"


@pytest.mark.parametrize("name", ["", "   ", "@everyone", "a*b", "-dash", "x" * 41, "<@1>"])
def test_a_name_with_markup_or_too_long_is_refused(name):
    with pytest.raises(InvalidInput, match="can't be an asset's name"):
        checked_name(name)


# -- moderators' changes -------------------------------------------------------------------


async def test_adding_and_removing_are_moderated_and_audited(services):
    library = services.library
    with pytest.raises(PermissionDenied):
        await library.add_provider_asset(MEMBER, "castle", "asset-123")
    with pytest.raises(PermissionDenied):
        await library.check_new_name(MEMBER, "castle")
    entry = await library.add_provider_asset(ADMIN, "Castle", " asset-123 ")
    assert (entry.action, entry.subject, entry.target) == (AuditAction.ASSET_ADD, "Castle", "server")
    assert json.loads(entry.new_value) == {"kind": "asset", "asset_id": "asset-123"}
    assert "added the asset `Castle` to the library of the server" in audit_line(entry, "USD")
    with pytest.raises(Conflict, match="already has an asset called `castle`"):
        await library.check_new_name(ADMIN, "castle")
    with pytest.raises(Conflict):
        await library.add_provider_asset(ADMIN, "CASTLE", "asset-9")
    with pytest.raises(PermissionDenied):
        await library.remove(MEMBER, "castle")
    removed, entry = await library.remove(ADMIN, "castle")
    assert removed.provider_asset_id == "asset-123"
    assert entry.action == AuditAction.ASSET_REMOVE and entry.old_value is not None
    with pytest.raises(NotFound, match="no asset called `castle`"):
        await library.remove(ADMIN, "castle")
    assert [e.action for e in await services.audit.listed(ADMIN)] == [
        AuditAction.ASSET_REMOVE, AuditAction.ASSET_ADD,
    ]  # fmt: skip


async def test_a_bad_asset_id_is_refused(services):
    with pytest.raises(InvalidInput, match="invalid id"):
        await services.library.add_provider_asset(ADMIN, "castle", "two words")


async def test_a_file_is_registered_with_where_it_is_kept(services):
    library = services.library
    checked = CheckedFile(IMAGE, "image", None)
    entry = await library.add_file(ADMIN, "Hero", checked, KEPT)
    assert "image `hero.png` kept in <#5>" in audit_line(entry, "USD")
    (asset,) = await library.named(GUILD, ["hero"])
    assert (asset.channel_id, asset.message_id, asset.attachment_id) == (5, 50, 500)
    assert kept_media(asset, "https://cdn.example/fresh.png") == MediaInput(
        url="https://cdn.example/fresh.png", filename="hero.png", content_type="image/png",
        size=2048, width=1280, height=720, detected="PNG",
    )  # fmt: skip
    with pytest.raises(NotFound, match="no asset called `hero`, `ghost`"):
        await library.named(200, ["hero", "ghost"])
    with pytest.raises(NotFound, match="`ghost`"):
        await library.named(GUILD, ["hero", "ghost"])


# -- the checks of a file --------------------------------------------------------------------


def upload(filename: str, data: bytes, content_type: str, **fields) -> MediaInput:
    from bot.media.sniff import sniff

    found = sniff(data)
    return MediaInput(
        url="https://cdn.example/" + filename, filename=filename, content_type=content_type,
        size=len(data), detected=str(found.format) if found else "unknown",
        width=found.width if found else None, height=found.height if found else None, **fields,
    )  # fmt: skip


async def test_an_image_is_checked_like_an_upload(services):
    library = services.library
    good = upload("hero.png", sample_files.png(), "image/png")
    assert (await library.check_file(good, b"")).kind == "image"
    small = upload("tiny.png", sample_files.png(100, 100), "image/png")
    with pytest.raises(Refused, match="100x100 px"):
        await library.check_file(small, b"")
    fake = upload("fake.png", b"hello, not an image", "image/png")
    with pytest.raises(Refused, match="not a real image file"):
        await library.check_file(fake, b"")
    text = upload("notes.txt", b"hello", "text/plain")
    with pytest.raises(Refused, match="not an image, video or audio file"):
        await library.check_file(text, b"")


async def test_a_clip_must_last_two_to_fifteen_seconds(services, renderer):
    library = services.library
    for seconds, ok in ((3.0, True), (1.0, False)):
        data = await renderer.video(RenderSpec(160, 90, 12, seconds, audio=False))
        media = upload("clip.mp4", data, "video/mp4")
        if ok:
            checked = await library.check_file(media, data)
            assert checked.kind == "video" and checked.seconds == pytest.approx(seconds, abs=0.1)
        else:
            with pytest.raises(Refused, match="a reference clip must last 2 to 15 seconds"):
                await library.check_file(media, data)


async def test_audio_is_measured_too(services):
    data = wav_of(3.0)
    checked = await services.library.check_file(upload("voice.wav", data, "audio/wav"), data)
    assert checked.kind == "audio" and checked.seconds == pytest.approx(3.0, abs=0.05)
    short = sample_files.wav()  # a few milliseconds
    with pytest.raises(Refused, match="lasts 0.0 s"):
        await services.library.check_file(upload("blip.wav", short, "audio/wav"), short)


def wav_of(seconds: float) -> bytes:
    import struct

    rate = 8000
    pcm = b"\0\0" * int(rate * seconds)
    fmt = struct.pack("<HHIIHH", 1, 1, rate, rate * 2, 2, 16)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt
    body += b"data" + struct.pack("<I", len(pcm)) + pcm
    return b"RIFF" + struct.pack("<I", len(body)) + body


# -- assets in a request ---------------------------------------------------------------------


def test_assets_join_the_references_of_their_kind_and_count_toward_the_limits():
    image = stored(name="Hero", name_key="hero")
    video = stored(name="Dance", name_key="dance", kind="video")
    castle = stored(name="Castle", name_key="castle", kind="asset", provider_asset_id="a-1")
    clip = MediaInput(url="https://cdn.example/dance.mp4", filename="dance.mp4",
                      content_type="video/mp4", size=10, detected="MP4")  # fmt: skip
    request = GenerationRequest(prompt="a hero dances", reference_images=(IMAGE,) * 2)
    joined = with_assets(request, [(image, IMAGE), (video, clip), (castle, None)])
    assert joined.reference_images == (IMAGE,) * 3
    assert joined.reference_videos == (clip,)
    assert joined.reference_asset_ids == ("a-1",)
    assert validate(joined, prompt_max_chars=100) == []
    full = GenerationRequest(prompt="x", reference_images=(IMAGE,) * 9)
    too_many = with_assets(full, [(image, IMAGE)])
    assert "At most 9 reference images are allowed; you gave 10." in " ".join(
        validate(too_many, prompt_max_chars=100)
    )
    with pytest.raises(Refused, match="once in a video: `Hero`"):
        with_assets(request, [(image, IMAGE), (image, IMAGE)])


def test_clips_of_the_library_may_last_fifteen_seconds_together():
    def clip(name, seconds, kind="video"):
        return stored(name=name, name_key=name, kind=kind, seconds=seconds), IMAGE

    request = GenerationRequest(prompt="x")
    assert len(with_assets(request, [clip("a", 7.5), clip("b", 7.5)]).reference_videos) == 2
    with pytest.raises(Refused, match="videos you picked last 16.0 s together"):
        with_assets(request, [clip("a", 8.0), clip("b", 8.0)])
    with pytest.raises(Refused, match="audio clips you picked last 20.0 s together"):
        with_assets(request, [clip("a", 10.0, "audio"), clip("b", 10.0, "audio")])


async def test_the_library_is_per_server(services):
    await services.library.add_provider_asset(ADMIN, "castle", "a-1")
    await services.library.add_provider_asset(ELSEWHERE, "castle", "b-2")
    assert [a.provider_asset_id for a in await services.library.listed(GUILD)] == ["a-1"]
    assert [a.provider_asset_id for a in await services.library.listed(200)] == ["b-2"]
