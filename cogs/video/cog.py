"""`/video`: generate, status, history, info, and the buttons on job messages.

A thin adapter: options become a `GenerationRequest`, the service decides, and the
answer becomes a message. The background poller that follows jobs lives with this cog
(started in `cog_load`, stopped in `cog_unload`) because it posts through Discord.
"""

from __future__ import annotations

import logging
import random
import re
import time
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.delivery import Delivery
from bot.gmi import GMIError, ModelDetail
from bot.jobs import Job
from bot.moderation import Requester
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
from bot.poller import JobPoller, PollTiming
from bot.quotas import BLOCKED_PROMPT, discord_time
from bot.service import Refused

from ..modlog import post_to_mod_log
from .buttons import DYNAMIC_ITEMS, HistoryPageButton, RemixModal, result_view, status_view
from .messages import STATE_ICONS, clip, job_choices, status_embed
from .poster import DiscordResultChannel, missing_post_permissions

if TYPE_CHECKING:
    from bot.app import VideoBot

log = logging.getLogger(__name__)

HISTORY_PAGE_SIZE = 8
EMBED_TOTAL_LIMIT = 6000
MODEL_INFO_TTL = 3600.0
NO_MENTIONS = discord.AllowedMentions.none()


def requester_of(interaction: discord.Interaction) -> Requester:
    channel = interaction.channel
    parent_id = channel.parent_id if isinstance(channel, discord.Thread) else None
    roles = [role for role in getattr(interaction.user, "roles", []) if not role.is_default()]
    return Requester(
        user_id=interaction.user.id,
        guild_id=interaction.guild_id,
        channel_id=interaction.channel_id or 0,
        parent_channel_id=parent_id,
        role_ids=tuple(role.id for role in roles),
        can_manage_guild=interaction.permissions.manage_guild,
        role_names=tuple((role.id, role.name) for role in roles),
    )


def media_from(
    attachment: discord.Attachment | None, url: str | None, option: str
) -> MediaInput | None:
    if attachment is not None and url:
        raise Refused(f"Give `{option}` either as a file or as `{option}_url`, not both.")
    if attachment is not None:
        return MediaInput(
            url=attachment.url,
            filename=attachment.filename,
            content_type=attachment.content_type,
            size=attachment.size,
            width=attachment.width,
            height=attachment.height,
        )
    return MediaInput(url=url.strip()) if url else None


