"""What moderators see: pure functions from domain results to embeds and text.

Every Discord size limit (title 256, description 4096, field 1024) is respected here.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence

import discord

from bot.db.audit import AuditEntry
from bot.db.blocks import MemberBlock
from bot.db.filters import BlockedPattern, BlockedPromptEvent
from bot.db.jobs import LedgerTotals
from bot.db.limits import StoredLimit
from bot.db.servers import GuildSettings
from bot.markup import discord_time, money, plural
from bot.moderation.audit import AuditAction
from bot.params import quoted
from bot.quotas.catalogue import LIMITS
from bot.quotas.counting import BudgetStanding
from bot.quotas.resolution import EffectiveLimits
from bot.usage import MemberUsage, Period, ServerUsage
from cogs.shared import clip, literal

CHANGED = discord.Colour.green()
INFO = discord.Colour.blurple()
RESULTS_IN_WORDS = {"channel": "in the channel", "thread": "in a thread per job"}


# -- the audit log, from raw values to a sentence -----------------------------------------


def _target(target: str) -> str:
    kind, _, ident = target.partition(":")
    return {
        "user": f"<@{ident}>",
        "role": f"role <@&{ident}>",
        "channel": f"<#{ident}>",
        "server": "the server",
        "pattern": f"#{ident}",
    }.get(kind, target)


def _block_text(value: str) -> str:
    block = json.loads(value)
    expires = block.get("expires_at")
    until = f"until {discord_time(expires, 'f')}" if expires is not None else "no expiry"
    return f"{literal(block['reason'])} ({until})"


def _grant_text(value: str, currency: str) -> str:
    g = json.loads(value)
    parts = [
        f"+{plural(g['generations'], 'video')}" if g["generations"] else "",
        f"+{plural(g['seconds'], 'second')}" if g["seconds"] else "",
        f"+{money(g['cost'], currency)} of estimated cost" if g["cost"] else "",
    ]
    return ", ".join(part for part in parts if part) or "nothing"


def _reset_text(value: str, currency: str) -> str:
    if value == "0":
        return "nothing used"
    return "; ".join(
        f"{window}: {plural(u['generations'], 'video')}, {plural(u['seconds'], 'second')}, "
        f"{money(u['cost'], currency)}"
        for window, u in json.loads(value).items()
    )


def _money_text(value: str, currency: str) -> str:
    return money(float(value), currency)


def _asset_text(value: str) -> str:
    asset = json.loads(value)
    if asset["kind"] == "asset":
        return f"the provider's asset {quoted(asset['asset_id'])}"
    return f"{asset['kind']} {quoted(asset['filename'])} kept in <#{asset['channel_id']}>"


def _challenge_text(value: str) -> str:
    terms = json.loads(value)
    reward = []
    if terms.get("reward_generations"):
        reward.append(f"+{plural(terms['reward_generations'], 'video')} ({terms['reward_window']})")
    if terms.get("reward_role_id"):
        reward.append(f"<@&{terms['reward_role_id']}>")
    return (
        f"“{literal(terms['theme'])}” until {discord_time(terms['ends_at'], 'f')}, "
        f"{terms['entries_per_member']} per member, {plural(terms['winners'], 'winner')}, "
        f"reward {' and '.join(reward) or 'none'}, votes "
        + ("shown" if terms.get("show_votes") else "hidden")
    )


def _winners_text(value: str) -> str:
    winners = json.loads(value)["winners"]
    return ", ".join(f"{place}. <@{user_id}>" for place, user_id in winners) or "no winners"


def _deleted_text(value: str) -> str:
    job = json.loads(value)
    return f"{job['outcome']}: “{literal(job['prompt'])}”"


# What each action's sentence says, given the entry's subject; and how its values read.
_SENTENCES: dict[str, Callable[[str | None], str]] = {
    AuditAction.LIMIT_SET: lambda s: f"set the limit {s} for",
    AuditAction.LIMIT_CLEAR: lambda s: f"cleared the limit {s} for",
    AuditAction.MOD_ROLE: lambda s: "set the moderator role of",
    AuditAction.MOD_LOG: lambda s: "set the mod-log channel of",
    AuditAction.TIMEZONE: lambda s: "set the time zone of",
    AuditAction.RESET_HOUR: lambda s: "set the reset hour of",
    AuditAction.REFUNDS: lambda s: "set refunds for",
    AuditAction.MODERATORS_EXEMPT: lambda s: "set whether moderators are exempt from limits in",
    AuditAction.BUDGET: lambda s: "set the monthly budget of",
    AuditAction.RESULTS_IN: lambda s: "set where results go in",
    AuditAction.GALLERY: lambda s: "set the gallery channel of",
    AuditAction.CONFIRM_ABOVE: lambda s: "set the cost above which members confirm jobs in",
    AuditAction.REVIEW_CHANNEL: lambda s: "set the review channel of",
    AuditAction.REVIEW_COST: lambda s: "set the estimated cost that needs approval in",
    AuditAction.REVIEW_VIDEOS: lambda s: "set whether reference videos need approval in",
    AuditAction.REVIEW_ROLE: lambda s: "set the role that needs no approval in",
    AuditAction.CHANNEL_ALLOW: lambda s: "allowed generation in",
    AuditAction.CHANNEL_DISALLOW: lambda s: "stopped allowing generation in",
    AuditAction.BLOCK: lambda s: "blocked",
    AuditAction.UNBLOCK: lambda s: "unblocked",
    AuditAction.FILTER_ADD: lambda s: f"blocked the {s}",
    AuditAction.FILTER_REMOVE: lambda s: f"unblocked the {s}",
    AuditAction.QUOTA_GRANT: lambda s: f"granted extra {s} quota to",
    AuditAction.QUOTA_RESET: lambda s: f"reset the {s} quota of",
    AuditAction.JOB_CANCEL: lambda s: f"cancelled job #{s} of",
    AuditAction.JOB_DELETE: lambda s: f"deleted job #{s} of",
    AuditAction.ASSET_ADD: lambda s: f"added the asset {quoted(s or '')} to the library of",
    AuditAction.ASSET_REMOVE: lambda s: f"removed the asset {quoted(s or '')} from the library of",
    AuditAction.REVIEW_APPROVE: lambda s: f"approved job #{s} of",
    AuditAction.REVIEW_DENY: lambda s: f"denied job #{s} of",
    AuditAction.CHALLENGE_START: lambda s: f"started challenge #{s} in",
    AuditAction.CHALLENGE_END: lambda s: f"closed challenge #{s} in",
    AuditAction.CHALLENGE_CANCEL: lambda s: f"cancelled challenge #{s} in",
    AuditAction.IN_FLIGHT_CAP: lambda s: "set the cap on jobs in flight of",
    AuditAction.QUEUE_MOVE: lambda s: f"moved waiting job #{s} of",
    AuditAction.QUEUE_DROP: lambda s: f"dropped waiting job #{s} of",
    AuditAction.STORYBOARD_FILM: lambda s: f"started filming storyboard #{s} of",
}
# How each action's old and new values read, given the server's currency.
_VALUES: dict[str, Callable[[str, str], str]] = {
    AuditAction.MOD_ROLE: lambda v, _: f"<@&{v}>",
    AuditAction.MOD_LOG: lambda v, _: f"<#{v}>",
    AuditAction.RESULTS_IN: lambda v, _: RESULTS_IN_WORDS.get(v, v),
    AuditAction.GALLERY: lambda v, _: f"<#{v}>",
    AuditAction.REVIEW_CHANNEL: lambda v, _: f"<#{v}>",
    AuditAction.REVIEW_COST: _money_text,
    AuditAction.REVIEW_VIDEOS: lambda v, _: "need approval" if v == "1" else "don't",
    AuditAction.REVIEW_ROLE: lambda v, _: f"<@&{v}>",
    AuditAction.REVIEW_DENY: lambda v, _: f"“{literal(v)}”",
    AuditAction.REFUNDS: lambda v, _: "on" if v == "1" else "off",
    AuditAction.MODERATORS_EXEMPT: lambda v, _: "exempt" if v == "1" else "not exempt",
    AuditAction.BUDGET: _money_text,
    AuditAction.CONFIRM_ABOVE: _money_text,
    AuditAction.BLOCK: lambda v, _: _block_text(v),
    AuditAction.UNBLOCK: lambda v, _: _block_text(v),
    AuditAction.QUOTA_GRANT: _grant_text,
    AuditAction.QUOTA_RESET: _reset_text,
    AuditAction.JOB_DELETE: lambda v, _: _deleted_text(v),
    AuditAction.ASSET_ADD: lambda v, _: _asset_text(v),
    AuditAction.ASSET_REMOVE: lambda v, _: _asset_text(v),
    AuditAction.CHALLENGE_START: lambda v, _: _challenge_text(v),
    AuditAction.CHALLENGE_END: lambda v, _: _winners_text(v),
    AuditAction.CHALLENGE_CANCEL: lambda v, _: f"“{literal(v)}”",
    AuditAction.QUEUE_MOVE: lambda v, _: f"place {v}",
    AuditAction.QUEUE_DROP: lambda v, _: f"place {v}",
}


# Actions whose value has no "before": a decision and its reason.
_WITHOUT_BEFORE = frozenset({AuditAction.REVIEW_DENY})


def _value(action: str, value: str | None, currency: str) -> str:
    if value is None:
        return "(none)"
    shown = _VALUES.get(action)
    try:
        return shown(value, currency) if shown else value
    except (ValueError, KeyError, TypeError):
        return value  # an older row's text


def audit_line(entry: AuditEntry, currency: str) -> str:
    """One line for the mod-log channel or an audit listing: when, who, what, old → new."""
    sentence = _SENTENCES.get(entry.action)
    action = sentence(entry.subject) if sentence else entry.action
    change = ""
    if entry.action in _WITHOUT_BEFORE and entry.new_value is not None:
        change = f": {_value(entry.action, entry.new_value, currency)}"
    elif entry.old_value is not None or entry.new_value is not None:
        old = _value(entry.action, entry.old_value, currency)
        change = f": {old} → {_value(entry.action, entry.new_value, currency)}"
    return (
        f"{discord_time(entry.at, 'f')} <@{entry.actor_id}> {action} "
        f"{_target(entry.target)}{change}"
    )


def change_embed(entry: AuditEntry, currency: str, note: str | None = None) -> discord.Embed:
    """The reply to a change: the audit line itself (who, what, old → new)."""
    description = audit_line(entry, currency)
    if note:
        description += f"\n\n{note}"
    return discord.Embed(title="✅ Done", description=clip(description, 4096), colour=CHANGED)


def listing(
    title: str, lines: Sequence[str], empty: str, footer: str | None = None
) -> discord.Embed:
    embed = discord.Embed(
        title=clip(title, 256),
        description=clip("\n".join(lines) if lines else empty, 4096),
        colour=INFO,
    )
    if footer:
        embed.set_footer(text=clip(footer, 2048))
    return embed


def scope_text(scope: str, scope_id: int) -> str:
    """Where a stored limit applies, in a line of text (mentions render as names there)."""
    return {"server": "server", "role": f"role <@&{scope_id}>", "member": f"<@{scope_id}>"}.get(
        scope, scope
    )


def limits_title(role: discord.Role | None, member: discord.Member | None) -> str:
    """The listing's title, with names: Discord shows a mention in a title as its raw id."""
    if member is not None:
        return f"Limits of {member.display_name}"
    if role is not None:
        return f"Limits of the {role.name} role"
    return "Limits set in this server"


