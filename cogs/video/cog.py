"""`/video`: generate, status, history, quota, info; and the scheduler that follows jobs.

A thin adapter: options become a `GenerationRequest`, the flows (`cogs.video.flows`) ask
the domain and answer. The scheduler that carries jobs to the end lives with this cog
(started in `cog_load`, stopped in `cog_unload`) because it posts through Discord.
"""

from __future__ import annotations

import logging
import re
import time
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.db.filters import BlockedPromptEvent
from bot.errors import Refused, UserError
from bot.gmi import GMIError, ModelDetail
from bot.jobs.model import Job, JobOrigin
from bot.params import (
    DEFAULT_DURATION,
    DEFAULT_RATIO,
    DEFAULT_RESOLUTION,
    DURATION_RANGE,
    RATIOS,
    RESOLUTIONS,
    SEED_RANGE,
    GenerationRequest,
    MediaInput,
)
from cogs.shared import JobReference, clip, literal, post_to_mod_log, requester_of

from . import flows
from .buttons import DYNAMIC_ITEMS
from .messages import quota_embed
from .pipeline import build_pipeline
from .uploads import inspect_uploads

if TYPE_CHECKING:
    from bot.app import VideoBot

log = logging.getLogger(__name__)

EMBED_TOTAL_LIMIT = 6000
MODEL_INFO_TTL = 3600.0


def media_from(
    attachment: discord.Attachment | None,
    url: str | None,
    option: str,
    uploads: dict[int, MediaInput],
) -> MediaInput | None:
    """One frame option: the file (as `inspect_uploads` read it) or the link typed."""
    if attachment is not None and url:
        raise Refused(f"Give `{option}` either as a file or as `{option}_url`, not both.")
    if attachment is not None:
        return uploads[attachment.id]
    return MediaInput(url=url.strip()) if url else None


def media_list(
    attachments: list[discord.Attachment | None],
    urls: str | None,
    uploads: dict[int, MediaInput],
) -> tuple[MediaInput, ...]:
    """The files of a reference kind, then the links typed (split at spaces and commas)."""
    items = [uploads[a.id] for a in attachments if a is not None]
    items += [MediaInput(url=u) for u in re.split(r"[\s,]+", urls or "") if u]
    return tuple(items)


def split_ids(text: str | None) -> tuple[str, ...]:
    return tuple(part for part in re.split(r"[\s,]+", text or "") if part)


RESOLUTION_CHOICES = [app_commands.Choice(name=r, value=r) for r in RESOLUTIONS]
RATIO_CHOICES = [app_commands.Choice(name=r, value=r) for r in RATIOS]


