"""Where a job's result goes, as the server's moderators chose.

In the channel (the default): the result replies to the job's status message. In a thread:
a thread is started from the status message and the result is its first post, so the
channel keeps one line per job and the talk about a video happens beside it. Either way a
server may name a gallery channel, which receives a copy of every finished video with its
credits and buttons (not when the job ran in the gallery itself).
"""

from __future__ import annotations

import enum

from bot.db.servers import ServerSettingsRepository
from bot.jobs.model import Job


class ResultsIn(enum.StrEnum):
    CHANNEL = "channel"
    THREAD = "thread"


class Destinations:
    def __init__(self, servers: ServerSettingsRepository) -> None:
        self.servers = servers

    async def results_in(self, job: Job) -> ResultsIn:
        if job.guild_id is None:
            return ResultsIn.CHANNEL
        return ResultsIn((await self.servers.get(job.guild_id)).results_in)

    async def gallery_for(self, job: Job) -> int | None:
        """The gallery channel that gets a copy of this job's result, if any."""
        if job.guild_id is None or not job.succeeded:
            return None
        gallery = (await self.servers.get(job.guild_id)).gallery_channel_id
        if gallery is None or gallery in (job.channel_id, job.result_channel_id):
            return None
        return gallery