def limits_embed(settings: Sequence[StoredLimit], title: str) -> discord.Embed:
    lines = [
        f"**{scope_text(s.scope, s.scope_id)}** · `{s.name}` = **{s.value}** "
        f"(by <@{s.updated_by}> {discord_time(s.updated_at)})"
        for s in settings
    ]
    return listing(
        title,
        lines,
        "No limits are set: members may generate without limits.",
        footer="Member overrides win; else the most generous role; else the server default.",
    )


def effective_field(embed: discord.Embed, effective: EffectiveLimits) -> None:
    """Add what applies to one member, and who set it."""
    lines = [
        f"`{name}`: {limit.value} ({limit.source})"
        for name, limit in effective.items()
        if limit.source.level != "default"
    ]
    embed.add_field(
        name="What applies to them",
        value=clip("\n".join(lines) or "Only the defaults (no limits).", 1024),
        inline=False,
    )


def budget_text(budget: BudgetStanding, currency: str) -> str:
    resets = f"resets {discord_time(budget.resets_at)} ({discord_time(budget.resets_at, 'f')})"
    if budget.budget is None:
        return f"No budget; {money(budget.spent, currency)} spent this month ({resets})."
    return (
        f"{money(budget.spent, currency)} of {money(budget.budget, currency)} spent, "
        f"{money(budget.remaining or 0, currency)} left; {resets}."
    )


