"""The shared asset library: references a server's moderators approved, that members use
by name.

A file (image, video or audio) is kept in a message the bot posted: Discord's links to a
file expire within a day, the message doesn't, so every use asks Discord for the message
and takes the link it gives then (`cogs.video.assets`). An asset uploaded to the provider
is kept as its id. Moderators add and remove assets (both audited); anyone in the server
lists and uses them. A file is checked when it is added the way a member's upload is (its
real format, an image's pixel size) and, for a clip, its length; what was found is kept
with it, so a job made of it passes `bot.params.validate` in the same words as an upload,
and counts toward the provider's reference limits and the server's gates like one.

Names in prompts: Seedance points at references from the prompt by position, and the
syntax differs between providers (``@image1`` at one, ``@Image 1`` at another); GMI's is
documented nowhere found, and its model detail says nothing of it. So the bot never
rewrites asset names in a prompt: members pick assets with the command's options.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass

from bot.clock import Clock
from bot.db.assets import AssetKind, AssetRepository, DuplicateAsset, LibraryAsset
from bot.db.audit import AuditEntry
from bot.db.database import Database
from bot.errors import Conflict, InvalidInput, NotFound, Refused
from bot.jobs.message_inputs import kind_of
from bot.media import FFmpeg, MediaError, clip_length
from bot.moderation.audit import AuditAction, AuditLog
from bot.moderation.requester import Moderators, Requester, guild_of
from bot.params import (
    CLIP_LENGTH_TOLERANCE,
    REFERENCE_CLIP_SECONDS,
    GenerationRequest,
    MediaInput,
    asset_id_problem,
    clip_length_problem,
    media_problems,
    normalise_text,
    quoted,
)

MAX_NAME_CHARS = 40
# Letters and digits of any script, and a few separators: a name reads the same in a
# list, a choice and a refusal, with nothing to format.
_NAME = re.compile(r"[^\W_](?:[\w .'-]*[^\W_])?")
_FIELDS = {"image": "reference_images", "video": "reference_videos", "audio": "reference_audios"}


def name_key(name: str) -> str:
    """The name as names are compared: any case, any run of spaces."""
    return " ".join(normalise_text(name).casefold().split())


def checked_name(name: str) -> str:
    """The name as it is kept and shown; `InvalidInput` saying what a name may be."""
    name = " ".join(normalise_text(name).split())
    if not name or len(name) > MAX_NAME_CHARS or _NAME.fullmatch(name) is None:
        raise InvalidInput(
            f"{quoted(name or ' ')} can't be an asset's name: use 1 to {MAX_NAME_CHARS} "
            "letters, digits, spaces, dots, dashes, apostrophes or underscores, starting and "
            "ending with a letter or digit."
        )
    return name


@dataclass(frozen=True)
class CheckedFile:
    """A file that passed the checks of a reference: what it is, and how long a clip lasts."""

    media: MediaInput
    kind: AssetKind
    seconds: float | None


@dataclass(frozen=True)
class KeptFile:
    """Where the bot keeps an asset's file: its message, and the attachment in it."""

    channel_id: int
    message_id: int
    attachment_id: int


# What is known of a file, kept with the asset under the same names as `MediaInput`'s.
_FILE_FIELDS = ("filename", "content_type", "size", "width", "height", "detected")


def kept_media(asset: LibraryAsset, url: str) -> MediaInput:
    """The asset's file as a model input, at ``url``: the link Discord gave just now."""
    return MediaInput(url=url, **{name: getattr(asset, name) for name in _FILE_FIELDS})


def with_assets(
    request: GenerationRequest, used: Sequence[tuple[LibraryAsset, MediaInput | None]]
) -> GenerationRequest:
    """``request`` with the assets added to its references, each where its kind goes: a
    file (with its fresh link) among the reference images, videos or audio, a provider
    asset among the asset ids. An asset named twice is refused, and so are clips longer
    together than the provider takes (the library knows their lengths)."""
    names = [asset.name_key for asset, _ in used]
    repeated = sorted({asset.name for asset, _ in used if names.count(asset.name_key) > 1})
    if repeated:
        raise Refused(
            f"Each asset can be used once in a video: {', '.join(map(quoted, repeated))} "
            "was given more than once."
        )
    for kind, words in (("video", "videos"), ("audio", "audio clips")):
        seconds = sum(asset.seconds or 0 for asset, _ in used if asset.kind == kind)
        if seconds > REFERENCE_CLIP_SECONDS[1] + CLIP_LENGTH_TOLERANCE:
            raise Refused(
                f"The library's {words} you picked last {seconds:.1f} s together; reference "
                f"{words} may last at most {REFERENCE_CLIP_SECONDS[1]} s together. Pick fewer."
            )
    changes: dict[str, tuple[object, ...]] = {}
    for asset, media in used:
        field = _FIELDS.get(asset.kind, "reference_asset_ids")
        value = asset.provider_asset_id if asset.kind == "asset" else media
        changes[field] = changes.get(field, getattr(request, field)) + (value,)
    return request.with_changes(**changes)


def _audit_value(asset: LibraryAsset) -> str:
    """How an asset is recorded in the audit log: what it is and where it is kept."""
    if asset.kind == "asset":
        return json.dumps({"kind": asset.kind, "asset_id": asset.provider_asset_id})
    return json.dumps(
        {
            "kind": asset.kind,
            "filename": asset.filename,
            "channel_id": asset.channel_id,
            "message_id": asset.message_id,
        }
    )


