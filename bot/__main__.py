"""`python -m bot`: read the settings, point discord.py where it should go, run."""

from __future__ import annotations

import logging
import sys

from dotenv import find_dotenv, load_dotenv

from bot.app import VideoBot
from bot.discord_endpoints import point_discord_at
from bot.logs import configure_logging
from bot.settings import Settings, SettingsError


def main() -> int:
    load_dotenv(find_dotenv(usecwd=True))  # the .env of the directory it is started from
    try:
        settings = Settings.from_env()
    except SettingsError as error:
        print(
            "The bot cannot start; fix these settings (in .env or the environment):",
            file=sys.stderr,
        )
        for problem in error.problems:
            print(f"  - {problem}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level, secrets=settings.secrets)
    point_discord_at(settings.discord_api_base_url, settings.discord_gateway_url)
    bot = VideoBot(settings)
    try:
        bot.run(settings.discord_token, log_handler=None)
    except KeyboardInterrupt:
        pass
    except Exception as error:  # login refused, gateway unreachable...
        logging.getLogger("bot").error("the bot stopped: %s", error)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
