"""The database schema, one forward step per entry (tracked with ``PRAGMA user_version``).

Never edit an entry that has shipped: add a new one. Statements are separated by ``;``.
"""

MIGRATIONS: list[str] = [
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
]