class AssetLibrary:
    def __init__(
        self,
        db: Database,
        assets: AssetRepository,
        moderators: Moderators,
        audit: AuditLog,
        clock: Clock,
        ffmpeg: FFmpeg,
    ) -> None:
        self.db = db
        self.assets = assets
        self.moderators = moderators
        self.audit = audit
        self.clock = clock
        self.ffmpeg = ffmpeg

    # -- moderators --------------------------------------------------------------------

    async def check_new_name(self, actor: Requester, name: str) -> str:
        """Before a file is posted to be kept: the actor moderates here and ``name`` is a
        valid name no asset has yet. Returns the name as it will be kept."""
        await self.moderators.require(actor)
        name = checked_name(name)
        if await self.assets.named(guild_of(actor), name_key(name)) is not None:
            raise self._taken(name)
        return name

    async def check_file(self, media: MediaInput, data: bytes) -> CheckedFile:
        """The provider's rules for ``media`` (whose ``detected`` format was read from
        ``data``, the whole file) as a reference, and a clip's length; `Refused` naming
        every problem."""
        kind = kind_of(media)
        if kind is None:
            raise Refused(
                f"{quoted(media.label)} is not an image, video or audio file: assets are "
                "JPEG, PNG or WebP images, MP4 or MOV videos, and MP3 or WAV audio."
            )
        problems = media_problems(media, kind)
        seconds = None
        if not problems and kind != "image":
            try:
                seconds = await clip_length(self.ffmpeg, data)
            except MediaError as error:
                raise Refused(f"{quoted(media.label)} can't be read as a {kind}: {error}.") from None
            problem = clip_length_problem(media, seconds)
            problems += [problem] if problem else []
        if problems:
            raise Refused(*problems)
        return CheckedFile(media, kind, seconds)

    async def add_file(
        self, actor: Requester, name: str, checked: CheckedFile, kept: KeptFile
    ) -> AuditEntry:
        """Register the file the bot now keeps in ``kept`` under ``name``."""
        known = {name: getattr(checked.media, name) for name in _FILE_FIELDS}
        return await self._add(
            actor, name, kind=checked.kind, seconds=checked.seconds, **known,
            channel_id=kept.channel_id, message_id=kept.message_id, attachment_id=kept.attachment_id,
        )  # fmt: skip

    async def add_provider_asset(self, actor: Requester, name: str, asset_id: str) -> AuditEntry:
        """Register an asset uploaded to the provider, by its id, under ``name``."""
        await self.moderators.require(actor)
        asset_id = asset_id.strip()
        problem = asset_id_problem(asset_id)
        if problem is not None:
            raise InvalidInput(problem)
        return await self._add(actor, name, kind="asset", provider_asset_id=asset_id)

    async def _add(self, actor: Requester, name: str, **what: object) -> AuditEntry:
        await self.moderators.require(actor)
        guild_id = guild_of(actor)
        name = checked_name(name)
        now = self.clock()
        asset = LibraryAsset(
            id=0,
            guild_id=guild_id,
            name_key=name_key(name),
            name=name,
            added_by=actor.user_id,
            added_at=now,
            **what,  # type: ignore[arg-type]  # the kind and where it is kept
        )
        async with self.db.transaction() as conn:
            try:
                asset = await self.assets.add(asset, conn=conn)
            except DuplicateAsset:
                raise self._taken(name) from None
            return await self.audit.record(
                conn,
                guild_id=guild_id,
                actor_id=actor.user_id,
                action=AuditAction.ASSET_ADD,
                target="server",
                subject=name,
                new=_audit_value(asset),
                at=now,
            )

    async def remove(self, actor: Requester, name: str) -> tuple[LibraryAsset, AuditEntry]:
        """Take an asset out of the library; the caller may delete the message it was kept
        in. Jobs already accepted keep what they were given."""
        await self.moderators.require(actor)
        guild_id = guild_of(actor)
        now = self.clock()
        async with self.db.transaction() as conn:
            asset = await self.assets.named(guild_id, name_key(name), conn=conn)
            if asset is None:
                raise self._unknown([name])
            await self.assets.remove(asset.id, conn=conn)
            entry = await self.audit.record(
                conn,
                guild_id=guild_id,
                actor_id=actor.user_id,
                action=AuditAction.ASSET_REMOVE,
                target="server",
                subject=asset.name,
                old=_audit_value(asset),
                at=now,
            )
        return asset, entry

    # -- everyone ----------------------------------------------------------------------

    async def listed(self, guild_id: int) -> list[LibraryAsset]:
        return await self.assets.listed(guild_id)

    async def named(self, guild_id: int, names: Sequence[str]) -> list[LibraryAsset]:
        """The assets called ``names`` here, in that order; `NotFound` naming the unknown."""
        found = [await self.assets.named(guild_id, name_key(name)) for name in names]
        unknown = [name for name, asset in zip(names, found, strict=True) if asset is None]
        if unknown:
            raise self._unknown(unknown)
        return [asset for asset in found if asset is not None]

    async def lost(self, asset: LibraryAsset) -> bool:
        """Its message is gone from Discord: note it. True the first time, when the
        moderators should hear of it."""
        return await self.assets.set_missing(asset.id, self.clock())

    async def found(self, asset: LibraryAsset) -> None:
        """Its message was read: a loss noted before (the bot could not read the channel
        for a while) is forgotten."""
        if asset.missing_since is not None:
            await self.assets.set_missing(asset.id, None)

    @staticmethod
    def _taken(name: str) -> Conflict:
        return Conflict(
            f"The library already has an asset called {quoted(name)}: remove it first with "
            "`/videoadmin asset remove`, or pick another name."
        )

    @staticmethod
    def _unknown(names: Sequence[str]) -> NotFound:
        return NotFound(
            f"This server's library has no asset called {', '.join(map(quoted, names))}. "
            "Pick one from the list as you type, or see them all with `/video assets`."
        )
