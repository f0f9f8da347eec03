"""How refusals read: one sentence per rule, naming the limit, who set it, and when it
frees up (as Discord timestamps, which each reader sees in their own time zone)."""

from __future__ import annotations

from bot.db.blocks import MemberBlock
from bot.markup import money, plural, when
from bot.quotas.catalogue import LIMITS, Metric, Window
from bot.quotas.counting import Meter
from bot.quotas.resolution import LimitSource


def blocked(block: MemberBlock) -> str:
    until = (
        f"The block ends {when(block.expires_at)}."
        if block.expires_at
        else "It lasts until a moderator lifts it."
    )
    return f"A moderator has blocked you from generating videos here: {block.reason}. {until}"


def wrong_channel(allowed: frozenset[int]) -> str:
    channels = ", ".join(f"<#{c}>" for c in sorted(allowed))
    return f"Videos can't be generated in this channel. Use {channels}."


BLOCKED_PROMPT = (
    "Your prompt contains a word or phrase this server's moderators have blocked, "
    "so it was not sent. Rephrase it and try again."
)


def too_long(longest: float, asked: int, source: LimitSource) -> str:
    return (
        f"Your videos can be at most {plural(longest, 'second')} long ({source.for_member()}); "
        f"you asked for {asked}. Choose {plural(longest, 'second')} or less."
    )


def resolution_too_high(highest: str, asked: str, source: LimitSource) -> str:
    return (
        f"The highest resolution you may use is {highest} ({source.for_member()}); "
        f"you asked for {asked}. Choose {highest} or lower."
    )


def gate_closed(gate: str, source: LimitSource) -> str:
    if gate == "web_search":
        return (
            f"Web search is turned off for you here ({source.for_member()}). "
            "Try again without `web_search`."
        )
    label = LIMITS[gate].label
    return (
        f"{label[0].upper()}{label[1:]} are not allowed for you here "
        f"({source.for_member()}). Remove them and try again."
    )


def cooling_down(seconds: int, source: LimitSource, until: float) -> str:
    return (
        f"Slow down: you may start a video every {plural(seconds, 'second')} "
        f"({source.for_member()}). You can generate again {when(until)}."
    )


def too_many_running(active: int, source: LimitSource) -> str:
    return (
        f"You already have {plural(active, 'video')} in progress, the most you may run at "
        f"once ({source.for_member()}). Try again when one finishes."
    )


def budget_used_up(spent: float, budget: float, cost: float, resets_at: float, currency: str) -> str:
    return (
        f"This server's monthly video budget is used up: {money(spent, currency)} of "
        f"{money(budget, currency)} spent, and this video would cost about "
        f"{money(cost, currency)}. The budget resets {when(resets_at)}."
    )


def over_window(
    meter: Meter,
    window: Window,
    asked_seconds: int,
    asked_cost: float,
    resets_at: float,
    currency: str,
) -> str:
    by = meter.source.for_member()
    resets = f"It resets {when(resets_at)}."
    limit = meter.limit or 0.0
    if meter.metric is Metric.GENERATIONS:
        if meter.granted:
            by += f", with {plural(meter.granted, 'extra video')} granted"
        return (
            f"You've made {plural(meter.used, 'video')} {window.this}, and your limit is "
            f"{plural(limit, 'video')} ({by}). {resets}"
        )
    if meter.metric is Metric.SECONDS:
        if meter.granted:
            by += f", with {plural(meter.granted, 'extra second')} granted"
        return (
            f"This {asked_seconds}-second video would go past your {plural(limit, 'second')} "
            f"of video {window.this} ({by}): {plural(meter.remaining or 0, 'second')} left. "
            f"Ask for a shorter video, or wait: {resets}"
        )
    if meter.granted:
        by += f", with {money(meter.granted, currency)} extra granted"
    return (
        f"This video (about {money(asked_cost, currency)}) would go past your estimated-cost "
        f"limit of {money(limit, currency)} {window.this} ({by}): "
        f"{money(meter.remaining or 0, currency)} left. {resets}"
    )
