"""The database schema: one list of forward steps, for SQLite and PostgreSQL alike.

Each engine tracks the step it is at (SQLite: ``PRAGMA user_version``; PostgreSQL: the
``schema_version`` table) and `Database.migrate` runs each new step in its own transaction,
so a step that fails leaves the database as it was, and processes that start at once apply
each step once. A PostgreSQL database always starts empty at step 0.

How to write the next step (append it; never edit or reorder a step that has shipped):

1. Write it once, in SQLite's SQL; `bot.db.dialect` rewrites it for PostgreSQL. Stay inside
   what both engines say alike:
   - column types ``INTEGER`` (ids, counts, 0/1 flags: BIGINT on PostgreSQL), ``REAL``
     (Unix times, money: DOUBLE PRECISION) and ``TEXT`` (JSON too, parsed in Python);
     never BOOLEAN, DATETIME, NUMERIC, VARCHAR(n) or BLOB;
   - ``INTEGER PRIMARY KEY AUTOINCREMENT`` for a table's own id (an identity column on
     PostgreSQL; never insert an explicit id into one);
   - ``CREATE TABLE``, ``CREATE [UNIQUE] INDEX`` (a partial ``WHERE`` is fine),
     ``ALTER TABLE ... ADD COLUMN`` (``NOT NULL`` only with a constant ``DEFAULT``),
     ``ALTER TABLE ... RENAME COLUMN a TO b`` / ``RENAME TO``, ``DROP TABLE`` / ``DROP INDEX``;
     constraints (``CHECK``, ``UNIQUE``, ``REFERENCES``) written inside ``CREATE TABLE``;
   - data rewrites with ``UPDATE`` / ``INSERT ... SELECT`` and the functions both have
     (``COALESCE``, ``CASE``, ``CAST``, ``substr``, ``length``, ``lower``, ``||``);
   - names neither engine reserves (not ``user``, ``order``, ``group``, ``limit``,
     ``offset``; ``window`` is an old column the dialect quotes);
   - statements separated by ``;``, with no ``;`` inside a string literal.
2. Where the engines differ (SQLite can't ``ALTER COLUMN`` or drop a constraint and
   rebuilds the table instead; JSON functions; anything else one engine lacks), write the
   step as ``ByDialect(sqlite=..., postgresql=...)``, each half SQL or a function, sharing
   what they have in common (see step 3).
3. A rewrite SQL can't say is an async function of the migration's `Connection` (see
   `_audit_markup_to_raw_values`); its queries follow the rules for repository SQL in
   `bot.db.database`.
4. Test it on both engines: the tests in ``tests/bot/db/test_migrations.py`` run on each
   (build an old database with ``Database.open(location, migrations=MIGRATIONS[:n])``).
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING

from bot.db.database import ByDialect

if TYPE_CHECKING:
    from bot.db.database import Connection, Migration


_MENTION = re.compile(r"<(?:@&|@|#)(\d+)>")
_BLOCK = re.compile(r"^(?P<reason>.*) \((?:until <t:(?P<until>\d+):f>|no expiry)\)$", re.S)
_GRANT = re.compile(r"^\+(\d+) videos, \+(\d+)s, \+([\d.eE+-]+) cost$")
_RESET_PART = re.compile(r"^(day|week|month): ([\d.]+) videos, ([\d.]+)s, ([\d.]+)$")
# The English action of an old audit row -> its action code; a group captures the subject.
_OLD_ACTIONS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"^set the limit (\w+) for$"), "limit.set"),
    (re.compile(r"^cleared the limit (\w+) for$"), "limit.clear"),
    (re.compile(r"^set the moderator role of$"), "settings.mod_role"),
    (re.compile(r"^set the mod-log channel of$"), "settings.mod_log"),
    (re.compile(r"^set the time zone of$"), "settings.timezone"),
    (re.compile(r"^set the reset hour of$"), "settings.reset_hour"),
    (re.compile(r"^set refunds for$"), "settings.refunds"),
    (re.compile(r"^set the monthly budget of$"), "settings.budget"),
    (re.compile(r"^allowed generation in$"), "channel.allow"),
    (re.compile(r"^stopped allowing generation in$"), "channel.disallow"),
    (re.compile(r"^blocked$"), "member.block"),
    (re.compile(r"^unblocked$"), "member.unblock"),
    (re.compile(r"^blocked the (word|regex)$"), "filter.add"),
    (re.compile(r"^unblocked the (word|regex)$"), "filter.remove"),
    (re.compile(r"^granted extra (day|week|month) quota to$"), "quota.grant"),
    (re.compile(r"^reset the ([a-z/]+) quota of$"), "quota.reset"),
    (re.compile(r"^cancelled job #(\d+) of$"), "job.cancel"),
    (re.compile(r"^deleted job #(\d+) of$"), "job.delete"),
]


def _old_value(action: str, value: str | None) -> str | None:
    """An old row's value without markup, in the shape `bot.moderation.audit` now writes."""
    if value is None:
        return None
    if action in ("settings.mod_role", "settings.mod_log"):
        return _MENTION.sub(r"\1", value)
    if action == "settings.refunds":
        return {"on": "1", "off": "0"}.get(value, value)
    if action in ("member.block", "member.unblock"):
        block = _BLOCK.match(value)
        if block:
            until = block["until"]
            return json.dumps(
                {"reason": block["reason"], "expires_at": float(until) if until else None}
            )
    if action == "quota.grant":
        grant = _GRANT.match(value)
        if grant:
            g, s, c = grant.groups()
            return json.dumps({"generations": int(g), "seconds": int(s), "cost": float(c)})
    if action == "quota.reset" and value != "0":
        used = {}
        for part in value.split("; "):
            reset = _RESET_PART.match(part)
            if not reset:
                return value
            window, g, s, c = reset.groups()
            used[window] = {"generations": float(g), "seconds": float(s), "cost": float(c)}
        return json.dumps(used)
    if action == "job.delete":
        try:
            job = json.loads(value)
        except ValueError:
            return value
        if isinstance(job, dict) and "state" in job:
            return json.dumps({"outcome": job["state"], "prompt": job.get("prompt", "")})
    return value


