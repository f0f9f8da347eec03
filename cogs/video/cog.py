"""`/video`: generate (text, frames, references), status, stitch, together, history, queue,
challenge, assets, quota, info; and the scheduler that follows jobs.

A thin adapter: options become a `GenerationRequest` (`cogs.video.options`), the flows (`cogs.video.flows`) ask
the domain and answer. The scheduler that carries jobs to the end lives with this cog
(started in `cog_load`, stopped in `cog_unload`) because it posts through Discord.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.challenges import ChallengeRunner
from bot.db.challenges import Challenge
from bot.db.filters import BlockedPromptEvent
from bot.errors import Refused
from bot.jobs.model import Job, JobOrigin
from bot.jobs.service import MAX_STITCH_CLIPS, MAX_STITCH_SECONDS
from bot.model_offer import DEFAULT_DURATION, DURATION_RANGE
from bot.storyboards.service import MIN_SHOTS, TITLE_MAX_CHARS
from bot.tasks import BackgroundTasks
from cogs.shared import (
    NO_MENTIONS,
    JobReference,
    clip,
    literal,
    requester_of,
)

from . import challenges, flows, options, together
from .assets import asset_choices, with_library_assets
from .buttons import DYNAMIC_ITEMS
from .challenges import DiscordChallengeBoard
from .messages import library_embed, quota_embed
from .model_info import model_embed
from .pipeline import build_pipeline
from .uploads import inspect_uploads

if TYPE_CHECKING:
    from bot.app import VideoBot

log = logging.getLogger(__name__)


class VideoCog(
    commands.GroupCog,
    name="video",
    group_name="video",
    group_description="Make short videos with Seedance 2.0 Fast.",
):
    def __init__(self, bot: VideoBot) -> None:
        self.bot = bot
        self.pipeline = build_pipeline(bot)
        services = bot.services
        self.challenge_board = DiscordChallengeBoard(
            bot, services.challenge_records, self.pipeline.editor, self.pipeline.poster.posted_video
        )
        self.challenge_runner = ChallengeRunner(
            services.challenges, self.challenge_board, bot.clock, bot.shard_scope.serves
        )
        self._background = BackgroundTasks("video-cog")
        super().__init__()

    async def cog_load(self) -> None:
        self.bot.add_dynamic_items(*DYNAMIC_ITEMS)
        self.pipeline.start()
        self._background.spawn(self._run_challenges(), name="challenges")

    async def _run_challenges(self) -> None:
        await self.bot.wait_until_ready()  # its servers (and their permissions) are known
        await self.challenge_runner.run()

    async def drain(self, grace: float) -> None:
        """A graceful stop: job steps in flight get ``grace`` seconds (`bot.app.DrainsWork`)."""
        await self.pipeline.scheduler.stop(grace)

    async def cog_unload(self) -> None:
        await self._background.close()
        await self.challenge_board.close()
        await self.pipeline.stop()
        self.bot.remove_dynamic_items(*DYNAMIC_ITEMS)

    @commands.Cog.listener()
    async def on_video_job_due(self) -> None:
        self.pipeline.wake()

    @commands.Cog.listener()
    async def on_video_challenge_due(self) -> None:
        self.challenge_runner.wake()

    @commands.Cog.listener()
    async def on_video_votes_changed(self, challenge: Challenge, entry_ids: list[int]) -> None:
        self.challenge_board.votes_changed(challenge, entry_ids)

    @commands.Cog.listener()
    async def on_video_storyboard_due(self) -> None:
        self.pipeline.director.wake()

    @commands.Cog.listener()
    async def on_video_storyboard_changed(self, board_id: int) -> None:
        self.pipeline.storyboards.request(board_id)

    @commands.Cog.listener()
    async def on_video_prompt_refused(self, event: BlockedPromptEvent) -> None:
        self.bot.mod_log.post(
            event.guild_id,
            f"🚫 <@{event.user_id}> asked for a blocked prompt in <#{event.channel_id}>; it was "
            f"refused: “{literal(clip(event.prompt_excerpt, 300))}”",
        )

    # -- /video generate text | frames | references --------------------------------------
    # One subcommand per way the model is driven, so that no invalid mix of inputs can be
    # typed; each has the prompt, its own inputs, then the settings all three share.

    generate = app_commands.Group(
        name="generate", description="Make a short video from a prompt, frames or references."
    )

    @generate.command(name="text", description="Make a video from a prompt alone.")
    @options.with_settings
    async def generate_text(
        self,
        interaction: discord.Interaction,
        prompt: options.Prompt,
        *,
        settings: options.VideoSettings,
    ) -> None:
        request = settings.request(prompt)
        await flows.start_job(
            interaction, request, origin=JobOrigin.GENERATE, confirm=settings.confirm
        )

    @generate.command(
        name="frames", description="Make a video that starts on an image, and may end on another."
    )
    @options.with_settings
    @app_commands.describe(
        first_frame="The image the video starts on (JPEG, PNG or WebP).",
        first_frame_url="Or a link to the image the video starts on.",
        last_frame="The image the video ends on (optional).",
        last_frame_url="Or a link to the image the video ends on.",
    )
    async def generate_frames(
        self,
        interaction: discord.Interaction,
        prompt: options.Prompt,
        first_frame: discord.Attachment | None = None,
        first_frame_url: str | None = None,
        last_frame: discord.Attachment | None = None,
        last_frame_url: str | None = None,
        *,
        settings: options.VideoSettings,
    ) -> None:
        uploads = await inspect_uploads(self.bot.session, [first_frame, last_frame])
        request = settings.request(
            prompt,
            first_frame=options.one_image(first_frame, first_frame_url, "first_frame", uploads),
            last_frame=options.one_image(last_frame, last_frame_url, "last_frame", uploads),
        )
        if request.first_frame is None:
            raise Refused(
                "Give the image the video starts on: attach it as `first_frame`, or link it "
                "with `first_frame_url`. For a video from words alone, use `/video generate "
                "text`."
            )
        await flows.start_job(
            interaction, request, origin=JobOrigin.GENERATE, confirm=settings.confirm
        )

    @generate.command(
        name="references",
        description="Make a video guided by reference images, videos, audio or assets.",
    )
    @options.with_settings
    @app_commands.describe(
        reference_image_1="A reference image: a character, object or style to follow.",
        reference_image_2="Another reference image.",
        reference_image_3="Another reference image.",
        reference_images="More reference images as links, separated by spaces (9 images in all).",
        reference_video_1="A reference video (MP4 or MOV, 2 to 15 seconds): motion or camera.",
        reference_video_2="Another reference video.",
        reference_videos="More reference videos as links, separated by spaces (3 videos in all).",
        reference_audio_1="Reference audio (MP3 or WAV, 2 to 15 seconds), with an image or video.",
        reference_audios="More reference audio as links, separated by spaces (3 in all).",
        reference_asset_ids="Ids of assets uploaded to the provider, separated by spaces.",
        asset="An asset of this server's library, by name; start typing to pick one.",
        asset_2="Another asset of the library.",
        asset_3="Another asset of the library.",
    )
    async def generate_references(
        self,
        interaction: discord.Interaction,
        prompt: options.Prompt,
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
        asset: options.AssetName | None = None,
        asset_2: options.AssetName | None = None,
        asset_3: options.AssetName | None = None,
        *,
        settings: options.VideoSettings,
    ) -> None:
        images = [reference_image_1, reference_image_2, reference_image_3]
        videos, audios = [reference_video_1, reference_video_2], [reference_audio_1]
        uploads = await inspect_uploads(self.bot.session, images + videos + audios)
        request = settings.request(
            prompt,
            reference_images=options.media_list(images, reference_images, uploads),
            reference_videos=options.media_list(videos, reference_videos, uploads),
            reference_audios=options.media_list(audios, reference_audios, uploads),
            reference_asset_ids=options.split_links(reference_asset_ids),
        )
        request = await with_library_assets(interaction, request, [asset, asset_2, asset_3])
        if not request.reference_count:
            raise Refused(
                "Give at least one reference: an image, a video, audio (with an image or "
                "video), an asset of the library or an asset id. For a video from words "
                "alone, use `/video generate text`."
            )
        await flows.start_job(
            interaction, request, origin=JobOrigin.GENERATE, confirm=settings.confirm
        )

    @generate_references.autocomplete("asset")
    @generate_references.autocomplete("asset_2")
    @generate_references.autocomplete("asset_3")
    async def asset_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return await asset_choices(interaction, current)

    # -- /video assets -------------------------------------------------------------------

    @app_commands.command(
        name="assets", description="List the images, videos and audio of this server's library."
    )
    @app_commands.guild_only()
    async def assets(self, interaction: discord.Interaction) -> None:
        assert interaction.guild_id is not None
        library = await self.bot.services.library.listed(interaction.guild_id)
        await interaction.response.send_message(
            embed=library_embed(library), ephemeral=True, allowed_mentions=NO_MENTIONS
        )

    # -- /video status -------------------------------------------------------------------

    @app_commands.command(name="status", description="Show where one of your videos is.")
    @app_commands.guild_only()
    @app_commands.describe(
        request_id="The job: #number, the provider's request id, or a link to its message."
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

    # -- /video together -----------------------------------------------------------------

    @app_commands.command(
        name="together",
        description="Make one film together: members add shots in a thread, filmed in order.",
    )
    @app_commands.guild_only()
    @app_commands.describe(
        title="The film's title (its thread is named after it).",
        shots=f"How many shots the film has ({MIN_SHOTS} to {MAX_STITCH_CLIPS}); filming starts "
        "once every one is added.",
        seconds=f"How long each shot lasts, in seconds ({DURATION_RANGE[0]} to "
        f"{DURATION_RANGE[1]}; default {DEFAULT_DURATION}); at most {MAX_STITCH_SECONDS}s in all.",
    )
    async def together_(
        self,
        interaction: discord.Interaction,
        title: app_commands.Range[str, 1, TITLE_MAX_CHARS],
        shots: app_commands.Range[int, MIN_SHOTS, MAX_STITCH_CLIPS] = 4,
        seconds: options.Duration = DEFAULT_DURATION,
    ) -> None:
        await together.open_storyboard(interaction, title, shots, seconds)

    # -- /video history ------------------------------------------------------------------

    @app_commands.command(name="history", description="List your recent videos in this server.")
    @app_commands.guild_only()
    async def history(self, interaction: discord.Interaction) -> None:
        embed, view = await flows.history_page(
            interaction.user.id, interaction.guild_id, 0, interaction
        )
        await interaction.response.send_message(embed=embed, view=view, ephemeral=True)

    # -- /video challenge ---------------------------------------------------------------

    @app_commands.command(
        name="challenge", description="See the server's open challenge, its entries and your part."
    )
    @app_commands.guild_only()
    async def challenge(self, interaction: discord.Interaction) -> None:
        await challenges.show_current(interaction)

    # -- /video queue --------------------------------------------------------------------

    @app_commands.command(
        name="queue", description="See the jobs waiting to be sent to the model here, in turn."
    )
    @app_commands.guild_only()
    async def queue(self, interaction: discord.Interaction) -> None:
        embed, view = await flows.queue_page(interaction, 0)
        await interaction.response.send_message(
            embed=embed, view=view, ephemeral=True, allowed_mentions=NO_MENTIONS
        )

    # -- /video quota --------------------------------------------------------------------

    @app_commands.command(
        name="quota", description="See what you can still generate here, and when it resets."
    )
    @app_commands.guild_only()
    async def quota(self, interaction: discord.Interaction) -> None:
        standing = await self.bot.services.standings.of_member(requester_of(interaction))
        embed = quota_embed(standing, self.bot.settings.currency)
        await interaction.response.send_message(embed=embed, ephemeral=True)

    # -- /video info ---------------------------------------------------------------------

    @app_commands.command(
        name="info",
        description="See what the video model makes, what it takes and what it costs.",
    )
    async def info(self, interaction: discord.Interaction) -> None:
        bot = self.bot
        if bot.health.detail is None:  # never answered yet: ask now, which may take a while
            await interaction.response.defer(ephemeral=True, thinking=True)
        detail = await bot.provider_watch.model_detail()
        embed = model_embed(
            detail,
            bot.health.offer,
            model=bot.settings.seedance_model,
            prices=bot.settings.price_table,
            currency=bot.settings.currency,
        )
        if interaction.response.is_done():
            await interaction.followup.send(embed=embed, ephemeral=True)
        else:
            await interaction.response.send_message(embed=embed, ephemeral=True)
