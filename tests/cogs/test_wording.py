"""The words members and moderators read in the common cases, rendered as they are sent."""

from __future__ import annotations

import json
from types import SimpleNamespace

from bot.db.audit import AuditEntry
from bot.markup import plural
from bot.moderation.audit import AuditAction
from bot.quotas import wording
from bot.quotas.catalogue import Metric, Window
from bot.quotas.counting import Meter
from bot.quotas.resolution import MEMBER, SERVER, LimitSource
from cogs.shared import job_choice_label, plain
from cogs.video.messages import meter_text
from cogs.videoadmin.render import audit_line, limits_title

ROLE = LimitSource("role", "Artists")


def entry(action: str, old: str | None, new: str | None, subject: str | None = None) -> AuditEntry:
    return AuditEntry(1, 1, 5, action, subject, "server", old, new, 0.0)


def test_counted_nouns_read_right_for_one_and_for_many():
    assert [plural(n, "video") for n in (0, 1, 2, 1.5)] == [
        "0 videos", "1 video", "2 videos", "1.5 videos"
    ]  # fmt: skip


def test_who_set_a_limit_reads_once_and_in_the_readers_terms():
    too_long = wording.too_long(6, 10, MEMBER)
    assert too_long == (
        "Your videos can be at most 6 seconds long (set by a moderator for you); you asked "
        "for 10. Choose 6 seconds or less."
    )
    assert "override" not in too_long
    # A moderator reading about someone else never sees "your".
    assert [str(source) for source in (MEMBER, ROLE, SERVER)] == [
        "member override", "role Artists", "server"
    ]  # fmt: skip
    assert "(set for the Artists role)" in wording.too_many_running(1, ROLE)
    assert wording.too_many_running(2, SERVER).startswith("You already have 2 videos in progress")


def test_a_limit_lowered_below_what_was_used_reads_as_such():
    used_more = Meter(Metric.GENERATIONS, used=9, limit=2, granted=0, source=SERVER)
    refusal = wording.over_window(used_more, Window.DAY, 5, 0.8, 0.0, "USD")
    assert refusal.startswith(
        "You've made 9 videos today, and your limit is 2 videos (set for the whole server)."
    )
    assert meter_text(used_more, "USD") == (
        "9 videos, over your limit of 2 videos (set for the whole server)"
    )
    one = Meter(Metric.GENERATIONS, used=1, limit=1, granted=0, source=MEMBER)
    assert meter_text(one, "USD") == "1 of 1 video (set by a moderator for you)"


def test_money_always_has_its_currency_and_two_decimals():
    cost = Meter(Metric.COST, used=0.5, limit=2, granted=0, source=SERVER)
    assert meter_text(cost, "EUR") == (
        "0.50 EUR of 2.00 EUR of estimated cost (set for the whole server)"
    )
    budget = audit_line(entry(AuditAction.BUDGET, None, "10.0"), "USD")
    assert budget.endswith("set the monthly budget of the server: (none) → 10.00 USD")
    reset = json.dumps({"day": {"generations": 1, "seconds": 5, "cost": 8.8}})
    assert audit_line(entry(AuditAction.QUOTA_RESET, reset, "0", "day"), "USD").endswith(
        ": day: 1 video, 5 seconds, 8.80 USD → nothing used"
    )
    grant = json.dumps({"generations": 0, "seconds": 0, "cost": 0.2})
    assert audit_line(entry(AuditAction.QUOTA_GRANT, None, grant, "day"), "USD").endswith(
        "→ +0.20 USD of estimated cost"
    )


def test_titles_and_choices_name_people_instead_of_showing_raw_mentions():
    bob = SimpleNamespace(id=222222222222222222, display_name="bob", name="bob")
    artists = SimpleNamespace(id=333333333333333333, name="Artists")
    assert limits_title(None, bob) == "Limits of bob"  # type: ignore[arg-type]
    assert limits_title(artists, None) == "Limits of the Artists role"  # type: ignore[arg-type]
    guild = SimpleNamespace(
        get_member=lambda i: bob if i == bob.id else None,
        get_role=lambda i: artists if i == artists.id else None,
        get_channel_or_thread=lambda i: None,
    )
    text = f"a duel between <@{bob.id}> and <@&{artists.id}> in <#444444444444444444>"
    assert plain(text, guild) == "a duel between @bob and @Artists in #channel"  # type: ignore[arg-type]
    job = SimpleNamespace(
        id=12, display_state="Delivered", user_id=bob.id,
        request=SimpleNamespace(prompt=f"hello <@{bob.id}>"),
    )  # fmt: skip
    label = job_choice_label(job, guild, owner=True)  # type: ignore[arg-type]
    assert label == "#12 Delivered · bob · hello @bob"