def _lifecycle(lengths_from_params: str) -> str:
    """Step 3 around the statement that reads a job's length and resolution from its JSON
    parameters, which each engine spells its own way."""
    return f"""
    ALTER TABLE jobs ADD COLUMN outcome TEXT;
    ALTER TABLE jobs ADD COLUMN cancelled_by INTEGER;
    ALTER TABLE jobs ADD COLUMN duration INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE jobs ADD COLUMN resolution TEXT NOT NULL DEFAULT '';
    {lengths_from_params};
    UPDATE jobs SET outcome = state
        WHERE state IN ('succeeded', 'failed', 'cancelled', 'timed_out');
    UPDATE jobs SET state = CASE
            WHEN delivered_via = 'undeliverable' THEN 'undeliverable'
            WHEN delivered_at IS NOT NULL THEN 'delivered'
            WHEN delivery_attempts > 0 THEN 'posting'
            ELSE 'finished' END
        WHERE outcome IS NOT NULL;
    UPDATE jobs SET cancelled_by = CAST(substr(error, 16, length(error) - 17) AS INTEGER),
                    error = NULL
        WHERE error LIKE 'Cancelled by <@%>.';
    ALTER TABLE deleted_jobs RENAME COLUMN state TO outcome;
    ALTER TABLE deleted_jobs RENAME COLUMN seconds TO duration;
    ALTER TABLE audit_log ADD COLUMN subject TEXT
    """  # noqa: S608 - the statement comes from this module