def settings_embed(settings: GuildSettings, budget: BudgetStanding, currency: str) -> discord.Embed:
    embed = discord.Embed(title="Video settings of this server", colour=INFO)
    embed.add_field(
        name="Moderator role",
        value=f"<@&{settings.mod_role_id}>"
        if settings.mod_role_id
        else "none (Manage Server only)",
    )
    embed.add_field(
        name="Mod-log channel",
        value=f"<#{settings.mod_log_channel_id}>" if settings.mod_log_channel_id else "none",
    )
    embed.add_field(
        name="Windows reset",
        value=f"{settings.reset_hour:02d}:00 {settings.timezone} (weeks on Monday, months on the 1st)",
        inline=False,
    )
    embed.add_field(
        name="Refunds",
        value="on (failed, cancelled, timed out)" if settings.refunds_enabled else "off",
    )
    embed.add_field(
        name="Moderators and owner",
        value="exempt from member limits" if settings.moderators_exempt else "limited like members",
    )
    embed.add_field(name="Monthly budget", value=budget_text(budget, currency), inline=False)
    embed.add_field(name="Confirm before spending", value=confirm_text(settings, currency))
    embed.add_field(name="Generation channels", value=channels_text(settings), inline=False)
    embed.add_field(
        name="Results", value=RESULTS_IN_WORDS.get(settings.results_in, settings.results_in)
    )
    embed.add_field(
        name="Gallery",
        value=f"<#{settings.gallery_channel_id}>" if settings.gallery_channel_id else "none",
    )
    embed.add_field(
        name="Jobs at the model at once",
        value=f"at most {settings.max_in_flight} (the others wait their turn)"
        if settings.max_in_flight
        else "no cap of this server's own",
        inline=False,
    )
    embed.add_field(name="Approval", value=review_text(settings, currency), inline=False)
    return embed


