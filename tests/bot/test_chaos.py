"""The chaos hook (`bot.chaos`): dormant unless armed, and where armed it kills at once."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from bot import chaos
from bot.chaos import POINTS, KillAt
from bot.settings import Settings, SettingsError

REPO = Path(__file__).resolve().parents[2]
REQUIRED = {"DISCORD_TOKEN": "t", "GMI_API_KEY": "k"}

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="needs SIGKILL")


def test_kill_at_reads_a_point_and_an_optional_count():
    assert KillAt.parse("after_submit") == KillAt("after_submit", 1)
    assert KillAt.parse("during_status_edits:3") == KillAt("during_status_edits", 3)
    assert str(KillAt("after_posting", 2)) == "after_posting:2"
    for wrong in ("after_lunch", "after_submit:0", "after_submit:x", ""):
        with pytest.raises(ValueError):
            KillAt.parse(wrong)


def test_the_setting_is_off_by_default_and_checked_like_the_others():
    assert Settings.from_env(REQUIRED).chaos_kill_at is None
    armed = Settings.from_env({**REQUIRED, "CHAOS_KILL_AT": "after_storing:2"})
    assert armed.chaos_kill_at == KillAt("after_storing", 2)
    with pytest.raises(SettingsError, match="CHAOS_KILL_AT"):
        Settings.from_env({**REQUIRED, "CHAOS_KILL_AT": "after_lunch"})


def test_an_unarmed_or_other_point_does_nothing():
    chaos.arm(None)
    for point in POINTS:
        chaos.crash_point(point)
    chaos.arm(KillAt("after_posting"))
    try:
        chaos.crash_point("after_submit")
    finally:
        chaos.arm(None)


def test_the_armed_point_kills_the_process_the_nth_time_it_is_reached():
    script = (
        "from bot import chaos\n"
        "chaos.arm(chaos.KillAt('after_submit', 2))\n"
        "chaos.crash_point('after_submit'); print('first', flush=True)\n"
        "chaos.crash_point('after_submit'); print('second', flush=True)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == -9
    assert result.stdout == "first\n"
    assert "chaos: SIGKILL at after_submit:2" in result.stderr


def test_every_point_is_marked_once_in_the_code_and_no_other():
    calls = re.compile(r"crash_point\(\"(\w+)\"\)")
    found = [
        name
        for folder in ("bot", "cogs")
        for path in sorted((REPO / folder).rglob("*.py"))
        for name in calls.findall(path.read_text())
    ]
    assert sorted(found) == sorted(POINTS)
