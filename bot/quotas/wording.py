"""How refusals read: one sentence per rule, naming the limit, who set it, and when it
frees up (as Discord timestamps, which each reader sees in their own time zone)."""

from __future__ import annotations

from bot.db.blocks import MemberBlock
from bot.markup import money, when
from bot.quotas.catalogue import LIMITS, Metric, Window
from bot.quotas.counting import Meter


def set_by(scope: str) -> str:
    if scope == "server":
        return "the server's default"
    if scope.startswith("role "):
        return f"the {scope[5:]} role"
    if scope == "your member override":
        return "a moderator, for you (your member override)"
    return scope


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


def too_long(longest: float, asked: int, scope: str) -> str:
    return (
        f"Videos can be at most {longest:g} seconds long for you (set by {set_by(scope)}); "
        f"you asked for {asked}. Choose {longest:g} seconds or less."
    )


def resolution_too_high(highest: str, asked: str, scope: str) -> str:
    return (
        f"The highest resolution you may use is {highest} (set by {set_by(scope)}); "
        f"you asked for {asked}."
    )


def gate_closed(gate: str, scope: str) -> str:
    if gate == "web_search":
        return (
            f"Web search is turned off for you here (set by {set_by(scope)}). "
            "Try again without `web_search`."
        )
    label = LIMITS[gate].label
    return (
        f"{label[0].upper()}{label[1:]} are not allowed for you here (set by "
        f"{set_by(scope)}). Remove them and try again."
    )


def cooling_down(seconds: int, scope: str, until: float) -> str:
    return (
        f"Slow down: there's a cooldown of {seconds} seconds between requests (set by "
        f"{set_by(scope)}). You can generate again {when(until)}."
    )


def too_many_running(active: int, scope: str) -> str:
    return (
        f"You already have {active} video(s) in progress, the most you may run at once "
        f"(set by {set_by(scope)}). Try again when one finishes."
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
    by = f"set by {set_by(meter.scope)}"
    if meter.granted:
        by += f", including {meter.granted:g} extra granted"
    resets = f"It resets {when(resets_at)}."
    limit = meter.limit or 0.0
    if meter.metric is Metric.GENERATIONS:
        return (
            f"You've used {meter.used:g} of your {limit:g} videos {window.this} ({by}). "
            f"{resets}"
        )
    if meter.metric is Metric.SECONDS:
        return (
            f"This {asked_seconds}-second video would go past your {limit:g} seconds of video "
            f"{window.this} ({by}): {meter.remaining or 0:g} seconds left. Ask for a shorter "
            f"video, or wait: {resets}"
        )
    return (
        f"This video (about {money(asked_cost, currency)}) would go past your estimated-cost "
        f"limit of {money(limit, currency)} {window.this} ({by}): "
        f"{money(meter.remaining or 0, currency)} left. {resets}"
    )