def confirm_text(settings: GuildSettings, currency: str) -> str:
    if settings.confirm_above is None:
        return "when a member asks (the `confirm` option)"
    return f"every job estimated above {money(settings.confirm_above, currency)}"


def review_text(settings: GuildSettings, currency: str) -> str:
    """Which jobs wait for a moderator's approval, and where."""
    rules = []
    if settings.review_cost_above is not None:
        rules.append(f"estimated above {money(settings.review_cost_above, currency)}")
    if settings.review_reference_videos:
        rules.append("with reference videos")
    if settings.review_unless_role_id is not None:
        rules.append(f"of members without <@&{settings.review_unless_role_id}>")
    if not rules:
        return "no job needs approval"
    where = (
        f"reviewed in <#{settings.review_channel_id}>"
        if settings.review_channel_id
        else "⚠️ no review channel: such jobs end unmade"
    )
    return f"Jobs {', or '.join(rules)} (moderators' own excepted); {where}."


def channels_text(settings: GuildSettings) -> str:
    if not settings.allowed_channel_ids:
        return "every channel (none listed)"
    return clip(" ".join(f"<#{c}>" for c in sorted(settings.allowed_channel_ids)), 1024)


def blocks_embed(blocks: Sequence[MemberBlock]) -> discord.Embed:
    lines = [
        f"<@{b.user_id}>: {literal(clip(b.reason, 200))} · by <@{b.blocked_by}> "
        + (f"until {discord_time(b.expires_at, 'f')}" if b.expires_at else "no expiry")
        for b in blocks
    ]
    return listing("Blocked members", lines, "Nobody is blocked.")