def media_list(
    attachments: list[discord.Attachment | None], urls: str | None
) -> tuple[MediaInput, ...]:
    items = [media_from(a, None, "") for a in attachments if a is not None]
    items += [MediaInput(url=u) for u in re.split(r"[\s,]+", urls or "") if u]
    return tuple(m for m in items if m is not None)


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
        settings = bot.settings
        self.service = bot.service
        self.poster = DiscordResultChannel(
            bot,
            bot.store,
            view_for_status=lambda job: status_view(job.id),
            view_for_result=lambda job: result_view(job.id),
            currency=settings.currency,
            edit_interval=settings.status_edit_interval,
            clock=bot.clock,
        )
        self.delivery = Delivery(bot.store, self.poster, bot.session, clock=bot.clock)
        self.poller = JobPoller(
            bot.store,
            bot.gmi,
            self.delivery,
            timing=PollTiming(
                min_interval=settings.poll_min_interval,
                max_interval=settings.poll_max_interval,
                expected_seconds=settings.expected_generation_seconds,
            ),
            max_concurrency=settings.max_concurrent_api_calls,
            clock=bot.clock,
        )
        self._model_info: tuple[float, ModelDetail] | None = None
        super().__init__()

    async def cog_load(self) -> None:
        self.bot.add_dynamic_items(*DYNAMIC_ITEMS)
        self.poller.start()

    async def cog_unload(self) -> None:
        await self.poller.stop()
        await self.poster.close()
        self.bot.remove_dynamic_items(*DYNAMIC_ITEMS)

    @commands.Cog.listener()
    async def on_video_job_due(self) -> None:
        self.poller.wake()

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
        try:
            request = GenerationRequest(
                prompt=prompt,
                duration=duration,
                resolution=resolution,
                ratio=ratio,
                seed=seed,
                watermark=watermark,
                generate_audio=generate_audio,
                web_search=web_search,
                first_frame=media_from(first_frame, first_frame_url, "first_frame"),
                last_frame=media_from(last_frame, last_frame_url, "last_frame"),
                reference_images=media_list(
                    [reference_image_1, reference_image_2, reference_image_3], reference_images
                ),
                reference_videos=media_list(
                    [reference_video_1, reference_video_2], reference_videos
                ),
                reference_audios=media_list([reference_audio_1], reference_audios),
                reference_asset_ids=split_ids(reference_asset_ids),
            )
        except Refused as refused:
            await self._refuse(interaction, refused)
            return
        await self._start_job(interaction, request, origin="generate")

    async def _start_job(
        self,
        interaction: discord.Interaction,
        request: GenerationRequest,
        *,
        origin: str,
        parent: Job | None = None,
    ) -> None:
        """Accept the job, answer with its public status message, then let the poller go.

        Everything before the answer is local (validation, one SQLite transaction), so the
        3 s deadline holds; the provider is called only after the status message exists.
        """
        missing = self._missing_permissions(interaction)
        if missing:
            await self._refuse(
                interaction,
                Refused(
                    f"I can't post videos in this channel: I'm missing {', '.join(missing)}. "
                    "Ask a server admin to grant them to me here, or use another channel."
                ),
            )
            return
        try:
            job = await self.service.accept(
                requester_of(interaction),
                request,
                origin=origin,
                parent_job_id=parent.id if parent else None,
            )
        except Refused as refused:
            await self._refuse(interaction, refused)
            if refused.limit == BLOCKED_PROMPT and interaction.guild_id is not None:
                await post_to_mod_log(
                    self.bot,
                    interaction.guild_id,
                    f"🚫 <@{interaction.user.id}> asked for a blocked prompt in "
                    f"<#{interaction.channel_id}>; it was refused: “{clip(request.prompt, 300)}”",
                )
            return
        try:
            response = await interaction.response.send_message(
                embed=status_embed(job, currency=self.bot.settings.currency, now=self.bot.clock()),
                view=status_view(job.id),
                allowed_mentions=NO_MENTIONS,
            )
        except Exception:
            await self.service.abandon(job)
            raise
        if response.message_id is None:  # pragma: no cover - Discord always returns it
            message = await interaction.original_response()
            await self.service.status_message_posted(job, message.id)
        else:
            await self.service.status_message_posted(job, response.message_id)

    @staticmethod
    def _missing_permissions(interaction: discord.Interaction) -> list[str]:
        channel = interaction.channel
        if interaction.guild is None or channel is None:
            return []
        perms = interaction.app_permissions
        return missing_post_permissions(perms, is_thread=isinstance(channel, discord.Thread))

    @staticmethod
    async def _refuse(interaction: discord.Interaction, refused: Refused) -> None:
        if interaction.response.is_done():
            await interaction.followup.send(
                refused.message, ephemeral=True, allowed_mentions=NO_MENTIONS
            )
        else:
            await interaction.response.send_message(
                refused.message, ephemeral=True, allowed_mentions=NO_MENTIONS
            )

    # -- buttons -------------------------------------------------------------------------

    async def _job_or_refuse(self, interaction: discord.Interaction, job_id: int) -> Job | None:
        job = await self.bot.store.get(job_id)
        if job is None:
            await self._refuse(interaction, Refused("That job no longer exists."))
        return job

    async def cancel_pressed(self, interaction: discord.Interaction, job_id: int) -> None:
        try:
            await self.service.cancel(requester_of(interaction), job_id)
        except Refused as refused:
            await self._refuse(interaction, refused)
            return
        await interaction.response.send_message(
            f"Cancelled job #{job_id}; its status message will say so.", ephemeral=True
        )

    async def reroll_pressed(self, interaction: discord.Interaction, job_id: int) -> None:
        job = await self._job_or_refuse(interaction, job_id)
        if job is None:
            return
        try:
            request = self.service.rerun_request(job, seed=random.randint(*SEED_RANGE))
        except Refused as refused:
            await self._refuse(interaction, refused)
            return
        await self._start_job(interaction, request, origin="reroll", parent=job)

    async def remix_pressed(self, interaction: discord.Interaction, job_id: int) -> None:
        job = await self._job_or_refuse(interaction, job_id)
        if job is None:
            return
        try:
            self.service.rerun_request(job)
        except Refused as refused:
            await self._refuse(interaction, refused)
            return
        await interaction.response.send_modal(
            RemixModal(self, job.id, job.request.prompt, self.bot.settings.prompt_max_chars)
        )

    async def remix_submitted(
        self, interaction: discord.Interaction, job_id: int, prompt: str
    ) -> None:
        job = await self._job_or_refuse(interaction, job_id)
        if job is None:
            return
        try:
            request = self.service.rerun_request(job, prompt=prompt)
        except Refused as refused:
            await self._refuse(interaction, refused)
            return
        await self._start_job(interaction, request, origin="remix", parent=job)

    # -- /video status -------------------------------------------------------------------

    @app_commands.command(name="status", description="Show where one of your videos is")
    @app_commands.guild_only()
    @app_commands.describe(
        request_id="The job (#number) or the provider's request id; start typing to pick"
    )
    async def status(self, interaction: discord.Interaction, request_id: str) -> None:
        requester = requester_of(interaction)
        try:
            job = await self.service.job_for(requester, request_id)
        except Refused as refused:
            await self._refuse(interaction, refused)
            return
        embed = status_embed(job, currency=self.bot.settings.currency, now=self.bot.clock())
        links = self._job_links(job)
        if links:
            embed.add_field(name="Messages", value=links, inline=False)
        await interaction.response.send_message(embed=embed, ephemeral=True)

    @status.autocomplete("request_id")
    async def status_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return await job_choices(
            self.bot.store.recent_for_user(interaction.user.id, interaction.guild_id, limit=25),
            current,
            value=lambda job: job.request_id or f"#{job.id}",
        )

    def _job_links(self, job: Job) -> str:
        base = f"https://discord.com/channels/{job.guild_id}/{job.channel_id}"
        links = []
        if job.status_message_id:
            links.append(f"[status message]({base}/{job.status_message_id})")
        if job.result_message_id and job.delivered_via == "channel":
            links.append(f"[result]({base}/{job.result_message_id})")
        return " · ".join(links)

    # -- /video history ------------------------------------------------------------------

    @app_commands.command(name="history", description="List your recent videos in this server")
    @app_commands.guild_only()
    async def history(self, interaction: discord.Interaction) -> None:
        embed, view = await self._history_page(interaction.user.id, interaction.guild_id, 0)
        await interaction.response.send_message(embed=embed, view=view, ephemeral=True)

    async def history_page_pressed(
        self, interaction: discord.Interaction, user_id: int, page: int
    ) -> None:
        if interaction.user.id != user_id:
            await self._refuse(
                interaction, Refused("That list belongs to someone else: run `/video history`.")
            )
            return
        embed, view = await self._history_page(user_id, interaction.guild_id, page)
        await interaction.response.edit_message(embed=embed, view=view)

    async def _history_page(self, user_id: int, guild_id: int | None, page: int):
        store = self.bot.store
        total = await store.count_for_user(user_id, guild_id)
        pages = max(1, -(-total // HISTORY_PAGE_SIZE))
        page = min(max(page, 0), pages - 1)
        jobs = await store.recent_for_user(
            user_id, guild_id, limit=HISTORY_PAGE_SIZE, offset=page * HISTORY_PAGE_SIZE
        )
        if not jobs:
            description = "You haven't made any videos here yet. Try `/video generate`."
        else:
            description = "\n".join(
                " · ".join(
                    part
                    for part in (
                        f"{STATE_ICONS[job.state]} **#{job.id}** {job.display_state}",
                        discord_time(job.created_at),
                        clip(job.request.prompt, 80),
                        self._job_links(job),
                    )
                    if part
                )
                for job in jobs
            )
        embed = discord.Embed(title="Your videos", description=clip(description, 4096))
        embed.set_footer(text=f"Page {page + 1} of {pages} · {total} in all")
        view = discord.ui.View(timeout=None)
        view.add_item(HistoryPageButton(user_id, max(page - 1, 0), "prev", disabled=page == 0))
        view.add_item(HistoryPageButton(user_id, page + 1, "next", disabled=page >= pages - 1))
        return embed, view

    # -- /video quota --------------------------------------------------------------------

    @app_commands.command(
        name="quota", description="What you can still generate here, and when it resets"
    )
    @app_commands.guild_only()
    async def quota(self, interaction: discord.Interaction) -> None:
        standing = await self.bot.quotas.standing(requester_of(interaction))
        embed = discord.Embed(
            title="Your video allowance",
            description=clip("\n".join(standing.lines(self.bot.settings.currency)), 4096),
            colour=discord.Colour.blurple(),
        )
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
            await interaction.followup.send(
                f"I couldn't reach the video provider just now ({error.message}). Try again in a minute.",
                ephemeral=True,
            )
            return
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
