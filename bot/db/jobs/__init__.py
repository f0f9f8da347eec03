"""The jobs table and its archive of deleted jobs: writes and lookups (`JobRepository`),
the accounting view that quotas, the budget and usage reports count from (`JobLedger`),
and the operator's counts (`JobCounts`)."""

from bot.db.jobs.counts import JobCounts, SettledJob
from bot.db.jobs.ledger import JobLedger, LedgerTotals, Usage
from bot.db.jobs.repository import Claim, Everywhere, JobRepository, QueuePlace

__all__ = [
    "Claim",
    "Everywhere",
    "JobCounts",
    "JobLedger",
    "JobRepository",
    "QueuePlace",
    "LedgerTotals",
    "SettledJob",
    "Usage",
]
