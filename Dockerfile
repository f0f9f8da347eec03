# The bot in a container: `docker compose up` (see docker-compose.yml and the README).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# Dependencies first: a code change doesn't reinstall them. Every wheel (google-re2, the
# ffmpeg inside imageio-ffmpeg) is prebuilt, so the slim image needs no compiler.
COPY requirements.txt ./
RUN pip install -r requirements.txt

# A user of its own, and the database on a volume that user owns.
RUN useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin bot \
    && mkdir /data \
    && chown bot:bot /data
COPY bot/ ./bot/
COPY cogs/ ./cogs/
COPY .env.example pyproject.toml ./

USER bot
ENV DATABASE_PATH=/data/bot.sqlite3
VOLUME ["/data"]

# SIGTERM stops the bot gracefully: new jobs are refused and steps in flight get
# SHUTDOWN_GRACE_SECONDS (20 s) to finish. Give it longer than that: docker stop -t 30.
STOPSIGNAL SIGTERM

# Healthy while the bot beats its heartbeat (next to the database), i.e. while it is
# connected to Discord and its event loop runs.
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=3 \
    CMD ["python", "-m", "bot", "healthcheck"]

CMD ["python", "-m", "bot"]