class VideoCog(
    commands.GroupCog,
    name="video",
    group_name="video",
    group_description="Make short videos with Seedance 2.0 Fast",
):
    def __init__(self, bot: VideoBot) -> None:
        self.bot = bot
        self.pipeline = build_pipeline(bot)
        self._model_info: tuple[float, ModelDetail] | None = None
        super().__init__()

    async def cog_load(self) -> None:
        self.bot.add_dynamic_items(*DYNAMIC_ITEMS)
        self.pipeline.start()

    async def drain(self, grace: float) -> None:
        """A graceful stop: job steps in flight get ``grace`` seconds (`bot.app.DrainsWork`)."""
        await self.pipeline.scheduler.stop(grace)

    async def cog_unload(self) -> None:
        await self.pipeline.stop()
        self.bot.remove_dynamic_items(*DYNAMIC_ITEMS)

    @commands.Cog.listener()
    async def on_video_job_due(self) -> None:
        self.pipeline.scheduler.wake()

    @commands.Cog.listener()
    async def on_video_prompt_refused(self, event: BlockedPromptEvent) -> None:
        await post_to_mod_log(
            self.bot,
            event.guild_id,
            f"🚫 <@{event.user_id}> asked for a blocked prompt in <#{event.channel_id}>; it was "
            f"refused: “{literal(clip(event.prompt_excerpt, 300))}”",
        )

    # -- /video generate -----------------------------------------------------------------

    @app_commands.command(
        name="generate", description="Make a short video from a prompt, images, video or audio"
    )
    @app_commands.guild_only()
    @app_commands.describe(
        prompt="What happens in the video: subject, action, camera, style",
        duration=f"Length in seconds ({DURATION_RANGE[0]}-{DURATION_RANGE[1]}, default {DEFAULT_DURATION})",
        resolution=f"Output resolution (default {DEFAULT_RESOLUTION})",
        ratio=f"Aspect ratio (default {DEFAULT_RATIO}; adaptive follows your image)",
        seed="Fixed seed to reproduce a result (0-4294967295); empty picks one at random",
        watermark="Add the provider's watermark (default off)",
        generate_audio="Generate a soundtrack with the video (default on)",
        web_search="Let the model look things up on the web for the prompt (default off)",
        first_frame="Image the video starts from (JPEG/PNG/WebP)",
        first_frame_url="Link to the image the video starts from (instead of a file)",
        last_frame="Image the video ends on; needs a first frame",
        last_frame_url="Link to the image the video ends on (instead of a file)",
        reference_image_1="Reference image (style, character, object); not with frames",
        reference_image_2="Another reference image",
        reference_image_3="Another reference image",
        reference_images="More reference image links, separated by spaces (up to 9 images in all)",
        reference_video_1="Reference video (MP4/MOV, 2-15 s); not with frames",
        reference_video_2="Another reference video",
        reference_videos="Reference video links, separated by spaces (up to 3 videos in all)",
        reference_audio_1="Reference audio (MP3/WAV, 2-15 s); needs a reference image or video",
        reference_audios="Reference audio links, separated by spaces (up to 3 in all)",
        reference_asset_ids="Ids of assets uploaded to the provider beforehand, separated by spaces",
    )
    @app_commands.choices(resolution=RESOLUTION_CHOICES, ratio=RATIO_CHOICES)
    async def generate(
        self,
        interaction: discord.Interaction,
        prompt: app_commands.Range[str, 1, 4000],
        duration: app_commands.Range[int, DURATION_RANGE[0], DURATION_RANGE[1]] = DEFAULT_DURATION,
        resolution: str = DEFAULT_RESOLUTION,
        ratio: str = DEFAULT_RATIO,
        seed: app_commands.Range[int, SEED_RANGE[0], SEED_RANGE[1]] | None = None,
        watermark: bool = False,
        generate_audio: bool = True,
        web_search: bool = False,
        first_frame: discord.Attachment | None = None,
        first_frame_url: str | None = None,
        last_frame: discord.Attachment | None = None,
        last_frame_url: str | None = None,
        reference_image_1: discord.Attachment | None = None,
        reference_image_2: discord.Attachment | None = None,
        reference_image_3: discord.Attachment | None = None,
        reference_images: str | None = None,
        reference_video_1: discord.Attachment | None = None,
        reference_video_2: discord.Attachment | None = None,
        reference_videos: str | None = None,
        reference_audio_1: discord.Attachment | None = None,
        reference_audios: str | None = None,
        reference_asset_ids: str | None = None,
    ) -> None:
        frames = [first_frame, last_frame]
        images = [reference_image_1, reference_image_2, reference_image_3]
        videos, audios = [reference_video_1, reference_video_2], [reference_audio_1]
        uploads = await inspect_uploads(self.bot.session, frames + images + videos + audios)
        request = GenerationRequest(
            prompt=prompt,
            duration=duration,
            resolution=resolution,
            ratio=ratio,
            seed=seed,
            watermark=watermark,
            generate_audio=generate_audio,
            web_search=web_search,
            first_frame=media_from(first_frame, first_frame_url, "first_frame", uploads),
            last_frame=media_from(last_frame, last_frame_url, "last_frame", uploads),
            reference_images=media_list(images, reference_images, uploads),
            reference_videos=media_list(videos, reference_videos, uploads),
            reference_audios=media_list(audios, reference_audios, uploads),
            reference_asset_ids=split_ids(reference_asset_ids),
        )
        await flows.start_job(interaction, request, origin=JobOrigin.GENERATE)

    # -- /video status -------------------------------------------------------------------

    @app_commands.command(name="status", description="Show where one of your videos is")
    @app_commands.guild_only()
    @app_commands.describe(
        request_id="The job (#number), the provider's request id, or a link to its message"
    )
    async def status(
        self,
        interaction: discord.Interaction,
        request_id: app_commands.Transform[Job, JobReference],
    ) -> None:
        embed = await flows.job_details(interaction, request_id)
        await interaction.response.send_message(embed=embed, ephemeral=True)

    # -- /video stitch -------------------------------------------------------------------

    @app_commands.command(
        name="stitch", description="Join finished videos into one film, in the order you give."
    )
    @app_commands.guild_only()
    @app_commands.describe(
        clips="The videos in order, by number or message link: #12 #13 #14 (2 to 8 of them)."
    )
    async def stitch(
        self, interaction: discord.Interaction, clips: app_commands.Range[str, 1, 1000]
    ) -> None:
        await flows.start_stitch(interaction, await flows.jobs_named(interaction, clips))

    # -- /video history ------------------------------------------------------------------

    @app_commands.command(name="history", description="List your recent videos in this server")
    @app_commands.guild_only()
    async def history(self, interaction: discord.Interaction) -> None:
        embed, view = await flows.history_page(
            interaction.user.id, interaction.guild_id, 0, interaction
        )
        await interaction.response.send_message(embed=embed, view=view, ephemeral=True)

    # -- /video quota --------------------------------------------------------------------

    @app_commands.command(
        name="quota", description="What you can still generate here, and when it resets"
    )
    @app_commands.guild_only()
    async def quota(self, interaction: discord.Interaction) -> None:
        standing = await self.bot.services.standings.of_member(requester_of(interaction))
        embed = quota_embed(standing, self.bot.settings.currency)
        await interaction.response.send_message(embed=embed, ephemeral=True)

    # -- /video info ---------------------------------------------------------------------

    @app_commands.command(
        name="info", description="About the video model: what it does and its parameters"
    )
    async def info(self, interaction: discord.Interaction) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        try:
            detail = await self._model_detail()
        except GMIError as error:
            raise UserError(
                f"I couldn't reach the video provider just now ({error.message}). "
                "Try again in a minute."
            ) from error
        await interaction.followup.send(
            embed=model_embed(detail, self.bot.settings.currency), ephemeral=True
        )

    async def _model_detail(self) -> ModelDetail:
        now = time.monotonic()
        if self._model_info is not None and self._model_info[0] > now:
            return self._model_info[1]
        detail = await self.bot.gmi.model_detail(self.bot.settings.seedance_model)
        self._model_info = (now + MODEL_INFO_TTL, detail)
        return detail


def model_embed(detail: ModelDetail, currency: str) -> discord.Embed:
    embed = discord.Embed(
        title=clip(detail.model, 256),
        description=clip(detail.brief_description or detail.detailed_description or "", 4096),
        colour=discord.Colour.blurple(),
    )
    for parameter in detail.parameters[:20]:
        text = parameter.description or parameter.display_name or ""
        required = " (required)" if parameter.required else ""
        embed.add_field(
            name=clip(f"{parameter.name}{required}", 256),
            value=clip(f"{parameter.type or ''} {text}".strip() or "—", 1024),
            inline=True,
        )
    if detail.price_info is not None and detail.price_info.price is not None:
        unit = detail.price_info.unit or ""
        embed.set_footer(text=f"Provider price: {detail.price_info.price} {unit}".strip())
    while len(embed) > EMBED_TOTAL_LIMIT and embed.fields:  # Discord refuses > 6000 in all
        embed.remove_field(-1)
    if len(embed) > EMBED_TOTAL_LIMIT:
        embed.description = clip(embed.description or "", 4096 - (len(embed) - EMBED_TOTAL_LIMIT))
    return embed