async def _audit_markup_to_raw_values(conn: Connection) -> None:
    """Rewrite audit rows written as English with Discord markup into codes and raw values
    (ids, Unix times, JSON); the moderators' view renders them. Unknown rows stay as they are."""
    for row in await conn.fetchall("SELECT id, action, old_value, new_value FROM audit_log"):
        for pattern, code in _OLD_ACTIONS:
            match = pattern.match(row["action"])
            if match is None:
                continue
            await conn.execute(
                "UPDATE audit_log SET action = ?, subject = ?, old_value = ?, new_value = ? "
                "WHERE id = ?",
                (
                    code,
                    match.group(1) if match.groups() else None,
                    _old_value(code, row["old_value"]),
                    _old_value(code, row["new_value"]),
                    row["id"],
                ),
            )
            break


async def _adjustments_expire_with_their_window(conn: Connection) -> None:
    """Grants and resets were keyed by their window's start, so a change of time zone or
    reset hour lost them; they now carry the moment they stop applying."""
    from bot.quotas.windows import window_bounds

    zones = {
        row["guild_id"]: (row["timezone"], row["reset_hour"])
        for row in await conn.fetchall("SELECT guild_id, timezone, reset_hour FROM guild_settings")
    }
    for row in await conn.fetchall(
        "SELECT id, guild_id, window, window_start FROM quota_adjustments"
    ):
        timezone, hour = zones.get(row["guild_id"], ("UTC", 0))
        _, end = window_bounds(row["window"], row["window_start"] + 1, timezone, hour)
        await conn.execute(
            "UPDATE quota_adjustments SET expires_at = ? WHERE id = ?", (end, row["id"])
        )


