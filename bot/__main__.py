"""`python -m bot`: the operator's commands (`bot.cli`); with none, run the bot."""

from __future__ import annotations

import sys

from bot.cli import main

if __name__ == "__main__":
    sys.exit(main())