def patterns_embed(patterns: Sequence[BlockedPattern]) -> discord.Embed:
    lines = [
        f"**#{p.id}** {p.kind} {quoted(p.pattern, 200)} · by <@{p.added_by}>" for p in patterns
    ]
    return listing("Blocked words and patterns", lines, "No words or patterns are blocked.")


def events_embed(events: Sequence[BlockedPromptEvent]) -> discord.Embed:
    lines = [
        f"{discord_time(e.at, 'f')} <@{e.user_id}> in <#{e.channel_id}> hit {quoted(e.pattern, 60)}: "
        f"“{literal(clip(e.prompt_excerpt, 150))}”"
        for e in events
    ]
    return listing("Refused prompts (most recent first)", lines, "No prompt has been refused.")


def period_text(period: Period) -> str:
    return f"{discord_time(period.start, 'f')} – {discord_time(period.end, 'f')}"


def totals_lines(totals: LedgerTotals, currency: str) -> list[str]:
    return [
        f"Videos: **{totals.counted}** counted of {totals.jobs} asked "
        f"({totals.succeeded} succeeded, {totals.refunded} refunded)",
        f"Seconds of video: **{totals.seconds}**",
        f"Estimated spend: **{money(totals.estimated_cost, currency)}**",
    ]


def member_usage_embed(usage: MemberUsage, currency: str) -> discord.Embed:
    embed = listing(
        f"Usage {usage.period.label}",
        [
            f"<@{usage.user_id}> · {period_text(usage.period)}",
            *totals_lines(usage.totals, currency),
        ],
        "",
    )
    return embed


def server_usage_embed(usage: ServerUsage, currency: str) -> discord.Embed:
    lines = [
        f"Server · {period_text(usage.period)}",
        f"Members who generated: **{usage.members}**",
        *totals_lines(usage.totals, currency),
    ]
    embed = listing(f"Server usage {usage.period.label}", lines, "")
    embed.add_field(name="Monthly budget", value=budget_text(usage.budget, currency), inline=False)
    return embed


def top_embed(top: Sequence[MemberUsage], period: Period, by: str, currency: str) -> discord.Embed:
    lines = [
        f"{rank}. <@{u.user_id}>: {plural(u.totals.counted, 'video')}, "
        f"{plural(u.totals.seconds, 'second')}, "
        f"{money(u.totals.estimated_cost, currency)}"
        for rank, u in enumerate(top, 1)
    ]
    return listing(
        f"Top members by {by} {period.label}",
        [period_text(period), *lines] if lines else [],
        f"Nobody generated anything in {period_text(period)}.",
    )


def audit_embed(entries: Sequence[AuditEntry], page: int, currency: str) -> discord.Embed:
    return listing(
        "Moderation audit (most recent first)",
        [audit_line(entry, currency) for entry in entries],
        "Nothing recorded on this page." if page > 1 else "Nothing recorded yet.",
        footer=f"Page {page}",
    )


def limit_choice_label(name: str) -> str:
    return clip(f"{name} ({LIMITS[name].label})", 100)