MIGRATIONS: list[Migration] = [

    """
    CREATE TABLE jobs (
        id                INTEGER PRIMARY KEY AUTOINCREMENT,
        request_id        TEXT UNIQUE,
        guild_id          INTEGER,
        channel_id        INTEGER NOT NULL,
        user_id           INTEGER NOT NULL,
        status_message_id INTEGER,
        model             TEXT NOT NULL,
        params_json       TEXT NOT NULL,
        payload_json      TEXT NOT NULL,
        origin            TEXT NOT NULL DEFAULT 'generate',
        parent_job_id     INTEGER REFERENCES jobs(id) ON DELETE SET NULL,
        estimated_cost    REAL NOT NULL DEFAULT 0,
        state             TEXT NOT NULL,
        provider_status   TEXT,
        error             TEXT,
        result_url        TEXT,
        thumbnail_url     TEXT,
        result_message_id INTEGER,
        delivered_via     TEXT,
        delivery_attempts INTEGER NOT NULL DEFAULT 0,
        attempts          INTEGER NOT NULL DEFAULT 0,
        poll_count        INTEGER NOT NULL DEFAULT 0,
        failed_checks     INTEGER NOT NULL DEFAULT 0,
        created_at        REAL NOT NULL,
        updated_at        REAL NOT NULL,
        submitted_at      REAL,
        finished_at       REAL,
        delivered_at      REAL,
        next_check_at     REAL,
        deadline_at       REAL NOT NULL
    );
    CREATE INDEX jobs_due ON jobs (next_check_at) WHERE next_check_at IS NOT NULL;
    CREATE INDEX jobs_by_user ON jobs (user_id, created_at);
    CREATE INDEX jobs_by_guild ON jobs (guild_id, created_at);
    """,
    # Moderation and quotas: server settings, limits per scope, blocks, blocked prompts,
    # quota grants/resets, the audit log, and the usage of deleted jobs (so deleting a job
    # never gives back money that was spent).
    """
    CREATE TABLE guild_settings (
        guild_id           INTEGER PRIMARY KEY,
        mod_role_id        INTEGER,
        mod_log_channel_id INTEGER,
        timezone           TEXT NOT NULL DEFAULT 'UTC',
        reset_hour         INTEGER NOT NULL DEFAULT 0,
        refunds_enabled    INTEGER NOT NULL DEFAULT 1,
        monthly_budget     REAL,
        updated_at         REAL NOT NULL
    );
    CREATE TABLE generation_channels (
        guild_id   INTEGER NOT NULL,
        channel_id INTEGER NOT NULL,
        PRIMARY KEY (guild_id, channel_id)
    );
    CREATE TABLE quota_limits (
        guild_id   INTEGER NOT NULL,
        scope      TEXT NOT NULL CHECK (scope IN ('server', 'role', 'member')),
        scope_id   INTEGER NOT NULL,
        name       TEXT NOT NULL,
        value      TEXT NOT NULL,
        updated_by INTEGER NOT NULL,
        updated_at REAL NOT NULL,
        PRIMARY KEY (guild_id, scope, scope_id, name)
    );
    CREATE TABLE member_blocks (
        guild_id   INTEGER NOT NULL,
        user_id    INTEGER NOT NULL,
        reason     TEXT NOT NULL,
        expires_at REAL,
        blocked_by INTEGER NOT NULL,
        created_at REAL NOT NULL,
        PRIMARY KEY (guild_id, user_id)
    );
    CREATE TABLE blocked_patterns (
        id         INTEGER PRIMARY KEY AUTOINCREMENT,
        guild_id   INTEGER NOT NULL,
        kind       TEXT NOT NULL CHECK (kind IN ('word', 'regex')),
        pattern    TEXT NOT NULL,
        added_by   INTEGER NOT NULL,
        created_at REAL NOT NULL,
        UNIQUE (guild_id, kind, pattern)
    );
    CREATE TABLE blocked_prompt_events (
        id             INTEGER PRIMARY KEY AUTOINCREMENT,
        guild_id       INTEGER NOT NULL,
        channel_id     INTEGER NOT NULL,
        user_id        INTEGER NOT NULL,
        pattern_id     INTEGER,
        pattern        TEXT NOT NULL,
        prompt_excerpt TEXT NOT NULL,
        created_at     REAL NOT NULL
    );
    CREATE INDEX blocked_prompt_events_by_guild ON blocked_prompt_events (guild_id, created_at);
    CREATE TABLE quota_adjustments (
        id           INTEGER PRIMARY KEY AUTOINCREMENT,
        guild_id     INTEGER NOT NULL,
        user_id      INTEGER NOT NULL,
        kind         TEXT NOT NULL CHECK (kind IN ('grant', 'reset')),
        window       TEXT NOT NULL CHECK (window IN ('day', 'week', 'month')),
        window_start REAL NOT NULL,
        generations  INTEGER NOT NULL DEFAULT 0,
        seconds      INTEGER NOT NULL DEFAULT 0,
        cost         REAL NOT NULL DEFAULT 0,
        actor_id     INTEGER NOT NULL,
        created_at   REAL NOT NULL
    );
    CREATE INDEX quota_adjustments_by_member
        ON quota_adjustments (guild_id, user_id, window, window_start);
    CREATE TABLE audit_log (
        id         INTEGER PRIMARY KEY AUTOINCREMENT,
        guild_id   INTEGER NOT NULL,
        actor_id   INTEGER NOT NULL,
        action     TEXT NOT NULL,
        target     TEXT NOT NULL,
        old_value  TEXT,
        new_value  TEXT,
        created_at REAL NOT NULL
    );
    CREATE INDEX audit_log_by_guild ON audit_log (guild_id, created_at);
    CREATE TABLE deleted_jobs (
        job_id         INTEGER PRIMARY KEY,
        guild_id       INTEGER,
        channel_id     INTEGER NOT NULL,
        user_id        INTEGER NOT NULL,
        state          TEXT NOT NULL,
        request_id     TEXT,
        seconds        INTEGER NOT NULL,
        resolution     TEXT NOT NULL,
        estimated_cost REAL NOT NULL,
        created_at     REAL NOT NULL,
        deleted_by     INTEGER NOT NULL,
        deleted_at     REAL NOT NULL
    );
    CREATE INDEX deleted_jobs_by_guild ON deleted_jobs (guild_id, user_id, created_at);
    CREATE INDEX jobs_by_guild_user ON jobs (guild_id, user_id, created_at);
    """,
    # The explicit lifecycle: where a job is (state) apart from how it ended (outcome);
    # delivery's implicit states become states. Raw values instead of Discord markup: who
    # cancelled a job is an id, not "<@id>" in its error text. A job's length and resolution
    # become columns, so accounting reads no JSON.
    ByDialect(
        sqlite=_lifecycle(
            "UPDATE jobs SET duration = CAST(json_extract(params_json, '$.duration') AS INTEGER), "
            "resolution = json_extract(params_json, '$.resolution')"
        ),
        postgresql=_lifecycle(
            "UPDATE jobs SET duration = CAST(CAST(params_json AS JSON) ->> 'duration' AS INTEGER), "
            "resolution = CAST(params_json AS JSON) ->> 'resolution'"
        ),
    ),
    _audit_markup_to_raw_values,
    # Scheduling from a learned estimate: a lease apart from the planned check (so a restart
    # resumes jobs at their own time), the provider's timestamps, the predicted finish, what
    # the status message last showed (so a crash can't leave it stale), the interaction
    # token while it lives (to find an answered interaction whose message id was lost), and
    # the provider's timings of every finished job, from which the estimate is learned.
    """
    ALTER TABLE jobs ADD COLUMN leased_until REAL;
    ALTER TABLE jobs ADD COLUMN provider_created_at REAL;
    ALTER TABLE jobs ADD COLUMN processing_started_at REAL;
    ALTER TABLE jobs ADD COLUMN provider_finished_at REAL;
    ALTER TABLE jobs ADD COLUMN predicted_finish_at REAL;
    ALTER TABLE jobs ADD COLUMN reconcile_until REAL;
    ALTER TABLE jobs ADD COLUMN interaction_token TEXT;
    ALTER TABLE jobs ADD COLUMN status_shown TEXT;
    CREATE TABLE job_timings (
        job_id             INTEGER PRIMARY KEY,
        kind               TEXT NOT NULL,
        queue_seconds      REAL,
        processing_seconds REAL,
        total_seconds      REAL NOT NULL,
        finished_at        REAL NOT NULL
    );
    CREATE INDEX job_timings_by_kind ON job_timings (kind, finished_at);
    ALTER TABLE quota_adjustments ADD COLUMN expires_at REAL;
    ALTER TABLE deleted_jobs ADD COLUMN undeliverable INTEGER NOT NULL DEFAULT 0
    """,
    _adjustments_expire_with_their_window,
    # A server may exempt its moderators (and owner) from member limits; off by default.
    """
    ALTER TABLE guild_settings ADD COLUMN moderators_exempt INTEGER NOT NULL DEFAULT 0
    """,
    # Building on each other's videos: a continuation names the job whose last frame it
    # starts from; Animate and Use as reference credit the member whose message gave the
    # files; a stitch lists its clips (with whose they are, so the credits outlive a deleted
    # clip). Where a result went (the channel, or the thread started from the status
    # message) and its copy in the gallery are recorded, so a retry searches the right place.
    # Each server chooses where results go and which channel is its gallery. Plain types
    # and statements only: the same migration runs on SQLite and PostgreSQL.
    """
    ALTER TABLE jobs ADD COLUMN first_frame_from INTEGER;
    ALTER TABLE jobs ADD COLUMN source_user_id INTEGER;
    ALTER TABLE jobs ADD COLUMN source_message_id INTEGER;
    ALTER TABLE jobs ADD COLUMN result_channel_id INTEGER;
    ALTER TABLE jobs ADD COLUMN gallery_channel_id INTEGER;
    ALTER TABLE jobs ADD COLUMN gallery_message_id INTEGER;
    ALTER TABLE jobs ADD COLUMN gallery_attempts INTEGER NOT NULL DEFAULT 0;
    CREATE INDEX jobs_by_first_frame_source ON jobs (first_frame_from)
        WHERE first_frame_from IS NOT NULL;
    CREATE INDEX jobs_by_parent ON jobs (parent_job_id) WHERE parent_job_id IS NOT NULL;
    CREATE TABLE stitch_clips (
        job_id      INTEGER NOT NULL,
        place       INTEGER NOT NULL,
        clip_job_id INTEGER NOT NULL,
        user_id     INTEGER NOT NULL,
        PRIMARY KEY (job_id, place)
    );
    CREATE INDEX stitch_clips_by_clip ON stitch_clips (clip_job_id);
    ALTER TABLE guild_settings ADD COLUMN results_in TEXT NOT NULL DEFAULT 'channel';
    ALTER TABLE guild_settings ADD COLUMN gallery_channel_id INTEGER
    """,
    # Several processes: which one holds a job's lease (it renews only its own).
    """
    ALTER TABLE jobs ADD COLUMN leased_by TEXT
    """,
    # The provider's hourly budget, one token bucket for every process (bot.db.provider_budget).
    """
    CREATE TABLE provider_budget (
        id           INTEGER PRIMARY KEY,
        tokens       REAL NOT NULL,
        refilled_at  REAL NOT NULL,
        paused_until REAL NOT NULL
    );
    INSERT INTO provider_budget (id, tokens, refilled_at, paused_until) VALUES (1, 0, 0, 0)
    """,
    # Price before spending: a job a member (or the server, above an amount) asked to
    # confirm waits as a preview, priced but not a job, until its member confirms it (then
    # it names its job), cancels it, or it expires (bot.db.previews).
    """
    CREATE TABLE job_previews (
        id                INTEGER PRIMARY KEY AUTOINCREMENT,
        guild_id          INTEGER NOT NULL,
        channel_id        INTEGER NOT NULL,
        user_id           INTEGER NOT NULL,
        params_json       TEXT NOT NULL,
        origin            TEXT NOT NULL,
        parent_job_id     INTEGER,
        first_frame_from  INTEGER,
        source_user_id    INTEGER,
        source_message_id INTEGER,
        estimated_cost    REAL NOT NULL,
        created_at        REAL NOT NULL,
        expires_at        REAL NOT NULL,
        state             TEXT NOT NULL,
        job_id            INTEGER,
        interaction_token TEXT
    );
    CREATE INDEX job_previews_by_expiry ON job_previews (expires_at);
    ALTER TABLE guild_settings ADD COLUMN confirm_above REAL
    """,
    # The shared asset library (bot.asset_library): references moderators approved, by
    # name, one name once per server (``name_key`` is the name as compared). A file is kept
    # as the bot's own message (channel, message, which attachment), so each use asks
    # Discord for a fresh link; a provider asset is its id. What the file was checked to be
    # at registration is kept beside it; ``missing_since`` notes a message gone from Discord.
    """
    CREATE TABLE library_assets (
        id                INTEGER PRIMARY KEY AUTOINCREMENT,
        guild_id          INTEGER NOT NULL,
        name_key          TEXT NOT NULL,
        name              TEXT NOT NULL,
        kind              TEXT NOT NULL CHECK (kind IN ('image', 'video', 'audio', 'asset')),
        channel_id        INTEGER,
        message_id        INTEGER,
        attachment_id     INTEGER,
        provider_asset_id TEXT,
        filename          TEXT,
        content_type      TEXT,
        size              INTEGER,
        width             INTEGER,
        height            INTEGER,
        detected          TEXT,
        seconds           REAL,
        added_by          INTEGER NOT NULL,
        added_at          REAL NOT NULL,
        missing_since     REAL,
        UNIQUE (guild_id, name_key)
    )
    """,
    # The approval lane: what needs a moderator's review in each server and where reviews
    # go; a held job (``held = 1``) is never sent until approved; one review per held job,
    # with its message, its decision and the time it expires undecided.
    """
    ALTER TABLE guild_settings ADD COLUMN review_channel_id INTEGER;
    ALTER TABLE guild_settings ADD COLUMN review_cost_above REAL;
    ALTER TABLE guild_settings ADD COLUMN review_reference_videos INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE guild_settings ADD COLUMN review_unless_role_id INTEGER;
    ALTER TABLE jobs ADD COLUMN held INTEGER NOT NULL DEFAULT 0;
    CREATE TABLE job_reviews (
        job_id       INTEGER PRIMARY KEY,
        guild_id     INTEGER NOT NULL,
        reasons      TEXT NOT NULL,
        created_at   REAL NOT NULL,
        expires_at   REAL NOT NULL,
        channel_id   INTEGER,
        message_id   INTEGER,
        post_attempts INTEGER NOT NULL DEFAULT 0,
        post_lease   REAL,
        decision     TEXT,
        decided_by   INTEGER,
        decided_at   REAL,
        reason       TEXT
    );
    CREATE INDEX job_reviews_undecided ON job_reviews (expires_at) WHERE decision IS NULL
    """,
    # Challenges (bot.challenges): at most one open per server; its entries (a member's
    # delivered job, posted where entries go with a Vote button, found again after a crash
    # by its attempts, abandoned if Discord refuses it for good) and one vote per member per
    # challenge. Closing decides each entry's
    # place; the results post and the Discord-side work afterwards are recorded too.
    """
    CREATE TABLE challenges (
        id                      INTEGER PRIMARY KEY AUTOINCREMENT,
        guild_id                INTEGER NOT NULL,
        channel_id              INTEGER NOT NULL,
        thread_id               INTEGER,
        announcement_message_id INTEGER,
        theme                   TEXT NOT NULL,
        started_by              INTEGER NOT NULL,
        started_at              REAL NOT NULL,
        ends_at                 REAL NOT NULL,
        entries_per_member      INTEGER NOT NULL,
        winners                 INTEGER NOT NULL,
        show_votes              INTEGER NOT NULL DEFAULT 0,
        reward_generations      INTEGER NOT NULL DEFAULT 0,
        reward_window           TEXT,
        reward_role_id          INTEGER,
        state                   TEXT NOT NULL,
        ended_by                INTEGER,
        closed_at               REAL,
        results_attempts        INTEGER NOT NULL DEFAULT 0,
        results_message_id      INTEGER,
        finished_at             REAL
    );
    CREATE UNIQUE INDEX challenges_one_open ON challenges (guild_id) WHERE state = 'open';
    CREATE INDEX challenges_unfinished ON challenges (ends_at) WHERE finished_at IS NULL;
    CREATE TABLE challenge_entries (
        id            INTEGER PRIMARY KEY AUTOINCREMENT,
        challenge_id  INTEGER NOT NULL REFERENCES challenges(id),
        job_id        INTEGER NOT NULL,
        user_id       INTEGER NOT NULL,
        entered_at    REAL NOT NULL,
        post_attempts INTEGER NOT NULL DEFAULT 0,
        message_id    INTEGER,
        place         INTEGER,
        abandoned_at  REAL,
        UNIQUE (challenge_id, job_id)
    );
    CREATE INDEX challenge_entries_by_member ON challenge_entries (challenge_id, user_id);
    CREATE TABLE challenge_votes (
        challenge_id INTEGER NOT NULL REFERENCES challenges(id),
        voter_id     INTEGER NOT NULL,
        entry_id     INTEGER NOT NULL REFERENCES challenge_entries(id),
        voted_at     REAL NOT NULL,
        PRIMARY KEY (challenge_id, voter_id)
    );
    CREATE INDEX challenge_votes_by_entry ON challenge_votes (entry_id)
    """,
    # Fair turns (bot.jobs.turns): a server's cap on jobs in flight; each job's turn among
    # its server's members and its server's turn among servers (set when it is accepted);
    # a waiting job that a cap holds back (made due when its turn comes); a moderator's
    # move (a place held ahead of the turns). The indexes serve the turns and the counts.
    """
    ALTER TABLE guild_settings ADD COLUMN max_in_flight INTEGER;
    ALTER TABLE jobs ADD COLUMN queue_turn INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE jobs ADD COLUMN server_turn INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE jobs ADD COLUMN awaits_turn INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE jobs ADD COLUMN queue_pin INTEGER;
    CREATE INDEX jobs_by_queue_turn ON jobs (guild_id, queue_turn);
    CREATE INDEX jobs_waiting_by_queue_turn ON jobs (guild_id, queue_turn)
        WHERE state = 'accepted';
    CREATE INDEX jobs_by_server_turn ON jobs (server_turn);
    CREATE INDEX jobs_waiting_by_server_turn ON jobs (server_turn) WHERE state = 'accepted';
    CREATE INDEX jobs_in_flight ON jobs (guild_id)
        WHERE state IN ('submitting', 'queued', 'processing')
    """,
    # A film made together (bot.storyboards): the storyboard (its message, whose thread has
    # the same id; where the film goes; whose it is) and its shots in order, each with its
    # author's roles as they were when the shot was added (the shot is filmed as theirs,
    # later), the job that films it, and why it failed if it did.
    """
    CREATE TABLE storyboards (
        id           INTEGER PRIMARY KEY AUTOINCREMENT,
        guild_id     INTEGER NOT NULL,
        channel_id   INTEGER NOT NULL,
        message_id   INTEGER,
        starter_json TEXT NOT NULL,
        title        TEXT NOT NULL,
        shot_count   INTEGER NOT NULL,
        shot_seconds INTEGER NOT NULL,
        state        TEXT NOT NULL,
        film_job_id  INTEGER,
        failure      TEXT,
        created_at   REAL NOT NULL,
        updated_at   REAL NOT NULL
    );
    CREATE INDEX storyboards_by_state ON storyboards (state);
    CREATE TABLE storyboard_shots (
        storyboard_id INTEGER NOT NULL REFERENCES storyboards (id),
        place         INTEGER NOT NULL,
        user_id       INTEGER NOT NULL,
        author_json   TEXT NOT NULL,
        prompt        TEXT NOT NULL,
        image_json    TEXT,
        state         TEXT NOT NULL,
        job_id        INTEGER,
        failure       TEXT,
        added_at      REAL NOT NULL,
        PRIMARY KEY (storyboard_id, place)
    );
    CREATE INDEX storyboard_shots_by_author ON storyboard_shots (user_id, state)
    """,
    # A new job's turns (`JobRepository._turns`) read its member's and its server's last
    # waiting round: without the first two, each read walked the server's whole queue, so
    # a burst of commands took time growing with the square of its size. When the next step
    # is due (`JobRepository.next_due_at`, its expression written the same): the scheduler
    # asks after every claim, and each answer read every job in flight (3.6 ms at 10,000).
    """
    CREATE INDEX jobs_waiting_by_member_turn ON jobs (guild_id, user_id, queue_turn)
        WHERE state = 'accepted' AND held = 0;
    CREATE INDEX jobs_waiting_by_server_and_turn ON jobs (guild_id, server_turn)
        WHERE state = 'accepted' AND held = 0;
    CREATE INDEX jobs_due_at ON jobs
        ((CASE WHEN leased_until > next_check_at THEN leased_until ELSE next_check_at END))
        WHERE next_check_at IS NOT NULL AND held = 0
    """,
    # What each storyboard's message last showed (a digest of its look): a drawing cut by
    # a stop or refused by Discord is found and made at the next start.
    """
    ALTER TABLE storyboards ADD COLUMN shown TEXT
    """,
]
