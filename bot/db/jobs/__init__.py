"""The jobs table and its archive of deleted jobs: writes and lookups (`JobRepository`) and
the accounting view that quotas, the budget and usage reports count from (`JobLedger`)."""

from bot.db.jobs.ledger import JobLedger, LedgerTotals, Usage
from bot.db.jobs.repository import JobRepository

__all__ = ["JobLedger", "JobRepository", "LedgerTotals", "Usage"]
