"""Persistence: the database and one repository per table (or pair of tables that move together).

Every SQL statement lives in a repository module here. Each repository is built once, in
`bot.app.VideoBot.setup_hook`, and handed to the services that need it.
"""

from bot.db.database import Connection, Database

__all__ = ["Connection", "Database"]
